"""The case timeline as one matplotlib figure: stacked panels on one shared day axis.

:func:`timeline_figure` draws a :class:`~workbench.timeline.CaseTimeline` (plain values, already
blinded for the person who asked) with :func:`workbench.analysis.report.new_figure`: no pyplot
and no Qt, so the command line, the HTML reports and the window draw the same figure.

Panels, top to bottom, each only when it has something to show:

1. MRI: the imaging timepoints and each visible read's total lesion volume (mL) per timepoint;
2. CSF JCV DNA on a log scale, with each assay's LOD (dashed) and LOQ (dotted) drawn over the
   days of its results; "not detected" is an open downward triangle at the assay's LOD,
   "detected below LOQ" a half-filled diamond between LOD and LOQ;
3. the anti-JCV antibody index with the 0.9 and 1.5 cut-offs shaded;
4. CD4 count (left axis) and lymphocytes (right axis);
5. drug exposures and treatments as bars (an open end is drawn as an arrow).

The case's events (symptom onset, diagnosis, IRIS, outcome) and day 0 are vertical lines
through every panel, named in the legend above the plot. A drug started long before the rest
of the course (years of natalizumab before PML) would squeeze the course into a sliver: such a
start is cut at the left edge and its real day written on the bar.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from workbench.analysis.report import new_figure
from workbench.timeline import ANTIBODY_BANDS, CaseTimeline, JcvPoint

__all__ = ["EVENT_STYLES", "timeline_figure", "x_range"]

NOTHING_TO_PLOT = "Nothing to plot: no imaging, labs, exposures, treatments or dated events."

_Dash = Literal["--", "-.", ":"]

EVENT_STYLES: dict[str, tuple[str, _Dash]] = {
    "onset": ("#7b3294", "--"),
    "diagnosis": ("#000000", "-."),
    "iris": ("#d7191c", "--"),
    "outcome": ("#555555", ":"),
}
"""Colour and line style of each kind of event line."""

_READER_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
_ASSAY_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e")
_BAR_COLOURS = {"exposure": "#4c72b0", "treatment": "#dd8452"}
_SMALL = 7.0


def _days(timeline: CaseTimeline) -> tuple[list[float], list[float]]:
    """``(focus days, exposure start days)``: every day the plot shows, the starts of drug
    exposures apart (they may lie years before the rest)."""
    focus: list[float] = [p.day for p in timeline.imaging]
    focus += [v.day for v in timeline.volumes]
    focus += [p.day for p in timeline.jcv]
    for measures in (timeline.antibody, timeline.cd4, timeline.lymphocytes):
        focus += [m.day for m in measures]
    focus += [e.day for e in timeline.events]
    starts: list[float] = []
    for bar in timeline.bars:
        if bar.stop_day is not None:
            focus.append(bar.stop_day)
        if bar.start_day is not None:
            (starts if bar.kind == "exposure" else focus).append(bar.start_day)
    return focus, starts


def x_range(timeline: CaseTimeline) -> tuple[float, float]:
    """The days the shared axis spans, padded; exposure starts far before the rest of the
    course (more than half its span) are left out (cut at the edge)."""
    focus, starts = _days(timeline)
    if not focus:
        focus = starts
    if not focus:
        return -10.0, 10.0
    low, high = min(focus), max(focus)
    span = max(high - low, 10.0)
    for start in starts:
        if start >= low - span / 2:
            low = min(low, start)
    span = max(high - low, 10.0)
    pad = max(3.0, 0.04 * span)
    return low - pad, high + pad


def _panels(timeline: CaseTimeline) -> list[str]:
    names = []
    if timeline.imaging or timeline.volumes:
        names.append("mri")
    if timeline.jcv:
        names.append("jcv")
    if timeline.antibody:
        names.append("antibody")
    if timeline.cd4 or timeline.lymphocytes:
        names.append("cells")
    if any(bar.dated for bar in timeline.bars):
        names.append("bars")
    if not names and timeline.events:
        names.append("events")
    return names


def _height(name: str, timeline: CaseTimeline) -> float:
    if name == "bars":
        return 0.45 + 0.3 * sum(1 for bar in timeline.bars if bar.dated)
    if name == "events":
        return 0.6
    if name == "mri" and not timeline.volumes:
        return 0.8  # the timepoints and a note only
    if name == "jcv":
        return 1.7
    return 1.35


def timeline_figure(timeline: CaseTimeline, *, width: float = 9.0) -> Figure:
    """The figure of ``timeline``: one panel per kind of data on a shared day axis, or a
    "nothing to plot" figure when the case has nothing dated at all."""
    names = _panels(timeline)
    if not names:
        figure = new_figure(width, 1.6)
        figure.text(0.5, 0.5, NOTHING_TO_PLOT, ha="center", va="center", wrap=True)
        figure.suptitle(f"{timeline.registry_id} — timeline", fontsize=10)
        return figure
    heights = [_height(name, timeline) for name in names]
    figure = new_figure(width, 1.2 + sum(heights))
    axes_array = figure.subplots(len(names), 1, sharex=True, squeeze=False, height_ratios=heights)
    axes: list[Axes] = [row[0] for row in axes_array]
    low, high = x_range(timeline)
    draw: dict[str, Callable[[Axes, CaseTimeline, tuple[float, float]], None]] = {
        "mri": _draw_mri,
        "jcv": _draw_jcv,
        "antibody": _draw_antibody,
        "cells": _draw_cells,
        "bars": _draw_bars,
        "events": _draw_events_only,
    }
    for name, ax in zip(names, axes, strict=True):
        draw[name](ax, timeline, (low, high))
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        ax.tick_params(labelsize=_SMALL + 0.5)
    handles = _draw_events(axes, timeline)
    axes[0].set_xlim(low, high)
    axes[-1].set_xlabel(f"days from day 0 ({timeline.index_event})", fontsize=_SMALL + 1)
    figure.suptitle(f"{timeline.registry_id} — course of the case", fontsize=10)
    if handles:
        figure.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(handles), 5),
            fontsize=_SMALL,
            frameon=False,
        )
    return figure


def _draw_events(axes: Sequence[Axes], timeline: CaseTimeline) -> list[Line2D]:
    """Day 0 and every event as vertical lines through all panels; their legend entries."""
    handles: list[Line2D] = []
    for ax in axes:
        ax.axvline(0, color="#999999", linewidth=0.7, linestyle=(0, (1, 2)), zorder=0)
    handles.append(
        Line2D([], [], color="#999999", linewidth=0.7, linestyle=(0, (1, 2)), label="day 0")
    )
    for event in timeline.events:
        colour, style = EVENT_STYLES.get(event.kind, ("#555555", ":"))
        if event.kind == "outcome" and event.label == "death":
            colour = "#000000"
        for ax in axes:
            ax.axvline(event.day, color=colour, linestyle=style, linewidth=1.1, zorder=1)
        handles.append(
            Line2D(
                [],
                [],
                color=colour,
                linestyle=style,
                linewidth=1.1,
                label=f"{event.label} ({event.day:+d})",
            )
        )
    return handles


def _draw_events_only(ax: Axes, timeline: CaseTimeline, span: tuple[float, float]) -> None:
    ax.set_yticks([])
    ax.set_ylabel("events", fontsize=_SMALL + 1)


def _legend(ax: Axes, handles: Sequence[Artist] | None = None) -> None:
    """The panel's legend to the right of it, where it hides no point."""
    if handles is None:
        handles, _ = ax.get_legend_handles_labels()
    ax.legend(
        handles=list(handles),
        fontsize=_SMALL,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        borderaxespad=0,
    )


def _note(ax: Axes, text: str) -> None:
    ax.text(
        0.01,
        0.95,
        text,
        transform=ax.transAxes,
        ha="left",
        va="top",
        fontsize=_SMALL,
        color="#555555",
        wrap=True,
    )


def _draw_mri(ax: Axes, timeline: CaseTimeline, span: tuple[float, float]) -> None:
    for point in timeline.imaging:
        ax.axvline(point.day, color="#bbbbbb", linewidth=4, alpha=0.35, zorder=0)
    readers: dict[str, list[tuple[int, float]]] = {}
    for volume in timeline.volumes:
        readers.setdefault(volume.label, []).append((volume.day, volume.volume_ml))
    top = max((v.volume_ml for v in timeline.volumes), default=0.0)
    for n, (label, points) in enumerate(sorted(readers.items())):
        days = [d for d, _ in points]
        values = [v for _, v in points]
        ax.plot(
            days,
            values,
            marker="o",
            markersize=5,
            linewidth=1.2,
            color=_READER_COLOURS[n % len(_READER_COLOURS)],
            label=label,
        )
    ax.plot(
        [p.day for p in timeline.imaging],
        [0.0] * len(timeline.imaging),
        linestyle="none",
        marker="^",
        markersize=7,
        color="#666666",
        clip_on=False,
        label="MRI timepoint",
    )
    ax.set_ylim(0, top * 1.25 if top > 0 else 1.0)
    ax.set_ylabel("lesions (mL)", fontsize=_SMALL + 1)
    if not timeline.volumes:
        ax.set_yticks([])
        _note(ax, timeline.reads_note or "No lesion volumes: no read with marked lesions.")
    elif timeline.reads_note:
        _note(ax, timeline.reads_note)
    _legend(ax)


def jcv_positions(points: Sequence[JcvPoint]) -> tuple[list[float], float]:
    """Where each CSF JCV point sits on the log axis, and the floor of the axis.

    A number is drawn at its value; "not detected" at the assay's LOD; "detected below LOQ"
    between LOD and LOQ (their geometric mean); "detected" without a number at the LOQ (else
    the LOD); anything without a limit to sit on (and "not done") on the floor, a third below
    the smallest number or limit of the case.
    """
    known = [
        x
        for p in points
        for x in (p.value if p.kind == "quantified" else None, p.lod, p.loq)
        if x is not None and x > 0
    ]
    floor = min(known) / 3 if known else 1.0

    def position(p: JcvPoint) -> float:
        lod = p.lod if p.lod and p.lod > 0 else None
        loq = p.loq if p.loq and p.loq > 0 else None
        if p.kind == "quantified" and p.value is not None and p.value > 0:
            return p.value
        if p.kind == "not_detected":
            return lod or floor
        if p.kind == "below_loq":
            if lod and loq:
                return math.sqrt(lod * loq)
            return loq or lod or floor
        if p.kind == "detected":
            return loq or lod or floor
        return floor

    return [position(p) for p in points], floor


_JCV_STYLE: dict[str, dict[str, str]] = {
    "quantified": {"marker": "o", "color": "#b2182b", "facecolor": "#b2182b", "label": "detected"},
    "detected": {
        "marker": "o",
        "color": "#b2182b",
        "facecolor": "white",
        "label": "detected, not quantified",
    },
    "below_loq": {
        "marker": "D",
        "color": "#e08214",
        "facecolor": "#fdb863",
        "label": "detected below LOQ",
    },
    "not_detected": {
        "marker": "v",
        "color": "#2166ac",
        "facecolor": "none",
        "label": "not detected",
    },
    "not_done": {"marker": "x", "color": "#777777", "facecolor": "#777777", "label": "not done"},
}


def _draw_jcv(ax: Axes, timeline: CaseTimeline, span: tuple[float, float]) -> None:
    points = timeline.jcv
    ys, floor = jcv_positions(points)
    ax.set_yscale("log")
    width = 0.03 * (span[1] - span[0])
    for n, limits in enumerate(timeline.assays):
        colour = _ASSAY_COLOURS[n % len(_ASSAY_COLOURS)]
        x0, x1 = limits.first_day - width, limits.last_day + width
        short = limits.assay if len(limits.assay) <= 28 else limits.assay[:27] + "…"
        lines: tuple[tuple[str, float | None, _Dash], ...] = (
            ("LOD", limits.lod, "--"),
            ("LOQ", limits.loq, ":"),
        )
        for name, value, style in lines:
            if value is None or value <= 0:
                continue
            ax.hlines(value, x0, x1, colors=colour, linestyles=style, linewidth=1.3)
            # The label goes on the side of the segment with more room.
            right = x1 < (span[0] + span[1]) / 2
            ax.text(
                x1 if right else x0,
                value,
                f" {name} {value:g} · {short} " if right else f" {short} · {name} {value:g} ",
                fontsize=_SMALL - 0.5,
                color=colour,
                va="center",
                ha="left" if right else "right",
                clip_on=True,
            )
    for kind, look in _JCV_STYLE.items():
        chosen = [(p.day, y) for p, y in zip(points, ys, strict=True) if p.kind == kind]
        if not chosen:
            continue
        ax.scatter(
            [d for d, _ in chosen],
            [y for _, y in chosen],
            marker=look["marker"],
            s=48,
            edgecolors=look["color"],
            facecolors=look["facecolor"],
            linewidths=1.4,
            label=look["label"],
            zorder=3,
        )
    top = max([*ys, *(x for a in timeline.assays for x in (a.lod, a.loq) if x)], default=floor)
    bottom = floor / 2
    ax.set_ylim(bottom, max(top * 4, bottom * 100))  # at least two decades
    ax.yaxis.set_minor_formatter(NullFormatter())
    units = {p.unit for p in points if p.unit}
    unit = units.pop() if len(units) == 1 else ("mixed units" if units else "copies/mL")
    ax.set_ylabel(f"CSF JCV\n({unit})", fontsize=_SMALL + 1)
    _legend(ax)


def _draw_antibody(ax: Axes, timeline: CaseTimeline, span: tuple[float, float]) -> None:
    low_cut, high_cut = ANTIBODY_BANDS
    values = [m.value for m in timeline.antibody]
    top = max(max(values) * 1.2, high_cut * 2)
    ax.axhspan(0, low_cut, color="#d9f0d3", alpha=0.7, zorder=0, label=f"≤{low_cut:g}")
    ax.axhspan(
        low_cut, high_cut, color="#fee8c8", alpha=0.8, zorder=0, label=f"{low_cut:g}–{high_cut:g}"
    )
    ax.axhspan(high_cut, top, color="#fcbba1", alpha=0.45, zorder=0, label=f">{high_cut:g}")
    for source, marker in (("lab", "o"), ("clinical record", "s")):
        chosen = [m for m in timeline.antibody if m.source == source]
        if chosen:
            ax.plot(
                [m.day for m in chosen],
                [m.value for m in chosen],
                linestyle="none",
                marker=marker,
                markersize=6,
                color="#6a3d9a",
                label=f"index ({source})",
            )
    ax.set_ylim(0, top)
    ax.set_ylabel("anti-JCV\nindex", fontsize=_SMALL + 1)
    _legend(ax)


def _draw_cells(ax: Axes, timeline: CaseTimeline, span: tuple[float, float]) -> None:
    handles = []
    lymph_ax = ax
    if timeline.cd4:
        for source, marker in (("lab", "o"), ("clinical", "s")):
            chosen = [m for m in timeline.cd4 if m.source.startswith(source)]
            if chosen:
                (line,) = ax.plot(
                    [m.day for m in chosen],
                    [m.value for m in chosen],
                    linestyle="none",
                    marker=marker,
                    markersize=6,
                    color="#1f78b4",
                    label="CD4 " + ("(lab)" if source == "lab" else "nadir (record)"),
                )
                handles.append(line)
        ax.set_ylim(0, max(m.value for m in timeline.cd4) * 1.3 or 1.0)
        ax.set_ylabel("CD4\n(cells/µL)", fontsize=_SMALL + 1, color="#1f78b4")
        if timeline.lymphocytes:
            lymph_ax = ax.twinx()
            lymph_ax.tick_params(labelsize=_SMALL + 0.5)
    if timeline.lymphocytes:
        (line,) = lymph_ax.plot(
            [m.day for m in timeline.lymphocytes],
            [m.value for m in timeline.lymphocytes],
            linestyle="none",
            marker="D",
            markersize=5,
            color="#33a02c",
            label="lymphocytes",
        )
        handles.append(line)
        lymph_ax.set_ylim(0, max(m.value for m in timeline.lymphocytes) * 1.3 or 1.0)
        lymph_ax.set_ylabel("lymphocytes\n(×10⁹/L)", fontsize=_SMALL + 1, color="#33a02c")
    if lymph_ax is not ax:
        # The right of this panel holds the lymphocyte axis: the legend goes inside.
        ax.legend(handles=handles, fontsize=_SMALL, loc="upper left", framealpha=0.85)
        return
    _legend(ax, handles)


def _draw_bars(ax: Axes, timeline: CaseTimeline, span: tuple[float, float]) -> None:
    low, high = span
    bars = [bar for bar in timeline.bars if bar.dated]
    labels = []
    for row, bar in enumerate(bars):
        y = len(bars) - 1 - row
        colour = _BAR_COLOURS.get(bar.kind, "#888888")
        start = low if bar.start_day is None else max(float(bar.start_day), low)
        stop = high if bar.stop_day is None else float(bar.stop_day)
        if stop <= start:
            stop = start + max(1.0, 0.004 * (high - low))  # a one-day treatment stays visible
        ax.barh(y, stop - start, left=start, height=0.55, color=colour, alpha=0.85)
        if bar.stop_day is None:
            ax.plot([high], [y], marker=">", color=colour, markersize=8, clip_on=False)
            ax.text(high, y + 0.32, "no stop day ", fontsize=_SMALL - 1, ha="right", va="bottom")
        if bar.start_day is None:
            ax.plot([low], [y], marker="<", color=colour, markersize=8, clip_on=False)
            ax.text(low, y + 0.32, " start unknown", fontsize=_SMALL - 1, ha="left", va="bottom")
        elif bar.start_day < low:
            ax.plot([low], [y], marker="<", color=colour, markersize=8, clip_on=False)
            ax.text(
                low,
                y + 0.32,
                f" from day {bar.start_day:+d}",
                fontsize=_SMALL - 1,
                ha="left",
                va="bottom",
            )
        labels.append(bar.label if len(bar.label) <= 24 else bar.label[:23] + "…")
    ax.set_yticks(range(len(bars)), list(reversed(labels)), fontsize=_SMALL)
    ax.set_ylim(-0.6, len(bars) - 0.1)
    kinds = sorted({bar.kind for bar in bars})
    _legend(
        ax,
        [
            Line2D([], [], color=_BAR_COLOURS.get(k, "#888888"), linewidth=6, label=k + "s")
            for k in kinds
        ],
    )
