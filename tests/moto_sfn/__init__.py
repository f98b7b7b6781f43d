"""End-to-end harness: moto's server, patched to execute our ASL with local Batch jobs.

`sfn_endpoint` (registered in tests/conftest.py's pytest_plugins as "tests.moto_sfn.fixture") is
a session fixture yielding an `SfnEndpoint`; the server is `sfncompile dev-aws`
(sfncompile/devaws, whose README lists every moto gap it bridges).
"""

from __future__ import annotations

from .fixture import ROLE_ARN, Execution, SfnEndpoint, sfn_endpoint

__all__ = ["ROLE_ARN", "Execution", "SfnEndpoint", "sfn_endpoint"]
