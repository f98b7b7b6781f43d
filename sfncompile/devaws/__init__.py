"""`sfncompile dev-aws`: a local stand-in for the AWS services that a deployed flow uses.

moto's server (an optional dependency: `pip install 'sfncompile[dev-aws]'`), patched so that
its Step Functions engine runs executions, Batch jobs run the real runtime as local processes,
EventBridge rules start state machines and RedriveExecution works (`server`, `redrive`;
README.md in this directory lists every patch). The test suite starts the same server.

Beside `local` and `review`, below the CLI, which imports it when `dev-aws` runs. It imports
nothing of sfncompile: moto and boto3 only when the server starts, the stdlib otherwise.
"""
