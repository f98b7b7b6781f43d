"""What `current.trigger` and `Run.trigger` give for a run that an event started: Metaflow's
`Trigger` (`.event`, `.events`, `.run`, `.runs`, `[name]`) and `MetaflowEvent` fields.

They live in client.core with the Run that `Trigger.run` returns; this module keeps the names
where the runtime (runtime/events.py, runtime/publish.py) imports them.
"""

from sfncompile.client.core import Event, Trigger, trigger_from_record

__all__ = ["Event", "Trigger", "trigger_from_record"]
