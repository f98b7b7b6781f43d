"""Source file -> FlowIR, by static analysis; the flow module is never imported."""

from sfncompile.parser.flow import parse_flow, parse_source

__all__ = ["parse_flow", "parse_source"]
