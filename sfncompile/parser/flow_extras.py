"""Flow decorators that become FlowIR fields beside the schedule: @pypi_base, @conda_base and
@exit_hook (several @exit_hook add up, as in Metaflow)."""

from __future__ import annotations

from typing import Any

from sfncompile.errors import FlowError
from sfncompile.ir import ExitHookIR, PackagesIR, SourcePos
from sfncompile.parser.decorators import packages_ir

FLOW_EXTRAS = frozenset({"pypi_base", "conda_base", "exit_hook"})


def flow_extras(found: list[tuple[str, dict[str, Any], SourcePos]],
                errors: list[FlowError]) -> dict[str, Any]:
    """FlowIR keyword arguments from the decorators in `found`; problems go to `errors`."""
    out: dict[str, Any] = {}
    packages: PackagesIR | None = None
    on_success: list[str] = []
    on_error: list[str] = []
    hook_pos: SourcePos | None = None
    for name, args, pos in found:
        if name == "exit_hook":
            if not args.get("on_success") and not args.get("on_error"):
                errors.append(_err(pos, "@exit_hook needs on_success=[...] or on_error=[...] "
                                        "(functions of this module)"))
            on_success += args.get("on_success", [])
            on_error += args.get("on_error", [])
            hook_pos = hook_pos or pos
        elif packages is not None:
            errors.append(_err(pos, f"@{name}: the flow already has @{packages.manager}_base "
                                    f"(line {packages.pos.line}); use one"))
        else:
            packages = packages_ir(name, args, pos)
    if packages is not None:
        out["packages"] = packages
    if hook_pos is not None:
        out["exit_hook"] = ExitHookIR(on_success=tuple(on_success), on_error=tuple(on_error),
                                      pos=hook_pos)
    return out


def _err(pos: SourcePos, message: str) -> FlowError:
    return FlowError(pos.path, pos.line, pos.col, message)
