"""Sub-commands of the ``snnfit`` command line, one module each (see ``snnfit.cli``)."""
