"""Local runs: the process runner (runner.py) with its fork server, resume, hybrid runs
whose @batch steps go to AWS Batch, and the programmatic `Runner` API (python_api.py).

Above the runtime, which it starts in processes, and above `deploy`, which hybrid runs use
for their Batch jobs. Imported by the CLI only.
"""
