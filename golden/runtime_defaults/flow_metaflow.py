"""Parameter defaults evaluated when the run starts (by the `start` task, locally and on AWS),
beside literal ones, which stay static; an IncludeFile and a Config."""

import os
from datetime import date

from metaflow import Config, FlowSpec, IncludeFile, JSONType, Parameter, resources, step


def today(ctx):
    return date.today().isoformat()


class RuntimeDefaultsFlow(FlowSpec):
    settings = Config("settings", default="settings.json")
    query = IncludeFile("query", default="query.sql", help="The SQL to run.")
    day = Parameter("day", default=today)
    timeout = Parameter("timeout", default=60 * 60)
    bucket = Parameter("bucket", default=os.environ.get("DATA_BUCKET", "scratch"))
    regions = Parameter("regions", default="eu,us", separator=",")
    shards = Parameter("shards", default="[0, 1, 2]", type=JSONType)
    retries = Parameter("retries", default=3)

    @resources(cpu=settings.cpu, memory=settings.memory)
    @step
    def start(self):
        self.next(self.shard, foreach="shards")

    @step
    def shard(self):
        self.rows = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.rows for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
