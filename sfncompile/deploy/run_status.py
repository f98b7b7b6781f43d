"""`status NAME RUN` with a datastore: what the execution recorded about itself (and the run end
recorder about its end, emit/run_end.py), beside what Step Functions says."""

from __future__ import annotations

from sfncompile.client.run_record import EXECUTION_STATUS
from sfncompile.client.run_summary import run_summary


def recorded_run(root: str, flow: str, run_id: str, execution_status: str) -> list[str]:
    from sfncompile.client import Run
    from sfncompile.datastore.storage import DatastoreError, open_storage
    from sfncompile.exception import MetaflowNotFound

    try:
        run = Run(f"{flow}/{run_id}", open_storage(root))
        if not run._meta:
            return [f"no run record under {root}/{flow}/{run_id}"]
        lines = [line for line in run_summary(run) if not line.startswith("note:")]
    except MetaflowNotFound:
        return [f"no run record under {root}/{flow}/{run_id}"]
    except DatastoreError as exc:
        return [f"cannot read the run record: {exc}"]
    said = EXECUTION_STATUS.get(execution_status, execution_status.lower())
    if run.status != said:
        lines.append(f"recorded status: {run.status} (Step Functions: {said}; the run end "
                     "recorder has not written the end yet, or was not deployed)")
    return lines
