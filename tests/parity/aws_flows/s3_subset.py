from metaflow import S3, FlowSpec, step


class S3SubsetFlow(FlowSpec):
    """The metaflow.S3 subset: put, get, get_many, list_paths, scoped to the run."""

    @step
    def start(self):
        with S3(run=self) as s3:
            s3.put("a.txt", "alpha")
            s3.put_many([("b.txt", "beta"), ("c.txt", "gamma")])
        self.next(self.end)

    @step
    def end(self):
        with S3(run=self) as s3:
            self.a = s3.get("a.txt").text
            self.many = sorted(obj.text for obj in s3.get_many(["b.txt", "c.txt"]))
            self.keys = sorted(obj.key for obj in s3.list_paths())


if __name__ == "__main__":
    S3SubsetFlow()
