"""The task runtime: runs one step, in a local process or a Batch container
(`python -m sfncompile.runtime`), and the services a task uses (cards, secrets, S3, events).

Inside the container only the stdlib and boto3 are there, and the code package carries this
package with what it imports: `flow`, `client`, `datastore`, `conventions` and
`sfncompile.exception`. It never imports the compiler (`parser`, `ir`, `emit`), `deploy`,
`local`, `review` or the CLI, nor click or jsonschema (pyproject's import contracts).
"""
