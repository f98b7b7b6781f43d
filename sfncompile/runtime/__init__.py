"""The task runtime: runs one step in a local process or a Batch container.

Imports nothing but the stdlib, boto3 and this package (see DESIGN.md, runtime contract).
"""
