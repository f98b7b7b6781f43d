"""@card, @secrets, S3 and the client used inside steps (tests/test_services.py)."""

import base64
import hashlib
import os

from sfncompile import (
    S3,
    FlowSpec,
    Parameter,
    Run,
    Task,
    card,
    current,
    get_metadata,
    get_namespace,
    namespace,
    secrets,
    step,
)
from sfncompile.flow.cards import Image, Markdown, Table

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9"
                       "awAAAABJRU5ErkJggg==")


class ServicesFlow(FlowSpec):
    alpha = Parameter("alpha", default=1, type=int)

    @card
    @secrets(sources=["sfn-test-app", {"id": "sfn-test-token",
                                       "options": {"json": False, "env_var_name": "API_TOKEN"}}])
    @step
    def start(self):
        # Only a digest of the secrets is kept: their values are never stored or printed.
        both = os.environ["DB_USER"] + "|" + os.environ["db_password"] + "|" + os.environ["API_TOKEN"]
        self.secret_digest = hashlib.sha256(both.encode()).hexdigest()
        self.hostile = "<script>alert('card')</script>"
        current.card.append(Markdown(f"# Services card\n\n**alpha** is `{self.alpha}`"))
        current.card.append(Table([["alpha", self.alpha], ["html", "<b>not bold</b>"]],
                                  headers=["name", "value"]))
        current.card.append(Image(PNG, label="one pixel"))
        with S3(run=self) as s3:
            self.s3_url = s3.put("notes/a.txt", f"alpha={self.alpha}")
            s3.put_many([("notes/b.bin", b"\x00\x01"), ("c.json", '{"k": 1}')])
        self.next(self.end)

    @step
    def end(self):
        with S3(run=self) as s3:
            self.s3_text = s3.get("notes/a.txt").text
            objs = s3.get_many(["notes/b.bin", "c.json"])
            self.s3_blobs = [o.blob for o in objs]
            self.s3_sizes = [o.size for o in objs]
            self.s3_missing_exists = s3.get("nope", return_missing=True).exists
            self.s3_paths = sorted((o.key, o.exists) for o in s3.list_paths())
            self.s3_keys = sorted(o.key for o in s3.list_recursive())
        run = Run(f"{current.flow_name}/{current.run_id}")
        self.client_steps = [s.name for s in run.steps()]
        self.client_digest = run["start"].task.data.secret_digest
        self.client_alpha = Task(f"{current.flow_name}/{current.run_id}/start/0-0").data.alpha
        self.metadata = get_metadata()
        self.default_namespace = get_namespace()
        namespace(None)
        self.global_namespace = get_namespace()
        self.secret_leaked_to_end = "DB_USER" in os.environ
        current.card.append(Markdown("dropped: this step has no @card"))


if __name__ == "__main__":
    ServicesFlow()
