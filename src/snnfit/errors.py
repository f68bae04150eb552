"""User-facing errors.

A :class:`UserError` is bad input (a file, a value, a key). The command line prints its
message on one line (``snnfit: error: ...``) and exits with status 2, without a traceback.
"""


class UserError(Exception):
    """Bad input from the user; the message names the file, row or field."""
