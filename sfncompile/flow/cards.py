"""Card components (`from metaflow.cards import Markdown, Table, Image`), rendered to HTML.

A component's `render()` returns an HTML fragment in which everything that came from the
user (text, artifact reprs, table cells) is escaped: a card is opened in a browser and its
content is hostile input. Images become data URIs, so a card needs no other file.
A user's own component subclasses `MetaflowCardComponent` and returns escaped HTML itself.

Interactive parts of Metaflow's cards (realtime `update`/`refresh`, VegaChart drawing, which
needs Vega's JavaScript) are not rendered: `update` replaces the value for the final card,
and a VegaChart shows its spec.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import json
import re
import reprlib
import textwrap
from collections.abc import Sequence
from typing import Any

_REPR = reprlib.Repr()
_REPR.maxstring = 300
_REPR.maxother = 300
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 20
MAX_REPR = 1000  # characters of an artifact's repr shown in a card

_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
                (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))
_DATA_URI = re.compile(r"data:image/(png|jpeg|gif|webp);base64,([A-Za-z0-9+/=\s]*)", re.ASCII)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def short_repr(value: object, compressed: bool = True) -> str:
    """A repr for a card: truncated, and never an exception (a broken __repr__ is shown)."""
    try:
        text = _REPR.repr(value) if compressed else repr(value)
    except Exception as exc:  # the user's __repr__ failed
        return f"<repr failed: {type(exc).__name__}>"
    return text if len(text) <= MAX_REPR else text[:MAX_REPR] + "..."


class MetaflowCardComponent:
    """Base of every component: `render()` returns an HTML fragment, escaped."""

    REALTIME_UPDATABLE = False
    component_id: str | None = None

    def render(self) -> str:
        raise NotImplementedError

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Cards here are rendered once, when the task ends: nothing to refresh."""


UserComponent = MetaflowCardComponent


class Markdown(MetaflowCardComponent):
    """Markdown text (a safe subset: headings, paragraphs, lists, code, emphasis, links)."""

    def __init__(self, text: str | None = None) -> None:
        self._text = textwrap.dedent(text) if text is not None else None

    def update(self, text: str | None = None) -> None:
        self._text = textwrap.dedent(text) if text is not None else None

    def render(self) -> str:
        return f'<div class="md">{markdown_to_html(self._text or "")}</div>'


class Artifact(MetaflowCardComponent):
    """Any Python object, as its (by default truncated) repr."""

    def __init__(self, artifact: Any, name: str | None = None, compressed: bool = True) -> None:
        self._artifact, self._name, self._compressed = artifact, name, compressed

    def update(self, artifact: Any) -> None:
        self._artifact = artifact

    def render(self) -> str:
        label = f'<div class="label">{esc(self._name)}</div>' if self._name is not None else ""
        text = esc(short_repr(self._artifact, self._compressed))
        return f'{label}<pre class="artifact">{text}</pre>'


class Table(MetaflowCardComponent):
    """Rows of cells; a cell is text, a number or another component."""

    def __init__(self, data: Sequence[Sequence[Any]] | None = None,
                 headers: Sequence[str] | None = None, disable_updates: bool = False) -> None:
        self._data = [list(row) for row in (data or [])]
        self._headers = [str(h) for h in (headers or [])]

    @classmethod
    def from_dataframe(cls, dataframe: Any = None, truncate: bool = True) -> Table:
        try:
            frame = dataframe.head(100) if truncate else dataframe
            headers = [str(c) for c in frame.columns]
            rows = [list(r) for r in frame.itertuples(index=False)]
        except AttributeError:
            return cls(headers=[f"Object type {type(dataframe).__name__} not supported"])
        return cls(rows, headers)

    def render(self) -> str:
        head = "".join(f"<th>{esc(h)}</th>" for h in self._headers)
        rows = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>"
                       for row in self._data)
        thead = f"<thead><tr>{head}</tr></thead>" if head else ""
        return f'<table class="table">{thead}<tbody>{rows}</tbody></table>'


def _cell(value: Any) -> str:
    if is_component(value):
        return render_component(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return esc(value)
    return esc(short_repr(value))


class Image(MetaflowCardComponent):
    """An image from PNG/JPEG/GIF bytes (or a base64 data URI), embedded as a data URI."""

    def __init__(self, src: bytes | str | None = None, label: str | None = None,
                 disable_updates: bool = True) -> None:
        self._label = label
        self._uri, self._error = _image_uri(src)

    def update(self, image: Any, label: str | None = None) -> None:
        self._uri, self._error = _image_uri(image)
        if label is not None:
            self._label = label

    @classmethod
    def from_pil_image(cls, pilimage: Any, label: str | None = None,
                       disable_updates: bool = False) -> Image:
        buf = io.BytesIO()
        pilimage.save(buf, format="PNG")
        return cls(buf.getvalue(), label)

    @classmethod
    def from_matplotlib(cls, plot: Any, label: str | None = None,
                        disable_updates: bool = False) -> Image:
        figure = getattr(plot, "figure", plot)
        buf = io.BytesIO()
        figure.savefig(buf, format="png")
        return cls(buf.getvalue(), label)

    def render(self) -> str:
        label = f"<figcaption>{esc(self._label)}</figcaption>" if self._label else ""
        if self._uri is None:
            return f'<figure class="error">{esc(self._error)}{label}</figure>'
        return f'<figure><img alt="{esc(self._label or "")}" src="{self._uri}">{label}</figure>'


def _image_uri(src: Any) -> tuple[str | None, str]:
    if isinstance(src, bytes | bytearray):
        for magic, mime in _IMAGE_MAGIC:
            if bytes(src[: len(magic)]) == magic:
                return f"data:{mime};base64,{base64.b64encode(bytes(src)).decode()}", ""
        if src[:4] == b"RIFF" and src[8:12] == b"WEBP":
            return f"data:image/webp;base64,{base64.b64encode(bytes(src)).decode()}", ""
        return None, "Image: the bytes are not a PNG, JPEG, GIF or WebP image"
    if isinstance(src, str):
        match = _DATA_URI.fullmatch(src.strip())
        payload = match.group(2) if match else src
        kind = f"image/{match.group(1)}" if match else None
        try:
            raw = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            return None, "Image: the string is not base64 image data"
        if kind is None:
            return _image_uri(raw)
        return f"data:{kind};base64,{base64.b64encode(raw).decode()}", ""
    return None, f"Image: {type(src).__name__} is not supported (give PNG/JPEG/GIF bytes)"


class VegaChart(MetaflowCardComponent):
    """A Vega-Lite chart; shown as its spec (drawing it would need Vega's JavaScript)."""

    def __init__(self, spec: dict[str, Any], show_controls: bool = False) -> None:
        self._spec = spec

    def update(self, spec: Any = None) -> None:
        if spec is not None:
            self._spec = spec.to_dict() if hasattr(spec, "to_dict") else spec

    def render(self) -> str:
        try:
            text = json.dumps(self._spec, indent=2, sort_keys=True, default=str)
        except (TypeError, ValueError):
            text = short_repr(self._spec)
        return (f'<details class="vega"><summary>Vega-Lite chart (spec)</summary>'
                f"<pre>{esc(text)}</pre></details>")


class Error(MetaflowCardComponent):
    def __init__(self, exception: BaseException, title: str | None = None) -> None:
        self._exception, self._title = exception, title

    def render(self) -> str:
        text = esc(short_repr(self._exception))
        return f'<pre class="error">{esc(self._title or "")}\n\n{text}</pre>'


class PythonCode(MetaflowCardComponent):
    def __init__(self, code_func: Any = None, code_string: str | None = None) -> None:
        import inspect

        self._code = code_string if code_string is not None else inspect.getsource(code_func)

    def render(self) -> str:
        return f"<pre><code>{esc(self._code)}</code></pre>"


def is_component(value: object) -> bool:
    """A card component, also when its class comes from another import of this module (as
    `metaflow.cards` may be, when `metaflow` stands for sfncompile)."""
    return any(c.__name__ == "MetaflowCardComponent" for c in type(value).__mro__)


def render_component(component: object) -> str:
    """One component's HTML; a failing render shows as an error, never fails the card."""
    if is_component(component):
        try:
            return str(component.render())  # type: ignore[attr-defined]
        except Exception as exc:
            return f'<pre class="error">{esc(type(component).__name__)} failed to render: ' \
                   f"{esc(short_repr(exc))}</pre>"
    if isinstance(component, str):
        return f"<p>{esc(component)}</p>"
    return Artifact(component).render()


# ---------------------------------------------------------------------------- markdown

_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_SAFE_URL = re.compile(r"(https?://|mailto:|#)", re.IGNORECASE)


def _inline(text: str) -> str:
    """Inline Markdown over escaped text: code first (its content stays literal)."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"<code>{esc(part[1:-1])}</code>")
            continue
        part = esc(part)
        part = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", part)
        part = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", part)

        def link(m: re.Match[str]) -> str:
            url = html.unescape(m.group(2))
            if not _SAFE_URL.match(url):
                return m.group(0)
            return f'<a href="{esc(url)}" rel="noopener noreferrer">{m.group(1)}</a>'

        out.append(_LINK.sub(link, part))
    return "".join(out)


def markdown_to_html(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    paragraph: list[str] = []
    list_tag: str | None = None

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            block = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                block.append(lines[i])
                i += 1
            out.append(f"<pre><code>{esc(chr(10).join(block))}</code></pre>")
        elif not stripped:
            flush()
        elif heading := re.match(r"(#{1,6})\s+(.*)", stripped):
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item := re.match(r"([-*+]|\d+[.)])\s+(.*)", stripped):
            tag = "ol" if item.group(1)[0].isdigit() else "ul"
            if paragraph or list_tag != tag:
                flush()
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{_inline(item.group(2))}</li>")
        else:
            if list_tag:
                flush()
            paragraph.append(stripped)
        i += 1
    flush()
    return "\n".join(out)


def get_cards(task: Any, id: str | None = None, type: str | None = None) -> list[Any]:
    """The cards of a task (a client Task or its pathspec), as the client reads them."""
    from sfncompile.client.card_reader import get_cards as read

    return read(task, id=id, type=type)


__all__ = [
    "Artifact", "Error", "Image", "Markdown", "MetaflowCardComponent", "PythonCode", "Table",
    "UserComponent", "VegaChart", "get_cards",
]
