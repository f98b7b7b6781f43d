"""`@card`: `current.card` while the step runs, then one self-contained HTML file per card.

A card is written with the task's attempt, before its commit, as
`<Flow>/<run>/<step>/<task>/<attempt>/cards/<file>.html` (see datastore/layout.py), and listed in
done.json under "cards". The file holds no reference to anything outside it (inline CSS,
images as data URIs; its Content-Security-Policy forbids loading anything else), so it can be
mailed or opened from S3 as it is. A card that fails to render never fails the task: with
`save_errors` (the default) the error is the card's content.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sfncompile.datastore.storage import Storage

EDITABLE_TYPES = ("default", "blank")
CARD_DIR = "cards"
MAX_ARTIFACTS = 200  # artifacts listed in the default card


@dataclass
class CardState:
    """One `@card` of the running task and the components appended to it."""

    config: dict[str, Any]
    components: list[Any] = field(default_factory=list)

    @property
    def file(self) -> str:
        kind, cid = self.config.get("type", "default"), self.config.get("id")
        return f"{kind}-{cid}" if cid else str(kind)


class CardComponents:
    """The components of one card: `current.card[id]`, list-like."""

    def __init__(self, state: CardState) -> None:
        self._state = state

    def append(self, component: Any, id: str | None = None) -> None:
        if id is not None:
            component.component_id = id
        self._state.components.append(component)

    def extend(self, components: Iterable[Any]) -> None:
        for component in components:
            self.append(component)

    def clear(self) -> None:
        self._state.components.clear()

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        """Cards are rendered once, when the task ends."""

    @property
    def components(self) -> dict[str, Any]:
        return {c.component_id: c for c in self._state.components
                if getattr(c, "component_id", None)}

    def __iter__(self) -> Iterator[Any]:
        return iter(self._state.components)

    def __len__(self) -> int:
        return len(self._state.components)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self.components[key]
        return self._state.components[key]


class CardCollector:
    """`current.card`, as Metaflow's: `append`/`extend`/`clear` act on the step's one
    editable card (or the one with customize=True); `current.card[id]` on the card with that
    id. Without a usable card, appending warns once and keeps nothing, as Metaflow does."""

    def __init__(self, cards: list[dict[str, Any]]) -> None:
        self._cards = [CardState(dict(c)) for c in cards]
        self._warned: set[str] = set()
        editable = [c for c in self._cards if c.config.get("type", "default") in EDITABLE_TYPES]
        chosen = [c for c in editable if c.config.get("customize")] or editable
        self._default = CardComponents(chosen[0]) if len(chosen) == 1 else None

    @property
    def states(self) -> list[CardState]:
        return self._cards

    def _warn(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            print(f"@card: {message}", file=sys.stderr)

    def _target(self, what: str) -> CardComponents | None:
        if self._default is None:
            why = ("the step has no @card" if not self._cards else
                   "the step has several @card: give them ids and use current.card[id]")
            self._warn(what, f"current.card.{what} is ignored: {why}")
        return self._default

    def append(self, component: Any, id: str | None = None) -> None:
        target = self._target("append")
        if target is not None:
            target.append(component, id=id)

    def extend(self, components: Iterable[Any]) -> None:
        target = self._target("extend")
        if target is not None:
            target.extend(components)

    def clear(self) -> None:
        if self._default is not None:
            self._default.clear()

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        """Cards are rendered once, when the task ends."""

    @property
    def components(self) -> dict[str, Any]:
        target = self._target("components")
        return target.components if target is not None else {}

    def _by_id(self, key: str) -> CardState | None:
        return next((c for c in self._cards if c.config.get("id") == key), None)

    def __getitem__(self, key: str) -> CardComponents | list[Any]:
        state = self._by_id(key)
        if state is None:
            self._warn(f"[{key}]", f"current.card[{key!r}] is not a card of this step (set "
                       f"@card(id={key!r})); what is appended to it is dropped")
            return []
        return CardComponents(state)

    def __setitem__(self, key: str, value: list[Any]) -> None:
        state = self._by_id(key)
        if state is None or not isinstance(value, list):
            self._warn(f"[{key}]=", f"current.card[{key!r}] = ... is ignored (no card with "
                       "that id, or not a list of components)")
            return
        state.components[:] = value

    def get(self, type: str | None = None) -> list[CardComponents]:
        return [CardComponents(c) for c in self._cards
                if type is None or c.config.get("type") == type]


# ---------------------------------------------------------------------------- rendering

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1f2328;line-height:1.45}
h1{font-size:1.5rem;word-break:break-all}h2{font-size:1.15rem;border-bottom:1px solid #d0d7de;
padding-bottom:.25rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}pre{background:#f6f8fa;padding:.5rem;overflow:auto;white-space:pre-wrap;
word-break:break-all;margin:0}tr.current td{background:#fff8c5;font-weight:600}
img{max-width:100%}.error{color:#cf222e}.label{font-weight:600}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


# The components module is imported only when a card is rendered: a task without @card
# (most) does not pay for it.


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _rows(pairs: Iterable[tuple[str, Any]]) -> str:
    from sfncompile.flow.cards import esc

    return "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in pairs)


def _graph_html(graph: dict[str, Any], step: str) -> str:
    from sfncompile.flow.cards import esc

    rows = []
    for name, info in graph.get("steps", {}).items():
        kind = info.get("kind", "")
        if kind == "switch":
            nxt = ", ".join(f"{k} → {v}" for k, v in info.get("cases", {}).items())
        else:
            nxt = ", ".join(info.get("targets", []))
        if info.get("num_parallel") is not None:
            nxt += f" (num_parallel={info['num_parallel']})"
        elif kind == "foreach":
            nxt += f" (foreach {info.get('foreach_var')})"
        current = ' class="current"' if name == step else ""
        rows.append(f"<tr{current}><td>{esc(name)}</td><td>{esc(kind)}</td>"
                    f"<td>{esc(nxt) or '-'}</td></tr>")
    return ("<table><thead><tr><th>step</th><th>kind</th><th>next</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _artifacts_html(artifacts: dict[str, Any]) -> str:
    from sfncompile.flow.cards import esc, short_repr

    names = sorted(artifacts)
    rows = "".join(
        f"<tr><td>{esc(n)}</td><td>{esc(type(v).__name__)}</td>"
        f"<td><pre>{esc(short_repr(v))}</pre></td></tr>"
        for n, v in ((n, artifacts[n]) for n in names[:MAX_ARTIFACTS]))
    more = (f"<p>... and {len(names) - MAX_ARTIFACTS} more</p>"
            if len(names) > MAX_ARTIFACTS else "")
    if not rows:
        return "<p>No artifacts.</p>"
    return ("<table><thead><tr><th>name</th><th>type</th><th>value</th></tr></thead><tbody>"
            + rows + "</tbody></table>" + more)


def render_card(state: CardState, meta: dict[str, Any], graph: dict[str, Any],
                artifacts: dict[str, Any]) -> str:
    """The card as one HTML document: for `default`, metadata, artifacts and the graph
    before the user's components; for `blank`, the components alone."""
    from sfncompile.flow.cards import esc, render_component, short_repr

    pathspec = meta["pathspec"]
    parts = [f"<h1>{esc(pathspec)}</h1>"]
    if state.config.get("type", "default") == "default":
        parts.append("<h2>Task</h2><table>" + _rows([
            ("flow", meta["flow"]), ("run", meta["run"]), ("step", meta["step"]),
            ("task", meta["task"]), ("attempt", meta["attempt"]),
            ("started", _when(meta.get("started"))), ("finished", _when(meta.get("finished"))),
            ("duration", f"{meta['finished'] - meta['started']:.2f} s"
             if isinstance(meta.get("started"), float) and isinstance(meta.get("finished"), float)
             else "-"),
            ("origin run", meta.get("origin_run") or "-"),
        ]) + "</table>")
        if meta.get("parameters"):
            parts.append("<h2>Parameters</h2><table>" + _rows(
                (k, short_repr(v)) for k, v in sorted(meta["parameters"].items())) + "</table>")
        parts.append("<h2>Artifacts</h2>" + _artifacts_html(artifacts))
        parts.append("<h2>Step graph</h2>" + _graph_html(graph, meta["step"]))
    if state.components:
        if state.config.get("type", "default") == "default":
            parts.append("<h2>Added in the step</h2>")
        parts.extend(f'<section class="component">{render_component(c)}</section>'
                     for c in state.components)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f"<title>{esc(pathspec)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")


def _error_card(pathspec: str, exc: BaseException) -> str:
    from sfncompile.flow.cards import Artifact, esc

    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f"<title>{esc(pathspec)}</title></head><body><h1>{esc(pathspec)}</h1>"
            f"<p>The card failed to render:</p>{Artifact(exc).render()}</body></html>\n")


def write_cards(storage: Storage, attempt_prefix: str, collector: CardCollector,
                meta: dict[str, Any], graph: dict[str, Any], artifacts: dict[str, Any]
                ) -> list[dict[str, Any]]:
    """Render and store every card of the task; what done.json records about them."""
    written: list[dict[str, Any]] = []
    used: set[str] = set()
    for state in collector.states:
        name, n = state.file, 1
        while name in used:
            n += 1
            name = f"{state.file}-{n}"
        used.add(name)
        try:
            text = render_card(state, meta, graph, artifacts)
        except Exception as exc:
            print(f"@card: the {state.file} card failed to render: {exc!r}", file=sys.stderr)
            if not state.config.get("save_errors", True):
                continue
            text = _error_card(meta["pathspec"], exc)
        key = f"{attempt_prefix}/{CARD_DIR}/{name}.html"
        storage.put_bytes(key, text.encode("utf-8"))
        written.append({"type": state.config.get("type", "default"),
                        "id": state.config.get("id"), "file": f"{CARD_DIR}/{name}.html"})
    return written
