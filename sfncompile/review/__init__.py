"""Reviewing state machines: a semantic diff of two ASL definitions, golden checks, scaffolding.

`facts` says what a reviewer cares about per step, `asl_facts` reads it back from ASL,
`semantic` compares two machines, `markdown` renders a pull-request comment, `golden` checks
flows against their golden files (for `build --check`, the pytest plugin and pre-commit).

Imports the compiler (`parser`, `ir`, `emit`) and `deploy.config` (the settings
`sfncompile init` writes); never AWS clients, the runtime or the CLI.
"""
