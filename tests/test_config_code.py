"""Run inputs that need the flow's code, as Metaflow 2.19 computes them: a Config's `parser=`
(a function of the flow file, or a "module.function" string), a function as its default,
`config_expr` expressions and `**cfg` in decorators and Parameter defaults; and an IncludeFile
that the flow's module writes, read relative to the working directory of `run`.

The same files run under Metaflow (one process in the background) and sfncompile, and every
task's artifacts must be equal.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfncompile.parser import parse_flow
from tests.parity.corpus import compare_runs
from tests.parity.harness import MetaflowJob, MetaflowRun, run_sfncompile, sfncompile_tasks
from tests.parity.metaflow_env import user_env
from tests.parity.normalise import normalise

pytestmark = pytest.mark.slow

CONFIG_FLOW = '''
import os

from metaflow import Config, FlowSpec, Parameter, config_expr, environment, resources, step


def colon_parser(text):
    key, value = text.split(":")
    return {key.strip(): value.strip()}


def settings_default(ctx):
    return {"size": 3, "flow": ctx.flow_name, "env": {"vars": {"MODE": "from-config"}}}


class ConfigCodeFlow(FlowSpec):
    colon = Config("colon", default="colon.txt", parser=colon_parser, required=True)
    kv = Config("kv", default="settings.kv", parser="kvparse.parse_kv")
    inline = Config("inline", default_value="answer: 42", parser=colon_parser)
    settings = Config("settings", default_value=settings_default)
    label = Parameter("label", default=config_expr("kv.region.upper() + '-' + str(settings.size)"))
    size = Parameter("size", default=config_expr("settings").size)

    @environment(vars={"REGION": kv.region, "DOUBLE": config_expr("str(settings.size * 2)")})
    @resources(cpu=config_expr("settings.size - 1"))
    @step
    def start(self):
        self.env = (os.environ.get("REGION"), os.environ.get("DOUBLE"))
        self.values = (self.colon.greeting, self.kv["region"], self.inline.answer)
        self.next(self.end)

    @environment(**settings.env)
    @step
    def end(self):
        self.mode = os.environ.get("MODE")


if __name__ == "__main__":
    ConfigCodeFlow()
'''
KV_PARSER = '''
import os

# The module runs when the flow is built (the parser is named by its dotted name): it says so.
with open(os.environ.get("KVPARSE_MARK", os.devnull), "a") as mark:
    mark.write("kvparse ran\\n")


def parse_kv(text):
    return dict(line.split("=", 1) for line in text.splitlines() if line.strip())
'''
INCLUDE_FLOW = '''
from metaflow import FlowSpec, IncludeFile, step

# Written where `run` is started, by the module's code: Metaflow reads the file after it.
with open("notes.txt", "w") as f:
    f.write("written by the module")


class IncludeHereFlow(FlowSpec):
    notes = IncludeFile("notes", default="notes.txt")
    raw = IncludeFile("raw", default="notes.txt", is_text=False)

    @step
    def start(self):
        self.length = len(self.notes)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    IncludeHereFlow()
'''


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("config-code")
    (d / "config_code.py").write_text(CONFIG_FLOW)
    (d / "kvparse.py").write_text(KV_PARSER)
    (d / "colon.txt").write_text("greeting: hello")
    (d / "settings.kv").write_text("region=eu-west\nzone=b\n")
    flows = d / "flows"
    flows.mkdir()
    (flows / "include_here.py").write_text(INCLUDE_FLOW)
    # Beside the flow, not where the run starts: neither tool may read this one.
    (flows / "notes.txt").write_text("a stale copy beside the flow")
    for tool in ("metaflow", "sfncompile"):
        (d / f"work-{tool}").mkdir()
    return d


@pytest.fixture(scope="module")
def metaflow(files: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetaflowJob]:
    job = MetaflowJob([
        MetaflowRun("config", files / "config_code.py"),
        MetaflowRun("include", files / "flows" / "include_here.py",
                    cwd=files / "work-metaflow"),
    ], tmp_path_factory.mktemp("metaflow"))
    yield job
    job.results()  # never leave the driver running


def _same_as_metaflow(name: str, ours: dict[str, list[dict[str, object]]],
                      job: MetaflowJob) -> None:
    problems = compare_runs(name, ours, job.tasks(name))
    assert not problems, f"{name}: differs from Metaflow 2.19:\n  " + "\n  ".join(problems)


def test_configs_that_need_code_match_metaflow(files: Path, metaflow: MetaflowJob,
                                               tmp_path: Path) -> None:
    ours = sfncompile_tasks(run_sfncompile(files / "config_code.py", tmp_path / "ds"),
                            tmp_path / "ds")
    end = ours["end"][0]
    # The values Metaflow 2.19 gives (checked against its run below).
    assert end["values"] == normalise(("hello", "eu-west", "42"))
    assert end["env"] == normalise(("eu-west", "6")) and end["mode"] == "from-config"
    assert (end["label"], end["size"]) == ("EU-WEST-3", 3)
    assert end["settings"] == normalise({"size": 3, "flow": "ConfigCodeFlow", "env": {
        "vars": {"MODE": "from-config"}}})
    _same_as_metaflow("config", ours, metaflow)
    # What decorators read was fixed when the flow was built.
    flow = parse_flow(files / "config_code.py")
    start = flow.step("start").policies
    assert start.resources.cpu == 2
    assert dict(start.environment) == {"REGION": "eu-west", "DOUBLE": "6"}
    assert dict(flow.step("end").policies.environment) == {"MODE": "from-config"}


def test_a_dotted_parser_needs_only_its_module(files: Path, tmp_path: Path) -> None:
    """`parser="kvparse.parse_kv"`: the build imports kvparse, not the flow's module (whose
    code would write a file here)."""
    flow = tmp_path / "dotted.py"
    flow.write_text("from metaflow import Config, FlowSpec, step\n\n"
                    "open('module-ran', 'w').close()\n\n\n"
                    "class DottedFlow(FlowSpec):\n"
                    f"    kv = Config('kv', default={str(files / 'settings.kv')!r},"
                    " parser='kvparse.parse_kv')\n\n"
                    "    @step\n    def start(self):\n        self.next(self.end)\n\n"
                    "    @step\n    def end(self):\n        pass\n")
    (tmp_path / "kvparse.py").write_text(KV_PARSER)
    mark = tmp_path / "kvparse.mark"
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "graph", "dotted.py"],
                          cwd=tmp_path, capture_output=True, text=True,
                          env=user_env({"KVPARSE_MARK": str(mark)}))
    assert proc.returncode == 0, proc.stderr
    assert mark.read_text() == "kvparse ran\n"
    assert not (tmp_path / "module-ran").exists()


def test_include_file_is_read_after_the_module_ran_in_the_working_directory(
        files: Path, metaflow: MetaflowJob) -> None:
    work = files / "work-sfncompile"
    ours = sfncompile_tasks(run_sfncompile(files / "flows" / "include_here.py", work / "ds",
                                           cwd=work), work / "ds")
    start = ours["start"][0]
    assert start["notes"] == "written by the module"  # not the stale copy beside the flow
    assert start["raw"] == normalise(b"written by the module")
    _same_as_metaflow("include", ours, metaflow)
