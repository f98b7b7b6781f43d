"""boto3 clients for one command, with a record of every AWS call they make.

The record lets `deploy` prove that a second deploy writes nothing, and lets tests count calls.
boto3 honours AWS_ENDPOINT_URL (and the per-service variants) by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3

READ_PREFIXES = ("Describe", "List", "Get", "Head")


@dataclass
class AwsClients:
    region: str | None = None
    calls: list[str] = field(default_factory=list)
    _session: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            if self._session is None:
                self._session = boto3.session.Session(region_name=self.region)
            client = self._session.client(service)
            client.meta.events.register("before-call.*.*", self._record)
            self._clients[service] = client
        return self._clients[service]

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(f"{model.service_model.service_name}:{model.name}")

    @property
    def writes(self) -> list[str]:
        return [c for c in self.calls if not c.split(":", 1)[1].startswith(READ_PREFIXES)]

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def batch(self) -> Any:
        return self.client("batch")

    @property
    def sfn(self) -> Any:
        return self.client("stepfunctions")

    @property
    def events(self) -> Any:
        return self.client("events")

    @property
    def scheduler(self) -> Any:
        return self.client("scheduler")


def is_not_found(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("404", "NoSuchKey", "NotFound", "ResourceNotFoundException",
                    "StateMachineDoesNotExist", "ExecutionDoesNotExist")


def find_state_machine(clients: AwsClients, name: str) -> str | None:
    """The ARN of the state machine with this name, or None."""
    paginator = clients.sfn.get_paginator("list_state_machines")
    for page in paginator.paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                arn: str = machine["stateMachineArn"]
                return arn
    return None
