"""The case timeline through the one door: :func:`case_timeline` and :func:`timeline_figure`.

One read transaction per call; the values come blinded for the acting person from
:func:`workbench.timeline.case_timeline`. The figure is drawn by
:func:`workbench.analysis.timeline_plot.timeline_figure` (matplotlib, no Qt), imported when
first asked for so that callers who only want the numbers do not load matplotlib.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.actor import Actor
from workbench.errors import ValidationError
from workbench.registry.db import Registry
from workbench.timeline import (
    AssayLimits,
    Bar,
    CaseTimeline,
    Event,
    ImagingPoint,
    JcvPoint,
    Measure,
    ReadVolume,
    TimelineRow,
)
from workbench.timeline import case_timeline as _case_timeline

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FIGURE_SUFFIXES",
    "AssayLimits",
    "Bar",
    "CaseTimeline",
    "Event",
    "ImagingPoint",
    "JcvPoint",
    "Measure",
    "ReadVolume",
    "TimelineRow",
    "case_timeline",
    "check_figure_path",
    "save_timeline",
    "timeline_figure",
]

FIGURE_SUFFIXES = (".png", ".svg")
"""The files a timeline can be written to."""


def case_timeline(registry: Registry, actor: Actor, registry_id: str) -> CaseTimeline:
    """The timeline of ``registry_id`` as ``actor`` may see it; raises
    :class:`~workbench.errors.NotFoundError` for an unknown case."""
    with registry.read() as session:
        return _case_timeline(session, actor, registry_id)


def timeline_figure(timeline: CaseTimeline) -> Figure:
    """The plot of ``timeline`` (a "nothing to plot" figure when it is empty)."""
    from workbench.analysis.timeline_plot import timeline_figure as draw

    return draw(timeline)


def check_figure_path(path: Path) -> Path:
    """``path`` when a figure can be written there (``.png`` or ``.svg`` in an existing
    folder), else :class:`ValidationError` naming the file and the problem."""
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        suffix = path.suffix or "no suffix"
        raise ValidationError(
            f"{path}: a timeline is written as .png or .svg, not {suffix}", field="out"
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValidationError(f"{path}: the folder {folder} does not exist", field="out")
    return path


def save_timeline(timeline: CaseTimeline, path: Path) -> Path:
    """Draw ``timeline`` and write it to ``path`` (``.png`` or ``.svg``) whole or not at all."""
    from workbench.analysis.report import save_figure

    check_figure_path(path)
    try:
        return save_figure(timeline_figure(timeline), path)
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{path}: {exc}", field="out") from exc
