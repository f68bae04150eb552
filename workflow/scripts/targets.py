"""Rule targets_<entry>: every target file of one config entry in this one process
(snnfit.commands.make_targets.make_targets); each written atomically. Bad input: one line in
the log, exit status 2."""

import sys

from snnfit.commands.make_targets import make_targets
from snnfit.errors import UserError

sys.stderr = open(snakemake.log[0], "w")
try:
    make_targets({"targets": snakemake.params.plan}, f"rule {snakemake.rule}")
except UserError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
