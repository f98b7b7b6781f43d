"""Deployment to AWS with boto3: the code package, job definitions, the state machine, its
schedule and trigger rules; starting, inspecting, redriving and deleting runs.

Uses the compiler (`parser`, `ir`, `emit`) for what it deploys, `client` and the datastore
to read runs back, and `runtime` for the parameters' and inputs' rules. Never imports
`local`, `review` or the CLI.
"""
