"""The ``mesyx`` command line (click).

Contracts (DESIGN.md, Interfaces users touch): ``--home DIR`` or ``MESYX_HOME``; every
command has ``--help``; an error is one line saying what to do and a non-zero exit, with
a traceback only under ``--debug``; ``--json`` output goes to stdout alone, logs to
stderr. Heavy modules are imported inside commands, so ``--help`` starts fast and
touches no database.
"""

from mesyx.cli.app import main

__all__ = ["main"]
