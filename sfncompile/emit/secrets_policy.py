"""What a flow's `@secrets` needs in its Batch job role: read those secrets, assume the
roles named for them. Without these statements a deployed task could not read them."""

from __future__ import annotations

from typing import Any

from sfncompile.ir import FlowIR

AWS_TYPE = "aws-secrets-manager"


def secret_resources(flow: FlowIR) -> tuple[list[str], list[str]]:
    """(secret ARN patterns, role ARNs), sorted: a secret given by name matches any of the
    six characters Secrets Manager appends to its ARN, in the stack's region unless the
    source names another."""
    secrets: set[str] = set()
    roles: set[str] = set()
    for step in flow.steps:
        policy = step.policies.secrets
        for source in policy.sources if policy else ():
            if source.type != AWS_TYPE:
                continue
            if source.role:
                roles.add(source.role)
            if source.id.startswith("arn:"):
                secrets.add(source.id)
                continue
            region = dict(source.options).get("region") or "${AWS::Region}"
            secrets.add(f"arn:${{AWS::Partition}}:secretsmanager:{region}:${{AWS::AccountId}}:"
                        f"secret:{source.id}-??????")
    return sorted(secrets), sorted(roles)


def secrets_statements(flow: FlowIR) -> list[dict[str, Any]]:
    secrets, roles = secret_resources(flow)
    out: list[dict[str, Any]] = []
    if secrets:
        out.append({"Sid": "ReadSecrets", "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue"],
                    "Resource": [{"Fn::Sub": s} if "${" in s else s for s in secrets]})
    if roles:
        out.append({"Sid": "SecretsRoles", "Effect": "Allow", "Action": ["sts:AssumeRole"],
                    "Resource": roles})
    return out
