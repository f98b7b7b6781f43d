"""The corpus of broken flows: each file states the errors it must produce.

A case is one file in tests/data/broken/; its `# expect: LINE:COL: MESSAGE` header lines list
the errors that `sfncompile build` must print (as `path:LINE:COL: MESSAGE...`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CASES = sorted((Path(__file__).parent / "data" / "broken").glob("*.py"))


def expected_errors(case: Path) -> list[str]:
    return [line[len("# expect: "):] for line in case.read_text().splitlines()
            if line.startswith("# expect: ")]


def test_corpus_is_broad() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_broken_flow_is_reported(case: Path) -> None:
    rel = case.relative_to(Path.cwd()) if case.is_relative_to(Path.cwd()) else case
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "build", str(rel)],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    for expected in expected_errors(case):
        assert any(line.startswith(f"{rel}:{expected}") for line in lines), (
            f"expected `{rel}:{expected}` in:\n{proc.stderr}"
        )
