"""Source file -> FlowIR, by static analysis; the flow module is never imported.

The compiler's front: imports `ir`, `errors` and `conventions`; never the runtime, the
client, AWS or the CLI.
"""

from sfncompile.parser.flow_parser import parse_flow, parse_source

__all__ = ["parse_flow", "parse_source"]
