"""Deployment to AWS with boto3: package, job definition, state machine, schedule."""
