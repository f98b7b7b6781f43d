"""The command line: `sfncompile` (app.py gathers a module per command group) and
`python flow.py ...` (flow_entry.py).

The top of the house: it may import every other package. Each command imports what it needs
when it runs, so that `build` never loads boto3 and `--help` stays fast.
"""

from sfncompile.cli.app import main

__all__ = ["main"]
