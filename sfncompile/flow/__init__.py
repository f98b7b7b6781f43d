"""What a flow file imports: FlowSpec, step, Parameter, IncludeFile, Config, current, the
decorators, card components, user step decorators, the helpers used in steps (parallel_map,
profile, Metaflow's settings), the `metaflow` alias, and placeholders for the names of
Metaflow that sfncompile does not provide.

Every flow and every task imports this, so it stays light: the stdlib only, plus
`sfncompile.exception`. It imports no click, boto3 or jsonschema, and nothing of the compiler,
the runtime or AWS; `sfncompile/__init__.py` re-exports it (each name on first use). Two
imports go up, each at a call and named in pyproject's import contracts: `python flow.py ...`
hands the command line to `cli.flow_entry`, and `cards.get_cards` reads stored cards through
`client.card_reader`.
"""
