"""@card, @secrets (moto's Secrets Manager), S3 on local and S3 roots, the client inside
steps, `sfncompile card`, Runner and NBRunner: real flow runs, each checking many things."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sfncompile import client
from sfncompile.flow.cards import Artifact, Image, Markdown, Table, VegaChart, render_component
from sfncompile.runtime.card_writer import CardCollector, CardState, render_card
from sfncompile.runtime.s3 import S3, MetaflowS3NotFound, MetaflowS3URLException
from sfncompile.runtime.secrets import SecretsError, normalise_sources, secrets_environment

FLOWS = Path(__file__).parent / "data" / "flows"
SECRET_APP = {"DB_USER": "admin-7f3", "db-password": "hunter2-9c1"}
SECRET_TOKEN = "tok-5be1-not-json"


@pytest.fixture(scope="module")
def secrets_manager(moto_endpoint: str) -> Iterator[Any]:
    import boto3

    sm = boto3.client("secretsmanager", endpoint_url=moto_endpoint)
    made = []
    for name, value in (("sfn-test-app", json.dumps(SECRET_APP)),
                        ("sfn-test-token", SECRET_TOKEN),
                        ("sfn-test-list", "[1, 2]")):
        sm.create_secret(Name=name, SecretString=value)
        made.append(name)
    sm.create_secret(Name="sfn-test-binary", SecretBinary=b"\x00\xffbin")
    made.append("sfn-test-binary")
    yield sm
    for name in made:
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def _root(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "local":
        return str(tmp_path / "store")
    bucket: str = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/runs"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sfncompile", *args], capture_output=True,
                          text=True, env=env)


# ---------------------------------------------------------------------------- whole flows


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_services_in_a_flow(kind: str, tmp_path: Path, request: pytest.FixtureRequest,
                            secrets_manager: Any) -> None:
    """The local root's run goes through Runner, the S3 root's through the CLI."""
    root = _root(kind, tmp_path, request)
    if kind == "local":
        from sfncompile import Runner

        with Runner(FLOWS / "services.py", datastore_root=root, show_output=False,
                    env={"METAFLOW_USER": "tester"}).run(alpha=7) as running:
            assert running.status == "successful", running.stderr
            run = running.run
            output = running.stdout + running.stderr
    else:
        proc = _cli("run", str(FLOWS / "services.py"), "--param", "alpha=7",
                    "--datastore-root", root, env={**os.environ, "METAFLOW_USER": "tester"})
        assert proc.returncode == 0, proc.stderr
        client.set_datastore_root(root)
        client.namespace(None)  # the run is user:tester's, whoever runs the tests
        run = client.Run(proc.stdout.strip().splitlines()[-1])
        output = proc.stdout + proc.stderr
    try:
        data = run["end"].task.data
        both = f"{SECRET_APP['DB_USER']}|{SECRET_APP['db-password']}|{SECRET_TOKEN}"
        assert data.client_digest == hashlib.sha256(both.encode()).hexdigest()
        assert data.secret_leaked_to_end is False
        assert data.s3_text == "alpha=7"
        assert data.s3_blobs == [b"\x00\x01", b'{"k": 1}'] and data.s3_sizes == [2, 8]
        assert data.s3_missing_exists is False
        assert data.s3_paths == [("c.json", True), ("notes", False)]
        assert data.s3_keys == ["c.json", "notes/a.txt", "notes/b.bin"]
        # end is running as it lists the steps: its directory exists already
        assert sorted(data.client_steps) == ["end", "start"] and data.client_alpha == 7
        absolute = root if kind == "s3" else os.path.abspath(root)
        assert data.metadata == f"local@{absolute}"
        assert data.default_namespace == "user:tester" and data.global_namespace is None
        run_place = f"{absolute}/ServicesFlow/{run.id}/.s3/notes/a.txt"
        assert run["start"].task.data.s3_url == (
            run_place if kind == "s3" else Path(run_place).as_uri())
        assert sorted(s.name for s in run.steps()) == ["end", "start"]  # .s3/ is not a step
        with S3(run=run) as s3:  # the run's objects, read from outside it
            assert s3.get("c.json").text == '{"k": 1}'
        assert "no @card" in run["end"].task.stderr
        for value in (*SECRET_APP.values(), SECRET_TOKEN):
            assert value not in output and value not in run["start"].task.stderr
        _check_card_commands(run, root, kind, tmp_path)
        if kind == "local":  # Runner.resume; the cloned start task still has its card
            with Runner(FLOWS / "services.py", datastore_root=root, show_output=False,
                        env={"METAFLOW_USER": "tester"}
                        ).resume(step_to_rerun="end") as resumed:
                # As in Metaflow, S3(run=self) is the new run's: start's objects are not there.
                assert resumed.status == "failed" and resumed.run.id != run.id
                assert f"{resumed.run.id}/.s3/notes/a.txt does not exist" in resumed.stderr
            from sfncompile.flow.cards import get_cards

            (cloned,) = get_cards(resumed.run["start"].task)
            assert "<h1>Services card</h1>" in cloned.html
    finally:
        client.set_datastore_root(None)
        client.default_namespace()


def _check_card_commands(run: Any, root: str, kind: str, tmp_path: Path) -> None:
    """Every card command on the local root; on S3 (slow: each command lists the run on
    moto) the two that read the card there."""
    start = f"{run.pathspec}/start"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    view = _cli("card", "view", start, "--datastore-root", root, env=env)
    assert view.returncode == 0, view.stderr
    page = Path(view.stdout.strip()).read_text(encoding="utf-8")
    if root.startswith("s3://"):  # a copy in a private directory of its own, never shared
        again = _cli("card", "view", start, "--datastore-root", root, env=env).stdout.strip()
        assert Path(again).parent != Path(view.stdout.strip()).parent
        assert Path(again).parent.stat().st_mode & 0o777 == 0o700
    assert page.startswith("<!DOCTYPE html>") and "default-src 'none'" in page
    assert "<h1>Services card</h1>" in page and "<strong>alpha</strong>" in page
    assert "&lt;script&gt;alert(&#x27;card&#x27;)&lt;/script&gt;" in page  # the artifact
    assert "<script" not in page and "&lt;b&gt;not bold&lt;/b&gt;" in page
    assert 'src="data:image/png;base64,iVBOR' in page and "one pixel" in page
    assert "secret_digest" in page and '<tr class="current"><td>start</td>' in page
    for value in (*SECRET_APP.values(), SECRET_TOKEN):
        assert value not in page
    printed = _cli("card", "get", f"{start}/0-0", "--datastore-root", root)
    assert printed.stdout == page
    if kind == "s3":
        return
    out = tmp_path / "card.html"
    proc = _cli("card", "get", start, str(out), "--datastore-root", root)
    assert proc.returncode == 0 and out.read_text(encoding="utf-8") == page, proc.stderr
    listed = _cli("card", "list", start, "--datastore-root", root)
    assert listed.stdout.startswith("default\t-\t") and "/cards/default.html" in listed.stdout
    for args, message in (
        ((f"{run.pathspec}/end",), "has no card"),
        ((f"{run.flow}/no-such-run/start",), "no run"),
        ((run.pathspec,), "expected Flow/run-id/step"),
        ((start, "--id", "other"), "has no card with id='other'"),
    ):
        bad = _cli("card", "get", *args, "--datastore-root", root)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr


def test_missing_secret_fails_the_task_naming_it(tmp_path: Path, secrets_manager: Any) -> None:
    proc = _cli("run", str(FLOWS / "missing_secret.py"), "--datastore-root",
                str(tmp_path / "store"))
    assert proc.returncode == 1
    assert ("@secrets: cannot read secret 'sfn-test-missing': ResourceNotFoundException: it "
            "does not exist") in proc.stderr
    assert "Traceback" not in proc.stderr


def test_nbrunner_runs_the_flow_of_a_notebook_cell(tmp_path: Path) -> None:
    shell_mod = pytest.importorskip("IPython.core.interactiveshell")
    shell = shell_mod.InteractiveShell.instance()
    cell = f"""
from sfncompile import FlowSpec, NBRunner, Parameter, step

class NotebookFlow(FlowSpec):
    x = Parameter("x", default=1, type=int)

    @step
    def start(self):
        self.y = self.x * 10
        self.next(self.end)

    @step
    def end(self):
        pass

nb_run = NBRunner(NotebookFlow, base_dir={str(tmp_path)!r}, show_output=False,
                  datastore_root={str(tmp_path / "store")!r}).nbrun(x=4)
"""
    result = shell.run_cell(cell, store_history=True)
    result.raise_error()
    run = shell.user_ns["nb_run"]
    assert run.successful and run["end"].task.data.y == 40
    assert list(tmp_path.glob("NotebookFlow*.py")) == []  # the cell's flow file is removed


# ---------------------------------------------------------------------------- in-process


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_s3_api(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    root = _root(kind, tmp_path, request)
    with S3(s3root=root) as s3:
        url = s3.put("a/x.txt", "hé")
        assert url.endswith("/a/x.txt")
        assert s3.put("a/x.txt", "other", overwrite=False) == url
        obj = s3.get("a/x.txt")
        assert (obj.key, obj.text, obj.blob, obj.size, obj.exists) == (
            "a/x.txt", "hé", "hé".encode(), 3, True)
        assert obj.url == url and obj.path is not None and os.path.exists(obj.path)
        s3.put_many([("a/y.bin", b"\x01"), ("z", b"")])
        assert s3.info("a/y.bin").size == 1 and not s3.info("nope", return_missing=True).exists
        assert [(o.key, o.exists) for o in s3.list_paths()] == [("a", False), ("z", True)]
        assert [o.key for o in s3.list_paths(["a"])] == ["a/x.txt", "a/y.bin"]
        assert [o.key for o in s3.list_recursive()] == ["a/x.txt", "a/y.bin", "z"]
        assert [o.blob for o in s3.get_many(["z", "a/y.bin"])] == [b"", b"\x01"]
        assert [o.key for o in s3.get_all()] == ["a/x.txt", "a/y.bin", "z"]
        with pytest.raises(MetaflowS3NotFound, match="does not exist"):
            s3.get("missing")
        with pytest.raises(MetaflowS3URLException, match="absolute S3 URLs"):
            s3.get("s3://bucket/key")
        with pytest.raises(MetaflowS3URLException, match="invalid key"):
            s3.put("../outside", "x")
    assert not os.path.exists(obj.path)  # downloads go with the scope
    if kind == "s3":
        with S3() as s3:  # no root: full URLs only
            assert s3.get(f"{root}/z").exists
            with pytest.raises(MetaflowS3URLException, match="not an s3:// URL"):
                s3.get("z")


def test_secret_rules(secrets_manager: Any) -> None:
    assert normalise_sources(["a", "aws-secrets-manager.b", {"id": "c.d", "role": "r"}], None) == [
        {"type": "aws-secrets-manager", "id": "a", "options": {}, "role": None},
        {"type": "aws-secrets-manager", "id": "b", "options": {}, "role": None},
        {"type": "aws-secrets-manager", "id": "c.d", "options": {}, "role": "r"},
    ]
    env = secrets_environment({"sources": ["sfn-test-app", "sfn-test-binary"]}, {})
    assert env == {"DB_USER": SECRET_APP["DB_USER"], "db_password": SECRET_APP["db-password"],
                   "sfn_test_binary": "AP9iaW4="}
    cases: list[tuple[dict[str, Any], dict[str, str], str]] = [
        ({"sources": ["sfn-test-token"]}, {}, "is not JSON"),
        ({"sources": ["sfn-test-list"]}, {}, "not an object"),
        ({"sources": ["sfn-test-app"]}, {"DB_USER": "x"}, "already in the environment"),
        ({"sources": ["sfn-test-app", {"type": "inline", "id": "i",
                                       "options": {"env_vars": {"DB_USER": "y"}}}]}, {},
         "which secret 'sfn-test-app' sets too"),
        ({"sources": [{"type": "inline", "id": "i",
                       "options": {"env_vars": {"METAFLOW_X": "y"}}}]}, {}, "reserved"),
    ]
    for config, environ, message in cases:
        with pytest.raises(SecretsError, match=message) as info:
            secrets_environment(config, environ)
        for value in (*SECRET_APP.values(), SECRET_TOKEN):
            assert value not in str(info.value)
    replaced = secrets_environment({"sources": ["sfn-test-app"], "allow_override": True},
                                   {"DB_USER": "x"})
    assert replaced["DB_USER"] == SECRET_APP["DB_USER"]


def test_lazy_exports_are_listed_and_load() -> None:
    import sfncompile
    from sfncompile.flow.lazy_exports import LAZY_EXPORTS

    assert set(LAZY_EXPORTS) <= set(sfncompile.__all__)
    assert all(getattr(sfncompile, name) is not None for name in LAZY_EXPORTS)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        sfncompile.Nope  # noqa: B018


def test_flow_api_loads_on_first_use_from_its_module() -> None:
    code = ("import importlib, sys, sfncompile\n"
            "from sfncompile.flow.lazy_exports import FLOW_API\n"
            "assert 'sfncompile.flow.flowspec' not in sys.modules\n"
            "assert set(FLOW_API) <= set(sfncompile.__all__) <= set(dir(sfncompile))\n"
            "names = {}\n"
            "exec('from sfncompile import *', names)\n"
            "for name, module in FLOW_API.items():\n"
            "    value = getattr(importlib.import_module(module), name)\n"
            "    assert names[name] is value and sfncompile.__dict__[name] is value, name\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_card_rendering_escapes_and_embeds() -> None:
    collector = CardCollector([{"type": "default"}, {"type": "blank", "id": "extra"}])
    collector.append(Markdown("ignored: two editable cards and none chosen"))
    collector["extra"].append(Markdown(
        "## T\n\n[ok](https://example.com) [js](javascript:alert(1)) `<b>`\n\n- *a*\n- b"))
    collector["extra"].append(Table([[Artifact({"k": "<v>"}), 1.5]], headers=["<h>", "n"]))
    collector["extra"].append(Image(b"not an image"))
    collector["extra"].append(VegaChart({"mark": "</script>"}))
    assert collector.states[0].components == []  # ambiguous append dropped, as Metaflow does
    meta = {"pathspec": "F/1/s/0", "flow": "F", "run": "1", "step": "s", "task": "0",
            "attempt": 0, "started": 1.0, "finished": 2.5}
    page = render_card(collector.states[1], meta, {"steps": {}}, {})
    assert "<h2>T</h2>" in page and '<a href="https://example.com"' in page
    assert "javascript:" not in page.split("[js]")[0] and "href=\"javascript" not in page
    assert "<code>&lt;b&gt;</code>" in page and "<li><em>a</em></li>" in page
    assert "&lt;h&gt;" in page and "{&#x27;k&#x27;: &#x27;&lt;v&gt;&#x27;}" in page
    assert "not a PNG, JPEG, GIF or WebP image" in page and "</script>" not in page
    assert "Task" not in page  # a blank card has only its components
    # `metaflow.cards`, when `metaflow` stands for sfncompile, may be a second copy of the
    # module: its components are still components.
    import importlib.util

    import sfncompile.flow.cards

    spec = importlib.util.spec_from_file_location("cards_copy", sfncompile.flow.cards.__file__)
    assert spec is not None and spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    assert render_component(copy.Markdown("# copy")) == '<div class="md"><h1>copy</h1></div>'
    default = render_card(CardState({"type": "default"}), meta, {"steps": {"s": {
        "kind": "linear", "targets": ["end"]}}}, {"big": list(range(10_000))})
    assert "1.50 s" in default and "..." in default and len(default) < 20_000


def test_services_in_batch_jobs(deployment: Any, s3_env: None) -> None:
    """The same flow deployed: every task a Batch job on the Step Functions emulator, reading
    its secrets from that server's Secrets Manager and writing cards and S3 objects there."""
    sm = deployment.sfn.client("secretsmanager")
    for name, value in (("sfn-test-app", json.dumps(SECRET_APP)),
                        ("sfn-test-token", SECRET_TOKEN)):
        sm.create_secret(Name=name, SecretString=value)
    flow = FLOWS / "services.py"
    deployment.deploy(flow)
    run_id = deployment.trigger(flow, {"alpha": "7"})
    desc = deployment.wait("ServicesFlow", run_id)
    assert desc["status"] == "SUCCEEDED", (desc, deployment.sfn.job_logs()[-4000:])
    client.set_datastore_root(deployment.root)
    client.namespace(None)
    try:
        run = client.Run(f"ServicesFlow/{run_id}")
        data = run["end"].task.data
        both = f"{SECRET_APP['DB_USER']}|{SECRET_APP['db-password']}|{SECRET_TOKEN}"
        assert data.client_digest == hashlib.sha256(both.encode()).hexdigest()
        assert data.s3_text == "alpha=7" and data.client_alpha == 7
        assert data.s3_keys == ["c.json", "notes/a.txt", "notes/b.bin"]
        from sfncompile.flow.cards import get_cards

        (only,) = get_cards(run["start"].task)
        assert only.url.startswith(f"{deployment.root}/ServicesFlow/{run_id}/start/")
        assert "<h1>Services card</h1>" in only.html and "secret_digest" in only.html
        for value in (*SECRET_APP.values(), SECRET_TOKEN):
            assert value not in deployment.sfn.job_logs()
    finally:
        client.set_datastore_root(None)
        client.default_namespace()


def test_default_card_loads_only_small_inherited_artifacts(tmp_path: Path) -> None:
    """A large artifact the step did not read is named in the card, not loaded for it."""
    from types import SimpleNamespace

    from sfncompile.datastore import layout as ds
    from sfncompile.datastore.storage import LocalStorage
    from sfncompile.runtime import services

    storage = LocalStorage(tmp_path)
    big = os.urandom(services.MAX_CARD_LOAD + 1)  # random: the blob is as big as the value
    shas = {"big": ds.save_artifact(storage, "F", big), "small": ds.save_artifact(storage, "F", 5),
            "mine": ds.save_artifact(storage, "F", "set here")}
    loaded: list[str] = []

    class Flow:
        def __init__(self) -> None:
            self.mine = "set here"

        def __getattr__(self, name: str) -> Any:  # what FlowSpec does: load on first read
            loaded.append(name)
            return ds.load_artifact(storage, "F", shas[name], name)

    spec = SimpleNamespace(run="1", step="s", task="0", origin_run=None)
    task = SimpleNamespace(spec=spec, info={"cards": [{"type": "default"}]}, flow_name="F",
                           graph={"parameters": [], "steps": {"s": {"kind": "end"}}},
                           storage=storage, store=SimpleNamespace(attempt=0, prefix="F/1/s/0/0"))
    from sfncompile.flow.current import current

    current.card = None  # the step never set up its cards (as for a @catch stand-in)
    out = services.after_step(task, Flow(), {"artifacts": shas})
    assert out["cards"] == [{"type": "default", "id": None, "file": "cards/default.html"}]
    page = (tmp_path / "F/1/s/0/0/cards/default.html").read_text(encoding="utf-8")
    assert loaded == ["small"]
    assert "&lt;not shown: inherited, 1,048," in page and f"blob {shas['big'][:12]}" in page
    assert "&#x27;set here&#x27;" in page and "<pre>5</pre>" in page
