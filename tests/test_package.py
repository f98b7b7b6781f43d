"""The deterministic code package: contents, ignore rules, determinism, safe extraction."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from sfncompile.deploy.package import PackageError, build_package, verify_and_extract

GRAPH = {"_sfncompile/graph.json": b'{"steps": {}}\n'}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _names(tar_path: Path) -> list[str]:
    with tarfile.open(tar_path, "r:gz") as tar:
        return tar.getnames()


def _flow_names(tar_path: Path) -> set[str]:
    return {n for n in _names(tar_path) if not n.startswith(("sfncompile/", "_sfncompile/"))}


@pytest.fixture
def flow_dir(tmp_path: Path) -> Path:
    root = _tree(
        tmp_path / "flow",
        {
            "flow.py": "from sfncompile import FlowSpec\n",
            "lib/util.py": "X = 1\n",
            "lib/__pycache__/util.cpython-311.pyc": "junk",
            "lib/old.pyc": "junk",
            ".git/config": "[core]\n",
            ".sfncompile/HelloFlow/r1/x": "",
            "run.sh": "#!/bin/sh\n",
        },
    )
    (root / "run.sh").chmod(0o755)
    return root


def test_contents_extra_and_runtime(flow_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pkg.tar.gz"
    build_package(flow_dir, out, extra=GRAPH)
    names = _names(out)
    assert names == sorted(names)
    assert _flow_names(out) == {"flow.py", "lib/util.py", "run.sh"}
    assert "_sfncompile/graph.json" in names
    for needed in ["sfncompile/__init__.py", "sfncompile/flow/flowspec.py", "sfncompile/runtime/"]:
        assert any(n.startswith(needed) for n in names), needed
    assert "sfncompile/datastore/storage.py" in names
    # What flows use inside a task: the client (also for S3(run=...)) and card components.
    assert {"sfncompile/client/__init__.py", "sfncompile/client/core.py",
            "sfncompile/flow/cards.py"} <= set(names)
    # Every package a packaged module lives in comes with its __init__.
    packages = {n.rsplit("/", 1)[0] for n in names if n.startswith("sfncompile/")}
    assert {f"{p}/__init__.py" for p in packages} <= set(names)
    # Deploying is not the container's business.
    assert not [n for n in names if n.startswith(("sfncompile/deploy/", "sfncompile/cli/"))]
    # Nothing from the compiler side (pydantic, click) goes into a container.
    assert not any(
        n.startswith(("sfncompile/ir.py", "sfncompile/cli.py", "sfncompile/parser/"))
        for n in names
    )
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)

    build_package(flow_dir, out, extra=GRAPH, include_runtime=False)
    assert not any(n.startswith("sfncompile/") for n in _names(out))


def test_headers_are_normalised(flow_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pkg.tar.gz"
    build_package(flow_dir, out, extra=GRAPH)
    header = out.read_bytes()[:10]
    assert header[3] & 0x08 == 0  # no FNAME field
    assert header[4:8] == b"\0\0\0\0"  # gzip mtime 0
    with tarfile.open(out, "r:gz") as tar:
        for member in tar.getmembers():
            assert member.isfile()
            assert (member.mtime, member.uid, member.gid) == (0, 0, 0)
            assert (member.uname, member.gname) == ("", "")
            assert member.mode == (0o755 if member.name == "run.sh" else 0o644)


def test_build_is_deterministic(flow_dir: Path, tmp_path: Path) -> None:
    first = build_package(flow_dir, tmp_path / "a.tar.gz", extra=GRAPH)
    assert first == build_package(flow_dir, tmp_path / "b.tar.gz", extra=GRAPH)
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    assert first == hashlib.sha256((tmp_path / "a.tar.gz").read_bytes()).hexdigest()

    for path in flow_dir.rglob("*"):
        os.utime(path, (1_000_000_000, 1_234_567_890))
    (flow_dir / "flow.py").chmod(0o600)  # permissions other than the exec bit do not count
    assert build_package(flow_dir, tmp_path / "c.tar.gz", extra=GRAPH) == first

    (flow_dir / "lib" / "util.py").write_text("X = 2\n")
    assert build_package(flow_dir, tmp_path / "d.tar.gz", extra=GRAPH) != first


def test_package_inside_the_flow_dir_does_not_include_itself(flow_dir: Path) -> None:
    out = flow_dir / "dist" / "pkg.tar.gz"
    first = build_package(flow_dir, out, include_runtime=False)
    assert build_package(flow_dir, out, include_runtime=False) == first
    assert "dist/pkg.tar.gz" not in _names(out)


GITIGNORE = """\
# comments and blank lines are skipped

*.log
!keep.log
build/
/top.txt
docs/**/*.tmp
secret/**
data[0-9].csv
\\#literal
"""


def test_gitignore_rules(tmp_path: Path) -> None:
    flow = _tree(
        tmp_path / "flow",
        {
            "flow.py": "",
            ".gitignore": GITIGNORE,
            "a.log": "",
            "sub/b.log": "",
            "keep.log": "",
            "sub/keep.log": "",
            "build/out.bin": "",
            "sub/build/out.bin": "",
            "notbuild/build": "",  # a file named build: `build/` only matches directories
            "top.txt": "",
            "sub/top.txt": "",
            "docs/a.tmp": "",
            "docs/x/y/b.tmp": "",
            "docs/c.md": "",
            "secret/k/key.pem": "",
            "data1.csv": "",
            "dataX.csv": "",
            "#literal": "",
        },
    )
    build_package(flow, tmp_path / "p.tar.gz", include_runtime=False)
    assert _flow_names(tmp_path / "p.tar.gz") == {
        ".gitignore",
        "flow.py",
        "keep.log",
        "sub/keep.log",
        "notbuild/build",
        "sub/top.txt",
        "docs/c.md",
        "dataX.csv",
    }


def test_sfnignore_wins_over_gitignore(tmp_path: Path) -> None:
    flow = _tree(
        tmp_path / "flow",
        {"flow.py": "", ".gitignore": "*.csv\n", ".sfnignore": "/big/\n", "a.csv": "", "big/x": ""},
    )
    build_package(flow, tmp_path / "p.tar.gz", include_runtime=False)
    assert _flow_names(tmp_path / "p.tar.gz") == {".gitignore", ".sfnignore", "flow.py", "a.csv"}


def test_a_file_under_an_excluded_directory_cannot_be_re_included(tmp_path: Path) -> None:
    flow = _tree(
        tmp_path / "flow", {"flow.py": "", ".gitignore": "out/\n!out/keep\n", "out/keep": ""}
    )
    build_package(flow, tmp_path / "p.tar.gz", include_runtime=False)
    assert _flow_names(tmp_path / "p.tar.gz") == {".gitignore", "flow.py"}


def test_extract_round_trip(flow_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pkg.tar.gz"
    sha = build_package(flow_dir, out, extra=GRAPH)
    dest = tmp_path / "x"
    verify_and_extract(out, sha, dest)
    assert (dest / "lib" / "util.py").read_text() == "X = 1\n"
    assert (dest / "_sfncompile" / "graph.json").read_bytes() == GRAPH["_sfncompile/graph.json"]
    assert os.access(dest / "run.sh", os.X_OK)


def test_packaged_runtime_imports_with_the_stdlib_alone(flow_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pkg.tar.gz"
    verify_and_extract(out, build_package(flow_dir, out), tmp_path / "x")
    # -S: no site-packages, so no pydantic, click or boto3, as in a bare container.
    code = (
        "import sfncompile, sfncompile.runtime.__main__, sfncompile.runtime.task;"
        "import sfncompile.client.core;"
        "import sys; assert sfncompile.__file__.startswith(sys.argv[1]), sfncompile.__file__;"
        "assert not {'pydantic', 'click', 'boto3'} & set(sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "x")}
    result = subprocess.run(
        [sys.executable, "-S", "-c", code, str(tmp_path / "x")],
        env=env,
        cwd=tmp_path,  # not the repository, whose sfncompile/ would shadow the package's
        capture_output=True,
    )
    assert result.returncode == 0, result.stderr.decode()


def test_sha_mismatch_is_refused_before_extracting(flow_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pkg.tar.gz"
    sha = build_package(flow_dir, out)
    dest = tmp_path / "x"
    with pytest.raises(PackageError, match="sha256"):
        verify_and_extract(out, "0" * 64, dest)
    data = bytearray(out.read_bytes())
    data[-20] ^= 1  # one flipped bit
    out.write_bytes(bytes(data))
    with pytest.raises(PackageError, match="refusing to extract"):
        verify_and_extract(out, sha, dest)
    assert not dest.exists()


def _evil_tar(path: Path, member: tarfile.TarInfo) -> str:
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(_file("fine.txt", b"ok"), io.BytesIO(b"ok"))
        tar.addfile(member, io.BytesIO(b"evil") if member.isfile() else None)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file(name: str, data: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info


def _link(name: str, kind: bytes, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    "member",
    [
        _file("../escape.txt", b"evil"),
        _file("a/../../escape.txt", b"evil"),
        _file("/tmp/abs.txt", b"evil"),
        _link("link", tarfile.SYMTYPE, "/etc/passwd"),
        _link("hard", tarfile.LNKTYPE, "fine.txt"),
    ],
    ids=["dotdot", "inner-dotdot", "absolute", "symlink", "hardlink"],
)
def test_unsafe_members_are_refused_before_extracting(
    tmp_path: Path, member: tarfile.TarInfo
) -> None:
    tar_path = tmp_path / "evil.tar.gz"
    sha = _evil_tar(tar_path, member)
    dest = tmp_path / "deep" / "x"
    with pytest.raises(PackageError, match=r"unsafe path|link or special file"):
        verify_and_extract(tar_path, sha, dest)
    assert not dest.exists()  # not even the harmless member was written
    assert not (tmp_path / "deep" / "escape.txt").exists()


def test_only_the_flows_own_code_is_packaged(tmp_path: Path) -> None:
    """Secrets, environments, history and caches stay out; a link leaving the directory is
    refused; a link inside it is packed as what it points to."""
    outside = _tree(tmp_path / "outside", {"secret.txt": "password\n", "dir/key.pem": "k"})
    flow = _tree(tmp_path / "flow", {
        "flow.py": "", "lib/util.py": "X = 1\n",
        ".env": "TOKEN=1\n", ".env.local": "TOKEN=2\n", "sub/.envrc": "export A=1\n",
        "venv/lib/site.py": "", ".venv/bin/python": "", "py310/pyvenv.cfg": "home = /usr\n",
        "py310/lib/x.py": "", "conda/conda-meta/history": "", "conda/bin/python": "",
        ".git/config": "", ".mypy_cache/x": "", ".pytest_cache/x": "", ".ruff_cache/x": "",
        "lib/__pycache__/u.pyc": "", ".sfncompile/Flow/r/x": "",
    })
    (flow / "lib" / "alias.py").symlink_to("util.py")
    (flow / "shared").symlink_to("lib", target_is_directory=True)
    (flow / "loop").symlink_to(".", target_is_directory=True)  # never followed
    out = tmp_path / "p.tar.gz"
    build_package(flow, out, include_runtime=False)
    assert _flow_names(out) == {"flow.py", "lib/util.py", "lib/alias.py", "shared/util.py",
                                "shared/alias.py"}
    with tarfile.open(out, "r:gz") as tar:
        alias = tar.extractfile("lib/alias.py")
        assert alias is not None and alias.read() == b"X = 1\n"

    (flow / "passwd").symlink_to(outside / "secret.txt")
    (flow / "keys").symlink_to(outside / "dir", target_is_directory=True)
    with pytest.raises(PackageError, match=r"point outside it: keys -> .*passwd -> "):
        build_package(flow, out, include_runtime=False)
    (flow / ".sfnignore").write_text("/passwd\nkeys\n")
    build_package(flow, out, include_runtime=False)
    assert "secret" not in out.read_bytes().decode("latin-1")
    assert not {"passwd", "keys/key.pem"} & _flow_names(out)

    # A link to itself (ELOOP) is named, not an OSError; ignored, it is left out.
    (flow / "again").symlink_to("again")
    with pytest.raises(PackageError, match=r"lead round in a loop: again -> again"):
        build_package(flow, out, include_runtime=False)
    (flow / ".sfnignore").write_text("/passwd\nkeys\nagain\n")
    build_package(flow, out, include_runtime=False)


def test_package_limits_are_enforced_on_both_sides(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sfncompile.deploy import package

    flow = _tree(tmp_path / "flow", {f"f{i}.py": "" for i in range(5)})
    out = tmp_path / "p.tar.gz"
    sha = build_package(flow, out, include_runtime=False)
    monkeypatch.setattr(package, "MAX_MEMBERS", 4)
    with pytest.raises(PackageError, match="limit is 4 files"):
        build_package(flow, tmp_path / "q.tar.gz", include_runtime=False)
    with pytest.raises(PackageError, match="over 4 members"):
        verify_and_extract(out, sha, tmp_path / "x")
    monkeypatch.setattr(package, "MAX_MEMBERS", 10)
    monkeypatch.setattr(package, "MAX_PACKAGE_BYTES", 10)
    with pytest.raises(PackageError, match="over 0 MiB"):
        verify_and_extract(out, sha, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_bootstrap_refuses_a_package_with_too_many_members(tmp_path: Path) -> None:
    """The bootstrap as a Batch container runs it, with boto3's download replaced by a copy."""
    from sfncompile.conventions.bootstrap import BOOTSTRAP
    from sfncompile.deploy.package import MAX_MEMBERS

    bomb = tmp_path / "bomb.tar.gz"
    with tarfile.open(bomb, "w:gz") as tar:
        for i in range(MAX_MEMBERS + 1):
            tar.addfile(_file(f"f{i}", b""), io.BytesIO(b""))
    fake = tmp_path / "fake" / "boto3"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "import shutil\nclass _S3:\n    def download_file(self, b, k, p):\n"
        f"        shutil.copy({str(bomb)!r}, p)\ndef client(name):\n    return _S3()\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent),
           "SFNCOMPILE_CODE_PACKAGE": "s3://b/k",
           "SFNCOMPILE_CODE_SHA256": hashlib.sha256(bomb.read_bytes()).hexdigest()}
    proc = subprocess.run([sys.executable, "-c", BOOTSTRAP], env=env, capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 1
    assert f"package over {MAX_MEMBERS} members" in proc.stderr
