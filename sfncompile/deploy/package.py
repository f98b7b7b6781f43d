"""The code package: a deterministic .tar.gz of the flow's directory plus the runtime.

Determinism makes the sha256 a stable address: the same sources give the same bytes on any
machine (sorted entries, mtime 0, uid/gid 0, no user names, modes 0o644/0o755, and a gzip
header with mtime 0 and no file name). Which files go in:

- the flow directory, minus what `.sfnignore` (or, failing that, `.gitignore`) excludes, and
  minus, everywhere and whatever the ignore files say, what is never the flow's code and may
  hold secrets: `.env*` files and directories, virtualenvs (`venv`, `.venv`, any directory
  with a `pyvenv.cfg` or `conda-meta`), `.git`, caches (`__pycache__`, `*.pyc`, `.mypy_cache`,
  `.pytest_cache`, `.ruff_cache`) and `.sfncompile` (local runs);
- symlinks: one that stays inside the flow directory is packed as what it points to (a
  directory link is followed unless it points to one of its own parents); one that leaves the
  directory is an error unless the ignore file excludes it, so no outside file (a key, a
  `/etc/passwd`) is ever uploaded by accident;
- with include_runtime, this runtime package and the sfncompile modules that it and
  `sfncompile/__init__.py` import (found by reading their imports: today `__init__`, `api`,
  `current`, `flowspec`, `flow_inputs`), taken from the installed sfncompile. They replace
  same-named files of the flow directory, so the container runs the runtime the package was
  built with;
- `extra` files (e.g. `_sfncompile/graph.json`), which replace anything at the same path.

Ignore files follow gitignore syntax (`*`, `?`, `[...]`, `**`, trailing `/` for directories,
a leading or inner `/` anchors to the flow directory, `!` re-includes, last match wins; a file
under an excluded directory stays excluded). Only the flow directory's own ignore file is read.

A package holds at most MAX_MEMBERS files and MAX_PACKAGE_BYTES compressed, MAX_UNPACKED_BYTES
uncompressed: `build_package` refuses to make a bigger one, and the bootstrap and
`verify_and_extract` refuse to open one.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sfncompile.conventions.bootstrap import MAX_MEMBERS, MAX_PACKAGE_BYTES, MAX_UNPACKED_BYTES
from sfncompile.flow import metaflow_alias

_ALWAYS_SKIP_DIRS = frozenset({".git", "__pycache__", ".sfncompile", ".mypy_cache",
                               ".pytest_cache", ".ruff_cache", "venv", ".venv"})
# A directory holding one of these is a Python environment, whatever its name.
_ENVIRONMENT_MARKERS = ("pyvenv.cfg", "conda-meta")

_SFNCOMPILE_DIR = Path(__file__).resolve().parent.parent


class PackageError(Exception):
    """The code package is not what was expected, or unsafe to extract."""


# ---------------------------------------------------------------------------- ignore rules


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def _translate(pattern: str) -> str:
    """A gitignore glob (already stripped of `!`, the trailing `/` and a leading `/`) to a
    regex over `/`-separated paths."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            out.append("(?:.*/)?")  # zero or more directories
            i += 3
        elif pattern.startswith("**", i) and i + 2 == n and (i == 0 or pattern[i - 1] == "/"):
            out.append(".*")  # everything inside
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            while i < n and pattern[i] == "*":
                i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := _class_end(pattern, i)) != -1:
            negate = pattern[i + 1] in "!^"
            body = pattern[i + 1 + negate : end]
            body = "".join(c if c == "-" else re.escape(c) for c in body)
            out.append(("[^" if negate else "[") + body + "]")
            i = end + 1
        elif pattern[i] == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def _class_end(pattern: str, start: int) -> int:
    """Index of the `]` closing the class opened at start (a `]` right after `[` or `[!` is
    a member, as in fnmatch), or -1: then the `[` is literal."""
    first = start + 1 + (pattern[start + 1 : start + 2] in ("!", "^"))
    return pattern.find("]", first + 1) if first < len(pattern) else -1


def _parse_ignore(text: str) -> list[_Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if raw.endswith("\\ "):
            line += " "  # an escaped trailing space is kept
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:] if negate else line
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        # A slash at the start or in the middle anchors the pattern to the flow directory.
        anchored = "/" in line
        body = _translate(line.lstrip("/"))
        regex = re.compile(("" if anchored else "(?:.*/)?") + body + r"\Z", re.DOTALL)
        rules.append(_Rule(regex, negate, dir_only))
    return rules


def _ignored(rules: list[_Rule], rel: str, is_dir: bool) -> bool:
    ignored = False
    for rule in rules:
        if (is_dir or not rule.dir_only) and rule.regex.match(rel):
            ignored = not rule.negate
    return ignored


def _load_rules(flow_dir: Path) -> list[_Rule]:
    for name in (".sfnignore", ".gitignore"):
        path = flow_dir / name
        if path.is_file():
            return _parse_ignore(path.read_text(encoding="utf-8"))
    return []


def _never_packed(name: str, path: Path, is_dir: bool) -> bool:
    if name.startswith(".env"):
        return True
    if is_dir:
        return name in _ALWAYS_SKIP_DIRS or any(
            (path / marker).exists() for marker in _ENVIRONMENT_MARKERS)
    return name.endswith(".pyc")


def _flow_files(flow_dir: Path, skip: Path | None) -> dict[str, Path]:
    """The flow directory's files by archive name. flow_dir is already resolved."""
    rules = _load_rules(flow_dir)
    files: dict[str, Path] = {}
    leaving: list[str] = []
    looping: list[str] = []
    # (real directory, archive prefix); a followed directory link is read at its target.
    todo: list[tuple[Path, str]] = [(flow_dir, "")]
    while todo:
        directory, prefix = todo.pop()
        with os.scandir(directory) as entries:
            found = sorted(entries, key=lambda e: e.name)
        for entry in found:
            rel, path = prefix + entry.name, Path(entry.path)
            try:
                is_dir = entry.is_dir()  # follows a link
            except OSError:  # a link that leads to itself (ELOOP)
                if not _ignored(rules, rel, False):
                    looping.append(f"{rel} -> {os.readlink(path)}")
                continue
            if _never_packed(entry.name, path, is_dir) or _ignored(rules, rel, is_dir):
                continue
            if entry.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(flow_dir):
                    leaving.append(f"{rel} -> {os.readlink(path)}")
                    continue
                if is_dir and directory.resolve().is_relative_to(target):
                    continue  # a link to a parent: following it would never end
                path = target
            if is_dir:
                todo.append((path, rel + "/"))
            elif entry.is_file() and (skip is None or path.resolve() != skip):
                files[rel] = path
    if looping:
        raise PackageError(
            f"symlinks in {flow_dir} lead round in a loop: {', '.join(sorted(looping))}; "
            "remove them, or exclude them in .sfnignore (or .gitignore)")
    if leaving:
        raise PackageError(
            f"symlinks in {flow_dir} point outside it: {', '.join(sorted(leaving))}; the code "
            "package takes only the flow's own files: exclude them in .sfnignore (or "
            ".gitignore), or replace them with copies")
    return files


def _runtime_files() -> dict[str, Path]:
    """sfncompile/runtime/** plus the sfncompile modules that it and `import sfncompile`
    import, found by following their import statements (so the list cannot go stale).
    Outside the runtime only module-level imports count: a function-level import there, like
    FlowSpec's import of the CLI for `python flow.py`, is never reached in a task."""
    runtime_dir = _SFNCOMPILE_DIR / "runtime"
    files = {
        path.relative_to(_SFNCOMPILE_DIR.parent).as_posix(): path
        for path in runtime_dir.rglob("*")
        if path.is_file() and path.suffix != ".pyc" and "__pycache__" not in path.parts
    }
    todo = [p for p in files.values() if p.suffix == ".py"] + [_SFNCOMPILE_DIR / "__init__.py"]
    # What a flow reaches only as `metaflow.X` (see sfncompile.flow.metaflow_alias).
    todo += [f for f in map(_module_file, metaflow_alias.PACKAGED_MODULES) if f is not None]
    while todo:
        path = todo.pop()
        if not path.is_file():
            continue
        files[path.relative_to(_SFNCOMPILE_DIR.parent).as_posix()] = path
        for module in _imported_modules(path, lazy=runtime_dir in path.parents):
            found = _module_file(module)
            if found and found.relative_to(_SFNCOMPILE_DIR.parent).as_posix() not in files:
                todo.append(found)
    return files


def _imported_modules(path: Path, lazy: bool) -> set[str]:
    """Dotted sfncompile modules that path imports (for `from a import b`: a, and a.b in
    case b is a module); with lazy, also those imported inside functions."""
    package = ".".join(path.relative_to(_SFNCOMPILE_DIR.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    nodes: list[ast.AST] = [ast.parse(path.read_bytes(), str(path))]
    while nodes:
        node = nodes.pop()
        if _for_type_checkers(node):
            continue  # `if TYPE_CHECKING:` imports never run
        if lazy or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            nodes.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    ours = {m for m in found if m == "sfncompile" or m.startswith("sfncompile.")}
    # Importing a.b.c runs the packages a and a.b first: their __init__ modules go along.
    return ours | {m.rsplit(".", n)[0] for m in ours for n in range(1, m.count(".") + 1)}


def _for_type_checkers(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`) with no else branch."""
    if not isinstance(node, ast.If) or node.orelse:
        return False
    test = node.test
    name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
    return name == "TYPE_CHECKING"


def _module_file(module: str) -> Path | None:
    """The source of a dotted sfncompile module; for a submodule also its parents' packages
    would be needed, but every sfncompile package is reached through its own __init__."""
    base = _SFNCOMPILE_DIR.parent.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


# ---------------------------------------------------------------------------- build


def _tarinfo(name: str, size: int, executable: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.type = size, 0, tarfile.REGTYPE
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


Entries = dict[str, Path | bytes]


def package_entries(
    flow_dir: Path,
    extra: dict[str, bytes] | None = None,
    include_runtime: bool = True,
    skip: Path | None = None,
) -> Entries:
    """What goes into the package, by archive name: a file to read, or the bytes themselves."""
    flow_dir = Path(flow_dir).resolve()
    entries: Entries = dict(_flow_files(flow_dir, skip))
    if include_runtime:
        entries.update(_runtime_files())
    for name, data in (extra or {}).items():
        entries[_safe_name(name)] = data
    return entries


def entry_size(source: Path | bytes) -> int:
    return len(source) if isinstance(source, bytes) else source.stat().st_size


def build_package(
    flow_dir: Path,
    out_path: Path,
    extra: dict[str, bytes] | None = None,
    include_runtime: bool = True,
) -> str:
    """Write the code package to out_path (atomically) and return its sha256 hex."""
    out_path = Path(out_path)
    entries = package_entries(flow_dir, extra, include_runtime, skip=out_path.resolve())
    return write_package(entries, out_path)


def write_package(entries: Entries, out_path: Path) -> str:
    unpacked = sum(entry_size(source) for source in entries.values())
    if len(entries) > MAX_MEMBERS or unpacked > MAX_UNPACKED_BYTES:
        raise PackageError(
            f"the code package would hold {len(entries)} files, {unpacked >> 20} MiB; the "
            f"limit is {MAX_MEMBERS} files and {MAX_UNPACKED_BYTES >> 20} MiB: exclude data "
            "and build outputs in .sfnignore (artifacts and S3 are the place for data)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".sfn-tmp-", dir=out_path.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            _write_tar(raw, entries)
        os.chmod(tmp, 0o644)
        size = os.path.getsize(tmp)
        if size > MAX_PACKAGE_BYTES:
            raise PackageError(
                f"the code package is {size >> 20} MiB compressed; the limit is "
                f"{MAX_PACKAGE_BYTES >> 20} MiB: exclude data and build outputs in .sfnignore")
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return _sha256(out_path)


def _write_tar(raw: IO[bytes], entries: Entries) -> None:
    # filename="" and mtime=0 keep the gzip header free of the path and the clock.
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(entries):
            source = entries[name]
            if isinstance(source, bytes):
                tar.addfile(_tarinfo(name, len(source), False), io.BytesIO(source))
                continue
            with source.open("rb") as f:
                st = os.fstat(f.fileno())
                tar.addfile(_tarinfo(name, st.st_size, bool(st.st_mode & 0o111)), f)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------- extract


def _safe_name(name: str) -> str:
    """A relative, normalised archive path, or PackageError."""
    parts = name.replace("\\", "/").split("/")
    if not name or name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in parts:
        raise PackageError(f"unsafe path in code package: {name!r}")
    clean = "/".join(p for p in parts if p not in ("", "."))
    if not clean:
        raise PackageError(f"unsafe path in code package: {name!r}")
    return clean


def verify_and_extract(tar_path: Path, expected_sha: str, dest: Path) -> None:
    """Check the package's sha256, then every member, and only then extract into dest.

    Only regular files and directories are accepted: links and devices could point outside
    dest. The archive is read through one open file, so it cannot change after the check."""
    with Path(tar_path).open("rb") as f:
        digest = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
        if digest.hexdigest() != expected_sha.lower():
            raise PackageError(
                f"code package {tar_path} has sha256 {digest.hexdigest()}, expected "
                f"{expected_sha}: refusing to extract it"
            )
        if f.tell() > MAX_PACKAGE_BYTES:
            raise PackageError(f"code package {tar_path} is over {MAX_PACKAGE_BYTES >> 20} MiB")
        f.seek(0)
        with tarfile.open(fileobj=f, mode="r:gz") as tar:
            members = []
            for member in tar:  # counted while reading: a million headers never pile up
                members.append(member)
                if len(members) > MAX_MEMBERS:
                    raise PackageError(f"code package {tar_path} has over {MAX_MEMBERS} members")
            if sum(m.size for m in members) > MAX_UNPACKED_BYTES:
                raise PackageError(f"code package {tar_path} unpacks to over "
                                   f"{MAX_UNPACKED_BYTES >> 20} MiB")
            for member in members:
                if not (member.isfile() or member.isdir()):
                    raise PackageError(
                        f"code package member {member.name!r} is a link or special file"
                    )
                _safe_name(member.name)
            dest = Path(dest).resolve()
            for member in members:
                target = dest.joinpath(*_safe_name(member.name).split("/"))
                if not target.parent.resolve().is_relative_to(dest):  # a symlink already there
                    raise PackageError(f"code package member {member.name!r} escapes {dest}")
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - isfile() members always have data
                    raise PackageError(f"cannot read {member.name!r} from the code package")
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
                target.chmod(0o755 if member.mode & 0o111 else 0o644)
