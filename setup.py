"""The build step that pyproject.toml cannot state: sfncompile-metaflow.pth into site-packages.

The file's one line appends an import finder *last* on `sys.meta_path`, so that `import
metaflow` means sfncompile when no real Metaflow is installed (`python flow.py run` of a
`from metaflow import ...` flow, `from metaflow import Flow` in a notebook), and an installed
Metaflow is never shadowed. It costs one small class at interpreter start; sfncompile itself is
imported only when `metaflow` is (see sfncompile/flow/metaflow_alias.py, `fallback_spec`).

A wheel installs the files at its root into site-packages: `build_py` puts the `.pth` there.
An editable wheel (`pip install -e .`) is assembled from the `install` command's directory
instead of build_lib (setuptools' editable_wheel), so in editable mode it goes there.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = "sfncompile-metaflow.pth"
FINDER = "SfncompileMetaflowFallback"  # metaflow_alias.FALLBACK_FINDER: it skips itself
PTH_LINE = (  # once only: a venv's lib64 link to lib makes site read the file twice
    f'import sys; any(getattr(f, "__name__", None) == "{FINDER}" for f in sys.meta_path) or '
    f'sys.meta_path.append(type("{FINDER}", (), {{"find_spec": staticmethod('
    'lambda name, path=None, target=None: __import__("sfncompile.flow.metaflow_alias")'
    '.flow.metaflow_alias.fallback_spec(name) if name.partition(".")[0] == "metaflow" '
    "else None)}))\n"
)


class BuildPyWithPth(build_py):
    def run(self) -> None:
        super().run()
        root = (self.get_finalized_command("install").install_lib
                if getattr(self, "editable_mode", False) else self.build_lib)
        Path(root).mkdir(parents=True, exist_ok=True)
        (Path(root) / PTH_NAME).write_text(PTH_LINE, encoding="utf-8")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs.append(str(Path(self.build_lib) / PTH_NAME))
        return outputs


setup(cmdclass={"build_py": BuildPyWithPth})
