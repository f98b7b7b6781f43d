"""Flows and their golden ASL files: where a golden lives, and whether it still matches.

Shared by `build --check`, `sfncompile check-goldens` (the pre-commit hook) and the pytest
plugin, so all three explain a drift the same way: the semantic summary, then the JSON diff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sfncompile.emit.render import render_json
from sfncompile.errors import UsageError
from sfncompile.review.asl_facts import NotASL, machine_facts
from sfncompile.review.semantic import compare, summary_text, text_diff

# The golden of `path/to/flow.py` is `path/to/flow.asl.json`; a pattern may move it elsewhere:
# {dir} is the flow's directory, {stem} its file name without `.py`, {name} its file name.
DEFAULT_PATTERN = "{dir}/{stem}.asl.json"
UPDATE_HINT = "if the change is intended, rewrite the golden and review its diff"


def golden_path(flow: Path, pattern: str = DEFAULT_PATTERN) -> Path:
    try:
        return Path(pattern.format(dir=flow.parent.as_posix(), stem=flow.stem, name=flow.name))
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(f"golden pattern {pattern!r}: {exc} (use {{dir}}, {{stem}}, {{name}})"
                         ) from None


def explain_drift(expected: str, built: str, golden_label: str,
                  built_label: str = "(built)") -> str:
    """What changed from the golden to the built output: the semantic summary when both are
    ASL, then the unified diff of the text."""
    summary = ""
    try:
        old_json, new_json = json.loads(expected), json.loads(built)
        diff = compare(machine_facts(old_json), machine_facts(new_json), old_json, new_json,
                       golden_label, built_label)
        summary = summary_text(diff) + "\n"
    except (json.JSONDecodeError, NotASL):
        pass  # not ASL (a CloudFormation template, a broken golden): the text diff says it all
    return summary + text_diff(expected, built, golden_label, built_label)


@dataclass
class GoldenCheck:
    flow: Path
    golden: Path
    built: str
    expected: str | None  # None: no golden yet

    @property
    def up_to_date(self) -> bool:
        return self.expected == self.built

    def explain(self) -> str:
        if self.expected is None:
            return f"{self.golden}: no golden file for {self.flow}\n"
        return explain_drift(self.expected, self.built, str(self.golden), str(self.flow))

    def update(self) -> bool:
        """Rewrite the golden if it differs; True when it was written."""
        if self.up_to_date:
            return False
        self.golden.parent.mkdir(parents=True, exist_ok=True)
        self.golden.write_bytes(self.built.encode())  # byte for byte, as it is compared
        return True


def check_flow(flow: Path, golden: Path | None = None, flow_name: str | None = None,
               pattern: str = DEFAULT_PATTERN) -> GoldenCheck:
    """Build `flow` (statically, in-process) and read its golden. Raises FlowErrors or
    UsageError when the flow does not build."""
    from sfncompile.emit import compile_asl
    from sfncompile.parser import parse_flow

    golden = golden if golden is not None else golden_path(flow, pattern)
    # As `build` does: the schema check is the tests' and `sfncompile validate`'s job.
    built = render_json(compile_asl(parse_flow(flow, flow_name), check_schema=False))
    try:
        expected: str | None = golden.read_bytes().decode()  # byte for byte: no newline translation
    except FileNotFoundError:
        expected = None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{golden}: cannot read it: {exc}") from None
    return GoldenCheck(flow, golden, built, expected)
