"""The datastore: runs, tasks and content-addressed artifact blobs, the same layout on a
local directory and on S3 (storage.py: the two backends; layout.py: keys, records, markers,
blobs; integrity.py: `sfncompile verify`).

Written by the runtime and the local runner, read by the client. Imports only the stdlib,
boto3 (for S3, when used) and `conventions`.
"""
