"""IncludeFile: the file is stored once in the run's datastore (a blob named by its sha256,
checked as every artifact is) and the run's input carries only a reference to it; the start
task reads it back, so the flow sees the content as before (text or bytes).

- a 100 MB file is streamed to the store: the process that stores it never holds it;
- a local run (`python flow.py run --data PATH`): the values, the run's record, `show` and
  the card;
- on moto's Step Functions: a 1 MB file (over the 256 KiB input limit) given to
  `trigger NAME`, never in the execution's input; the default file stored by `deploy`, read
  by a run not given the parameter.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sfncompile import client
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import LocalStorage
from tests.deployment import Deployment
from tests.flows import end_data

pytestmark = pytest.mark.slow

FLOW = textwrap.dedent('''
    from sfncompile import FlowSpec, IncludeFile, card, step


    class IncludeFlow(FlowSpec):
        data = IncludeFile("data", is_text=False, help="a binary file")
        notes = IncludeFile("notes", default="notes.txt", encoding="latin-1")

        @card
        @step
        def start(self):
            self.data_type = type(self.data).__name__
            self.notes_type = type(self.notes).__name__
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        IncludeFlow()
''')
NOTES = "caf\xe9 notes\n" * 3


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _flow_dir(base: Path) -> Path:
    (base / "include_flow.py").write_text(FLOW)
    (base / "notes.txt").write_bytes(NOTES.encode("latin-1"))
    return base


# ---------------------------------------------------------------------------- 100 MB

STORE = """
import json, sys, time
from sfncompile.datastore.storage import LocalStorage
from sfncompile.runtime.run_inputs import store_include_files
spec = [{"name": "data", "attr": "data", "kind": "include_file", "is_text": False,
         "default": None, "required": True, "type": "str"}]
began = time.monotonic()
out = store_include_files(spec, {"data": sys.argv[1]}, None, lambda: LocalStorage(sys.argv[2]),
                          "Big")
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so it would count the test's own
# process (the parent that forked this one) as this one's peak.
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status")
                if line.startswith("VmHWM:"))
print(json.dumps({"ref": out["data"], "seconds": time.monotonic() - began,
                  "peak_mib": peak_kib / 1024}))
"""


BIG_FLOW = textwrap.dedent('''
    import hashlib

    from sfncompile import FlowSpec, IncludeFile, step


    class Big(FlowSpec):
        data = IncludeFile("data", is_text=False)

        @step
        def start(self):
            self.size, self.sha = len(self.data), hashlib.sha256(self.data).hexdigest()
            self.next(self.end)

        @step
        def end(self):
            pass
''')


def test_a_100_mb_file_is_streamed_to_the_store(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with big.open("wb") as f:
        for _ in range(25):  # incompressible, 4 MiB at a time: the worst case to store
            chunk = os.urandom(4_000_000)
            digest.update(chunk)
            f.write(chunk)
    root = tmp_path / "store"
    proc = subprocess.run([sys.executable, "-c", STORE, str(big), str(root)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(
                              Path(__file__).resolve().parent.parent)})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["ref"] == {"type": "include", "sha256": digest.hexdigest(),
                             "size": 100_000_000, "name": "big.bin"}
    print(f"stored 100 MB in {result['seconds']:.2f} s, peak RSS {result['peak_mib']:.0f} MiB")
    assert result["peak_mib"] < 90  # well under the file: it was never held whole
    # The blob is checked as every artifact blob (`sfncompile verify` finds it sound).
    assert ds.check_blob(LocalStorage(root), "Big", digest.hexdigest()) is None
    # And a run reads all of it: the start task's artifact is the file's content.
    (tmp_path / "big_flow.py").write_text(BIG_FLOW)
    run = subprocess.run([sys.executable, "-m", "sfncompile", "run", "big_flow.py", "--data",
                          str(big), "--datastore-root", str(root), "--quiet"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    client.set_datastore_root(str(root))
    try:
        start = client.Run(run.stdout.strip().splitlines()[-1])["start"].task
        assert (start.data.size, start.data.sha) == (100_000_000, digest.hexdigest())
    finally:
        client.set_datastore_root(None)


# ---------------------------------------------------------------------------- a local run


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = _flow_dir(tmp_path_factory.mktemp("include"))
    data = os.urandom(300_000)  # over Step Functions' 256 KiB input
    (base / "data.bin").write_bytes(data)
    root = base / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFNCOMPILE_", "AWS_"))}
    proc = subprocess.run([sys.executable, "include_flow.py", "--datastore-root", str(root),
                           "run", "--data", "data.bin"],
                          capture_output=True, text=True, cwd=base, env=env)
    assert proc.returncode == 0, proc.stderr
    pathspec = proc.stdout.split()[-1]
    show = subprocess.run([sys.executable, "-m", "sfncompile", "show", pathspec,
                           "--datastore-root", str(root)], capture_output=True, text=True,
                          env=env)
    assert show.returncode == 0, show.stderr
    flow, run = pathspec.split("/")
    return {"data": data, "root": str(root), "pathspec": pathspec, "show": show.stdout,
            "record": ds.read_run_meta(LocalStorage(root), flow, run)}


def test_the_flow_reads_the_content(local_run: dict[str, Any]) -> None:
    end = end_data(local_run["root"], local_run["pathspec"])
    assert end["data"] == local_run["data"]
    assert end["notes"] == NOTES
    assert (end["data_type"], end["notes_type"]) == ("bytes", "str")


def test_the_run_is_given_a_reference_not_the_content(local_run: dict[str, Any]) -> None:
    params = local_run["record"]["params"]
    assert params["data"] == {"type": "include", "sha256": _sha(local_run["data"]),
                              "size": 300_000, "name": "data.bin"}
    assert params["notes"]["sha256"] == _sha(NOTES.encode("latin-1"))
    assert len(json.dumps(local_run["record"])) < 10_000
    # stored once, under its sha256, as every artifact blob
    flow = local_run["pathspec"].split("/")[0]
    assert ds.load_file(LocalStorage(local_run["root"]), flow,
                        params["data"]["sha256"]) == local_run["data"]


def test_show_and_the_card_name_the_file_not_its_content(local_run: dict[str, Any]) -> None:
    ref = local_run["record"]["params"]["data"]
    line = f"IncludeFile data: 300.0 KB, sha256 {ref['sha256'][:12]}"
    assert line in local_run["show"]
    assert "parameters: {}" in local_run["show"]
    assert "caf" not in local_run["show"]
    cards = list(Path(local_run["root"]).rglob("cards/*.html"))
    assert len(cards) == 1
    html = cards[0].read_text()
    assert line in html and "IncludeFile notes: 33 bytes" in html
    assert "caf" not in html


# ---------------------------------------------------------------------------- Step Functions


def test_a_1_mb_file_given_to_trigger_name_on_step_functions(
        deployment: Deployment, s3_env: None, tmp_path: Path) -> None:
    """`trigger NAME --param data=PATH` (the deployed code package says `data` is a file);
    `trigger FLOW.py` is run in tests/test_flow_structure.py."""
    base = _flow_dir(tmp_path)
    # The default file is not in the code package: deploy stores it in the datastore.
    (base / ".sfnignore").write_text("notes.txt\n")
    big = os.urandom(1_000_000)
    (base / "big.bin").write_bytes(big)
    deployment.deploy(base / "include_flow.py")
    proc = deployment.cli("trigger", "IncludeFlow", f"--param=data={base / 'big.bin'}")
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.strip()
    desc = deployment.wait("IncludeFlow", run_id)
    assert desc["status"] == "SUCCEEDED", (desc, deployment.sfn.job_logs()[-4000:])
    # what Step Functions recorded as the input: the reference alone
    assert json.loads(desc["input"]) == {"data": {
        "type": "include", "sha256": _sha(big), "size": 1_000_000, "name": "big.bin"}}
    end = end_data(deployment.root, f"IncludeFlow/{run_id}")
    assert end["data"] == big and end["notes"] == NOTES
