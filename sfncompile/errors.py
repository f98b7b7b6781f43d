"""Errors that point at the user's source: `path:line:col: message`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class FlowError:
    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class FlowErrors(Exception):
    """One or more problems in a flow file; the CLI prints them all and exits 2."""

    def __init__(self, errors: list[FlowError]) -> None:
        self.errors = sorted(set(errors))
        super().__init__("\n".join(str(e) for e in self.errors))


class UsageError(Exception):
    """A problem with what the user asked for (not with the flow itself); exit code 2."""
