"""The reader-agreement report as figures and tables (:class:`~workbench.analysis.report.Section`).

:func:`report_sections` draws an :class:`~workbench.agreement.AgreementReport` for the window
(:mod:`workbench.ui.agreement`) and the HTML export alike: every figure comes with the table
of the numbers it draws, and a section with too few cases says so in its text instead of
drawing an empty plot. Only matplotlib's object API is used (no pyplot), through
:func:`workbench.analysis.report.new_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.agreement import JUDGEMENTS
from workbench.analysis.report import Section, Table, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.agreement import (
        AgreementReport,
        CertaintyAgreement,
        DisagreementReport,
        JudgementAgreement,
        MaskAgreement,
    )

__all__ = ["report_sections"]

_LABELS = {
    "yes": "yes",
    "no": "no",
    "equivocal": "equivocal",
    "definite": "definite",
    "probable": "probable",
    "possible": "possible",
    "not_pml": "not PML",
    "not_classifiable": "not classifiable",
}


def _label(value: str) -> str:
    return _LABELS.get(value, value)


def _cases(n: int) -> str:
    return f"{n} case{'' if n == 1 else 's'}"


def _r(value: float | None, digits: int = 3) -> float | None:
    """``value`` rounded for a table; ``None`` (shown as a dash) when missing or undefined."""
    return None if value is None or not math.isfinite(value) else round(value, digits)


def _short(note: str | None) -> str:
    """A kappa's note as a table cell: the reason in a few words (the JSON has it whole)."""
    if not note:
        return ""
    if "one category" in note:
        return "undefined: one category only"
    if "at least 2" in note:
        return "too few cases"
    return note


def _overview(report: AgreementReport) -> Section:
    rows: list[tuple[str, int]] = [
        ("cases with readers assigned", report.cases_with_readers),
        ("counted (every assigned read in)", report.counted),
        ("left out: reads outstanding (blinding)", report.reads_outstanding),
    ]
    if report.since is not None:
        rows.append((f"left out: a read submitted before {report.since}", report.before_since))
    return Section(
        "Cases",
        "Only cases whose every assigned reader has submitted count, with each reader's "
        "current read (the latest submitted revision). " + report.summary() + ".",
        None,
        (Table(("cases", "number"), tuple(rows)),),
    )


def _judgement(section: JudgementAgreement) -> Section:
    rows: list[tuple[Any, ...]] = []
    for p in section.pairs:
        k = p.kappa
        rows.append(
            (
                "Cohen",
                f"{p.reader_a} × {p.reader_b}",
                p.cases,
                _r(p.observed),
                _r(k.kappa) if k else None,
                _r(k.se) if k else None,
                _r(k.ci_low) if k else None,
                _r(k.ci_high) if k else None,
                _short(p.note),
            )
        )
    for g in section.groups:
        k = g.kappa
        rows.append(
            (
                "Fleiss",
                f"cases with {g.readers_per_case} readers",
                g.cases,
                _r(g.observed),
                _r(k.kappa) if k else None,
                None,
                None,
                None,
                _short(g.note),
            )
        )
    summary = Table(
        (
            "method",
            "readers",
            "cases",
            "observed agreement",
            "kappa",
            "SE",
            "95% CI low",
            "95% CI high",
            "note",
        ),
        tuple(rows),
        title="Kappa of the imaging judgement (yes / no / equivocal)",
        note="Cohen's SE is the large-sample SE under the alternative, the CI kappa ± 1.96 SE; "
        "statsmodels gives no SE for Fleiss' kappa. Observed agreement for Fleiss is the "
        "proportion of agreeing reader pairs within cases.",
    )
    cross_rows: list[tuple[Any, ...]] = []
    for p in section.pairs:
        for i, judgement in enumerate(JUDGEMENTS):
            cross_rows.append((f"{p.reader_a} × {p.reader_b}", judgement, *p.table[i]))
    cross = Table(
        ("readers", "first reader judged", *(f"second: {j}" for j in JUDGEMENTS)),
        tuple(cross_rows),
        title="Judgements of each reader pair (cases)",
    )
    text = (
        "Cohen's kappa for every pair of readers over the cases both read; Fleiss' kappa over "
        "the cases read by the same number of readers."
    )
    figure = None
    plotted = [r for r in rows if r[4] is not None]
    if section.note or not plotted:
        text += " " + (section.note or "No kappa could be computed.") + "."
    else:
        figure = _forest(plotted)
    return Section("Imaging judgement agreement", text, figure, (summary, cross))


def _forest(rows: Sequence[tuple[Any, ...]]) -> Figure:
    figure = new_figure(7.0, max(2.2, 0.5 * len(rows) + 1.2))
    ax = figure.add_subplot()
    for y, row in enumerate(reversed(rows)):
        method, _label, n, _, value, _, low, high = row[:8]
        assert isinstance(value, float)
        colour = "#1f77b4" if method == "Cohen" else "#d62728"
        if isinstance(low, float) and isinstance(high, float):
            ax.errorbar(
                value,
                y,
                xerr=[[value - low], [high - value]],
                fmt="o",
                color=colour,
                capsize=4,
            )
        else:
            ax.plot(value, y, "s", color=colour)
        ax.annotate(
            f"{value:.2f} (n={n})",
            (value, y),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=8,
        )
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{r[0]}: {r[1]}" for r in reversed(rows)], fontsize=8)
    ax.axvline(0, color="#888", linewidth=0.8)
    ax.axvline(1, color="#888", linewidth=0.8, linestyle=":")
    low = min(-0.1, *(float(r[6]) for r in rows if isinstance(r[6], float)))
    high = max(1.0, *(float(r[7]) for r in rows if isinstance(r[7], float)))
    ax.set_xlim(low - 0.05, high + 0.15)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("kappa (Cohen: point and 95% CI; Fleiss: square)")
    return figure


def _certainty(section: CertaintyAgreement) -> Section:
    k = section.kappa
    summary = Table(
        ("measure", "value"),
        (
            ("decided cases (final signed decision)", section.cases),
            ("observed agreement", _r(section.observed)),
            ("Cohen's kappa", _r(k.kappa) if k else None),
            ("SE", _r(k.se) if k else None),
            ("95% CI low", _r(k.ci_low) if k else None),
            ("95% CI high", _r(k.ci_high) if k else None),
            ("counted cases without a final decision", section.undecided),
            ("final decisions without the engine's result (left out)", section.no_engine_result),
        ),
        title="Final panel certainty against the criteria engine",
    )
    labels = [_label(c) for c in section.categories]
    cross = Table(
        ("panel \\ engine", *labels),
        tuple((label, *row) for label, row in zip(labels, section.table, strict=True)),
        title="Cases by panel certainty (rows) and engine certainty (columns)",
    )
    text = (
        "The certainty of each case's final signed panel decision against the certainty the "
        "criteria engine gave when that decision was proposed (recorded with the decision)."
    )
    figure = None
    if section.note:
        text += " " + section.note + "."
    else:
        figure = _heatmap(labels, section.table)
    return Section("Panel certainty against the criteria engine", text, figure, (summary, cross))


def _heatmap(labels: list[str], table: tuple[tuple[int, ...], ...]) -> Figure:
    figure = new_figure(5.0, 3.6)
    ax = figure.add_subplot()
    ax.imshow(table, cmap="Blues", vmin=0)
    peak = max((v for row in table for v in row), default=0)
    for i, row in enumerate(table):
        for j, value in enumerate(row):
            ax.text(
                j,
                i,
                str(value),
                ha="center",
                va="center",
                color="white" if peak and value > peak / 2 else "black",
            )
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels)
    ax.set_xlabel("criteria engine")
    ax.set_ylabel("panel (final decision)")
    return figure


def _masks(section: MaskAgreement) -> Section:
    d = section.dice
    v = section.volume
    summary = Table(
        ("measure", "value"),
        (
            ("reader pairs compared (on a series)", len(section.pairs)),
            ("median Dice", _r(d.median) if d else None),
            ("Dice Q1 (25th percentile)", _r(d.q1) if d else None),
            ("Dice Q3 (75th percentile)", _r(d.q3) if d else None),
            ("mean volume difference (mL)", _r(v.mean_difference, 4) if v else None),
            ("SD of the differences (mL)", _r(v.sd, 4) if v else None),
            ("lower limit of agreement (mL)", _r(v.lower, 4) if v else None),
            ("upper limit of agreement (mL)", _r(v.upper, 4) if v else None),
            ("pairs where neither marked a lesion (left out)", section.both_empty),
            ("series marked by one of a pair on different series (left out)", section.other_series),
        ),
        title="Dice of the readers' union masks; Bland-Altman agreement of their volumes",
        note="Volume difference is first reader minus second (readers in name order); the "
        "limits of agreement are the mean difference ± 1.96 SD.",
    )
    pairs = Table(
        (
            "case",
            "series",
            "first reader",
            "second reader",
            "Dice",
            "first volume (mL)",
            "second volume (mL)",
        ),
        tuple(
            (
                p.registry_id,
                p.series,
                p.reader_a,
                p.reader_b,
                _r(p.dice),
                _r(p.volume_a_ml, 4),
                _r(p.volume_b_ml, 4),
            )
            for p in section.pairs
        ),
        title="Every pair of readers on every series",
    )
    text = (
        "For every pair of readers who marked lesions on the same series of a case: the Dice "
        "coefficient of their union masks and each one's total lesion volume. A reader who "
        "marked nothing against one who did scores Dice 0; pairs where neither marked "
        f"anything are left out ({section.both_empty}), as are series marked by one reader "
        f"of a pair who both marked only on different series ({section.other_series})."
    )
    figure = None
    if section.note or v is None:
        text += " " + (section.note or "") + "."
    else:
        figure = _dice_and_bland_altman(section)
    return Section("Lesion mask agreement", text, figure, (summary, pairs))


def _dice_and_bland_altman(section: MaskAgreement) -> Figure:
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    v = section.volume
    assert v is not None
    figure = new_figure(8.0, 3.6)
    left, right = figure.subplots(1, 2, width_ratios=(1, 2.2))
    scores = [p.dice for p in section.pairs]
    left.boxplot(scores, widths=0.5, showfliers=False)
    jitter = np.linspace(-0.12, 0.12, len(scores)) if len(scores) > 1 else np.zeros(1)
    left.plot(1 + jitter, scores, "o", color="#1f77b4", alpha=0.7, markersize=5)
    left.set_ylim(-0.05, 1.05)
    left.set_xticks([1])
    left.set_xticklabels([f"{len(scores)} pairs"])
    left.set_ylabel("Dice of union masks")
    left.set_title("Dice", fontsize=10)
    right.plot(v.means, v.differences, "o", color="#1f77b4", alpha=0.8)
    right.axhline(v.mean_difference, color="#d62728", label=f"mean {v.mean_difference:.3f}")
    for limit, name in ((v.lower, "lower"), (v.upper, "upper")):
        right.axhline(limit, color="#d62728", linestyle="--", label=f"{name} {limit:.3f}")
    right.axhline(0, color="#888", linewidth=0.8)
    right.xaxis.set_major_locator(MaxNLocator(5))
    right.set_xlabel("mean volume of the two readers (mL)")
    right.set_ylabel("difference, first - second (mL)")
    right.set_title("Bland-Altman: lesion volume", fontsize=10)
    right.legend(fontsize=7, loc="best")
    return figure


def _disagreement(section: DisagreementReport) -> Section:
    readers = Table(
        ("reader", "cases", "compared", "disagreements", "disagreement index", "no reference"),
        tuple(
            (r.reader, r.cases, r.compared, r.disagreements, _r(r.index), r.no_reference)
            for r in section.readers
        ),
        title="Disagreement index by reader",
        note="Reference: the panel's own imaging judgement where the final decision records "
        f"one ({_cases(section.panel_reference)}), else the judgement of more than half of "
        "the other readers; cases with neither are not compared.",
    )
    drift = Table(
        ("reader", "half-year", "compared", "disagreements", "disagreement index"),
        tuple(
            (d.reader, d.period, d.compared, d.disagreements, _r(d.index)) for d in section.drift
        ),
        title="Disagreement index by calendar half-year of submission",
    )
    text = (
        "For each reader, the fraction of their cases where their imaging judgement differs "
        "from the panel's or, without one, from the majority of the other readers; and the "
        "same per calendar half-year of the read's submission."
    )
    figure = None
    if section.note:
        text += " " + section.note + "."
    else:
        figure = _disagreement_figure(section)
    return Section("Disagreement by reader", text, figure, (readers, drift))


def _disagreement_figure(section: DisagreementReport) -> Figure:
    figure = new_figure(8.0, 3.6)
    left, right = figure.subplots(1, 2, width_ratios=(1, 1.6))
    shown = [r for r in section.readers if r.index is not None]
    left.barh(
        [r.reader for r in shown][::-1], [r.index or 0.0 for r in shown][::-1], color="#1f77b4"
    )
    for y, r in enumerate(shown[::-1]):
        left.text(
            (r.index or 0) + 0.02, y, f"{r.disagreements}/{r.compared}", va="center", fontsize=8
        )
    left.set_xlim(0, 1.15)
    left.set_xlabel("disagreement index")
    left.set_title("Overall", fontsize=10)
    periods = sorted({d.period for d in section.drift})
    by_reader: dict[str, dict[str, float]] = {}
    for d in section.drift:
        if d.index is not None:
            by_reader.setdefault(d.reader, {})[d.period] = d.index
    for reader, points in sorted(by_reader.items()):
        xs = [periods.index(p) for p in sorted(points)]
        right.plot(xs, [points[p] for p in sorted(points)], "o-", label=reader)
    right.set_xticks(range(len(periods)))
    right.set_xticklabels(periods, fontsize=8)
    right.set_ylim(-0.05, 1.05)
    right.set_xlim(-0.5, max(len(periods) - 0.5, 0.5))
    right.set_ylabel("disagreement index")
    right.set_title("By half-year of submission", fontsize=10)
    if by_reader:
        right.legend(fontsize=7, loc="best")
    return figure


def report_sections(report: AgreementReport) -> list[Section]:
    """The report's sections: cases, imaging judgement, panel vs engine, masks, readers."""
    return [
        _overview(report),
        _judgement(report.judgement),
        _certainty(report.certainty),
        _masks(report.masks),
        _disagreement(report.disagreement),
    ]
