"""Run-level files that a deployment's state machines write straight to S3 and the client
reads (datastore/layout.py has the whole layout)."""

from __future__ import annotations

# `<Flow>/<run>/_run_end.json`: how a Step Functions execution ended, as its status change
# event says. Only the run end recorder (emit/run_end.py) writes it; the execution's own
# `_run.json` is never touched by it.
RUN_END_RECORD = "_run_end.json"
