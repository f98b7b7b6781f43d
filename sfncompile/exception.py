"""Exceptions with Metaflow's class names, so `from metaflow.exception import ...` works.

Flows catch these by name (`except MetaflowNotFound:`), and @catch stores a failure as a
`MetaflowExceptionWrapper` (`.exception`, `.type`, `.stacktrace`) as Metaflow does. Only the
stdlib here: every task imports this module.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

# Exit codes of Metaflow's worker processes, kept for flows that read them.
METAFLOW_EXIT_DISALLOW_RETRY = 202
METAFLOW_EXIT_ALLOW_RETRY = 203


def _format_exc() -> str:
    import traceback  # with textwrap: only when an exception is wrapped, not at `import sfncompile`

    return traceback.format_exc()


class MetaflowExceptionWrapper(Exception):
    """A failure as @catch records it: the message, the class's dotted name and the trace.

    Picklable without the original exception's class, so the client can read it anywhere.
    """

    exception: str | None
    type: str | None
    stacktrace: str | None

    def __init__(self, exc: BaseException | None = None) -> None:
        # Exception.__init__ is not called, as in Metaflow: `args` stay the constructor's
        # ((None,) once unpickled).
        if exc is not None:
            self.exception = str(exc)
            self.type = f"{exc.__class__.__module__}.{exc.__class__.__name__}"
            # The trace of the exception being handled, as Metaflow's traceback.format_exc().
            self.stacktrace = _format_exc() if sys.exc_info()[0] is not None else None

    def __reduce__(self) -> Any:
        return type(self), (None,), self.__dict__

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        self.__dict__ = dict(state or {})

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        if getattr(self, "stacktrace", None):
            return str(self.stacktrace)
        return f"[no stacktrace]\n{getattr(self, 'type', None)}: {getattr(self, 'exception', None)}"


class MetaflowException(Exception):
    headline = "Flow failed"

    def __init__(self, msg: str = "", lineno: int | None = None,
                 source_file: str | None = None) -> None:
        self.message = msg
        self.line_no = lineno
        self.source_file = source_file
        super().__init__()

    def __str__(self) -> str:
        prefix = ""
        if self.source_file:
            prefix = f"{self.source_file}:"
        if self.line_no:
            prefix = f"line {self.line_no}:"
        return f"{prefix}: {self.message}" if prefix else str(self.message)


class FailureHandledByCatch(MetaflowException):
    """What @catch records when the task's process died (a kill, a segfault, out of memory)
    where its code could not catch anything: Metaflow's class and message. Its dotted name,
    as a wrapper's `type` gives it, is Metaflow's (FAILURE_HANDLED_BY_CATCH)."""

    headline = "Task execution failed but @catch handled it"

    def __init__(self, retry_count: int) -> None:
        super().__init__(f"Task execution kept failing over {retry_count} attempts. Your code "
                         "did not raise an exception. Something in the execution environment "
                         "caused the failure.")


class TimeoutException(MetaflowException):
    """A step that ran past its @timeout (Metaflow's class; TIMEOUT_EXCEPTION its name)."""

    headline = "@timeout"


# Where Metaflow defines these two: the `type` of a @catch variable that holds one.
FAILURE_HANDLED_BY_CATCH = "metaflow.plugins.catch_decorator.FailureHandledByCatch"
TIMEOUT_EXCEPTION = "metaflow.plugins.timeout_decorator.TimeoutException"


class ParameterFieldFailed(MetaflowException):
    headline = "Parameter field failed"

    def __init__(self, name: str, field: str) -> None:
        super().__init__(f"When evaluating the field *{field}* for the Parameter *{name}*, the "
                         f"following exception occurred:\n\n{_format_exc()}")


class ParameterFieldTypeMismatch(MetaflowException):
    headline = "Parameter field with a mismatching type"


class ExternalCommandFailed(MetaflowException):
    headline = "External command failed"


class MetaflowNotFound(MetaflowException):
    headline = "Object not found"


class MetaflowNamespaceMismatch(MetaflowException):
    headline = "Object not in the current namespace"

    def __init__(self, namespace: str | None) -> None:
        super().__init__(f"Object not in namespace '{namespace}'")


class MetaflowInvalidPathspec(MetaflowException):
    headline = "Invalid pathspec"


class MetaflowInternalError(MetaflowException):
    headline = "Internal error"


class MetaflowTaggingError(MetaflowException):
    headline = "Tagging error"


class MetaflowUnknownUser(MetaflowException):
    headline = "Unknown user"

    def __init__(self) -> None:
        super().__init__("Metaflow could not determine your user name based on environment "
                         "variables ($USERNAME etc.)")


class InvalidDecoratorAttribute(MetaflowException):
    headline = "Unknown decorator attribute"

    def __init__(self, deconame: str, attr: str, defaults: Iterable[str]) -> None:
        super().__init__(f"Decorator '{deconame}' does not support the attribute '{attr}'. "
                         f"These attributes are supported: {', '.join(defaults)}.")


class CommandException(MetaflowException):
    headline = "Invalid command"


class MetaflowDataMissing(MetaflowException):
    headline = "Data missing"


class UnhandledInMergeArtifactsException(MetaflowException):
    headline = "Unhandled artifacts in merge"

    def __init__(self, msg: str, unhandled: list[str]) -> None:
        super().__init__(msg)
        self.artifact_names = unhandled


class MissingInMergeArtifactsException(MetaflowException):
    headline = "Missing artifacts in merge"

    def __init__(self, msg: str, unhandled: list[str]) -> None:
        super().__init__(msg)
        self.artifact_names = unhandled


# `metaflow.plugins.cards.exception` names these (and `metaflow.plugins.catch_decorator`
# FailureHandledByCatch, above).


class CardNotPresentException(MetaflowException):
    headline = "Card not found in datastore"

    def __init__(self, pathspec: str, card_type: str | None = None,
                 card_hash: str | None = None, card_id: str | None = None) -> None:
        which = (f"with hash '{card_hash}' " if card_hash is not None
                 else f"with type '{card_type}' " if card_type is not None
                 else f"with id '{card_id}' " if card_id is not None else "")
        super().__init__(f"Card {which}not found for pathspec {pathspec}")


class CardClassFoundException(MetaflowException):
    headline = "MetaflowCard not found"

    def __init__(self, card_name: str) -> None:
        super().__init__(f"No card type named {card_name}: check the `type` of @card")
