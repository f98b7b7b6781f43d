"""The `--datastore-root` option, checked before any task starts or anything is read."""

from __future__ import annotations

from pathlib import Path

from sfncompile.errors import UsageError


def check_datastore_root(root: str, write: bool) -> str:
    """`root` if it can serve as a datastore (a writable one when `write`); else UsageError."""
    if root.startswith("s3://"):
        from sfncompile.deploy.config import split_s3_root

        split_s3_root(root, "--datastore-root")
        return root
    path = Path(root)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--datastore-root {root}: not a directory")
    if write:
        import tempfile

        try:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            raise UsageError(f"--datastore-root {root}: cannot write there: "
                             f"{exc.strerror}") from None
    return root
