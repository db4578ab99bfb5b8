"""Figures and self-contained HTML reports for the registry's statistics.

Every report (reader agreement, registry analytics, a case's timeline) is made of
:class:`Section` values: a title, a matplotlib figure and the tables of numbers the figure
draws, so that every plot comes with its numbers. :func:`html_document` renders sections as one
HTML file with the figures inline as SVG (no side files, no scripts, every text escaped), which
opens in any browser and can be mailed or archived as it is.

Figures are :class:`matplotlib.figure.Figure` objects made with :func:`new_figure`, never with
``pyplot``: no global state, safe off the GUI thread, and the window embeds the same figure in a
canvas (:mod:`workbench.ui.figure_view`).
"""

from __future__ import annotations

import html
import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

from workbench.errors import ValidationError

__all__ = [
    "CHANGED_MARK",
    "FIGURE_FORMATS",
    "Section",
    "Table",
    "check_report_path",
    "figure_bytes",
    "html_document",
    "new_figure",
    "save_figure",
    "svg_text",
    "write_report",
    "write_text_atomic",
]

CHANGED_MARK = "CHANGED"
"""A table cell holding this marks its row as a change (the window tints the row)."""

#: The formats a figure can be exported to, by file suffix.
FIGURE_FORMATS = {".png": "png", ".svg": "svg"}

_CELL = str | int | float | None


def new_figure(width: float = 7.0, height: float = 3.4) -> Figure:
    """A figure of ``width`` × ``height`` inches with the reports' look (no pyplot)."""
    return Figure(figsize=(width, height), layout="constrained")


def figure_bytes(figure: Figure, fmt: str, *, dpi: int = 150) -> bytes:
    """``figure`` rendered as ``fmt`` ("png" or "svg")."""
    if fmt not in FIGURE_FORMATS.values():
        raise ValueError(f"figure format {fmt!r}: use one of {sorted(FIGURE_FORMATS.values())}")
    buffer = io.BytesIO()
    # A fixed date in the SVG metadata keeps two exports of the same figure identical.
    metadata = {"Date": None} if fmt == "svg" else None
    figure.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    return buffer.getvalue()


def svg_text(figure: Figure) -> str:
    """``figure`` as an SVG element to inline in HTML (without the XML prologue)."""
    text = figure_bytes(figure, "svg").decode("utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def save_figure(figure: Figure, path: Path) -> Path:
    """Write ``figure`` to ``path`` as PNG or SVG (by its suffix), atomically.

    Raises :class:`ValueError` naming the path when the suffix is neither ``.png`` nor
    ``.svg``; the file is written whole or not at all.
    """
    fmt = FIGURE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        suffix = path.suffix or "(none)"
        raise ValueError(f"{path}: a figure is saved as .png or .svg, not {suffix}")
    _write_atomic(path, figure_bytes(figure, fmt))
    return path


@dataclass(frozen=True, slots=True)
class Table:
    """A table of numbers as it is shown: column headings and rows of plain cells."""

    columns: tuple[str, ...]
    rows: tuple[tuple[_CELL, ...], ...]
    title: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Section:
    """One part of a report: a title, an optional explanation, a figure and its tables."""

    title: str
    text: str = ""
    figure: Figure | None = None
    tables: tuple[Table, ...] = field(default_factory=tuple)


def _cell(value: _CELL) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table_html(table: Table) -> str:
    parts = ["<table>"]
    if table.title:
        parts.append(f"<caption>{html.escape(table.title)}</caption>")
    headings = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    parts.append(f"<thead><tr>{headings}</tr></thead>")
    parts.append("<tbody>")
    for row in table.rows:
        parts.append("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>")
    parts.append("</tbody></table>")
    if table.note:
        parts.append(f'<p class="note">{html.escape(table.note)}</p>')
    return "\n".join(parts)


_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 60em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.3em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
th { background: #eee; } .note, .meta { color: #555; font-size: 0.9em; }
figure { margin: 0.8em 0; } svg { max-width: 100%; height: auto; }
"""


def html_document(
    title: str, sections: Sequence[Section], *, meta: Mapping[str, str] | None = None
) -> str:
    """A self-contained HTML page: ``title``, the ``meta`` lines (generated, by whom, software
    version, ...) and every section with its figure inline as SVG and its tables."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if meta:
        parts.append('<p class="meta">')
        parts.append("<br>".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in meta.items()))
        parts.append("</p>")
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        if section.text:
            parts.append(f"<p>{html.escape(section.text)}</p>")
        if section.figure is not None:
            parts.append(f"<figure>{svg_text(section.figure)}</figure>")
        parts.extend(_table_html(table) for table in section.tables)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def check_report_path(path: Path, *, field: str = "html") -> Path:
    """``path`` if a report can be written there, else :class:`ValidationError` naming the
    file and the problem (a folder, or a folder that does not exist). Commands call it before
    any work is done."""
    path = Path(path)
    if path.is_dir():
        raise ValidationError(
            f"{path}: is a folder; give the name of the HTML file to write", field=field
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValidationError(
            f"{path}: cannot write the report: the folder {folder} does not exist", field=field
        )
    return path


def write_report(path: Path, text: str, *, field: str = "html") -> Path:
    """Write the report ``text`` to ``path``, whole or not at all; a path that cannot be
    written (see :func:`check_report_path`, or no permission) is a :class:`ValidationError`
    naming the file, and nothing is left behind."""
    path = check_report_path(path, field=field)
    try:
        return write_text_atomic(path, text)
    except OSError as exc:
        raise ValidationError(
            f"{path}: cannot write the report: {exc.strerror or exc}", field=field
        ) from None


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all."""
    _write_atomic(path, text.encode("utf-8"))
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ValueError(f"{path}: the folder {directory} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
