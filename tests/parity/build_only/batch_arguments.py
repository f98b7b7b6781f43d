from metaflow import FlowSpec, batch, resources, step


class BatchArgumentsFlow(FlowSpec):
    """Every @batch argument Metaflow has (a run under Metaflow needs AWS Batch)."""

    @batch(cpu=2, memory=4096, gpu=0, image="python:3.11", queue="jobs", iam_role="role",
           execution_role="exec", shared_memory=64, max_swap=1024, swappiness=60,
           use_tmpfs=True, tmpfs_tempdir=True, tmpfs_size=1024, tmpfs_path="/metaflow_temp",
           inferentia=0, trainium=None, efa=0, ephemeral_storage=50, log_driver=None,
           log_options=None, host_volumes=None, efs_volumes=None, aws_batch_tags=None)
    @step
    def start(self):
        self.next(self.end)

    @resources(cpu=1, memory=1024, disk=2048)
    @batch
    @step
    def end(self):
        pass


if __name__ == "__main__":
    BatchArgumentsFlow()
