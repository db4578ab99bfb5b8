"""Reader-agreement statistics on plain values: Dice, Bland–Altman, the disagreement index.

Kappa is not here: Cohen's and Fleiss' kappa are :func:`workbench.analysis.stats.kappa`,
which the registry's agreement report (:mod:`workbench.agreement`) calls with
:class:`~workbench.analysis.stats.Ratings` and :class:`~workbench.analysis.stats.CategoryCounts`
values. This module adds what that report needs besides kappa, on numbers and arrays only
(no registry, no figures), so each piece can be checked against a published example:

- :func:`dice`: the Dice (1945) coefficient of two masks on one grid, ``2|A∩B| / (|A|+|B|)``,
  from :func:`scipy.spatial.distance.dice` (which gives ``1 -`` the coefficient).
- :func:`bland_altman`: the mean difference of paired measurements, its standard deviation
  and the limits of agreement ``mean ± factor · SD`` (Bland & Altman, Lancet 1986;
  factor 1.96 for 95 % limits as in Bland & Altman 1999; the 1986 paper rounded it to 2),
  with numpy's mean and sample standard deviation (``ddof=1``).
- :func:`spread`: median and interquartile range (numpy's linear percentiles).
- :func:`disagreement_index` and :func:`disagreement_drift`: for each reader, the fraction of
  their cases where their imaging judgement differs from the reference (the panel's own
  imaging judgement when it recorded one, else the strict majority of the other readers), in
  all and per calendar half-year of the reader's submission.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.errors import ValidationError

__all__ = [
    "LIMIT_FACTOR",
    "BlandAltman",
    "DriftPoint",
    "JudgedCase",
    "ReaderIndex",
    "Spread",
    "bland_altman",
    "dice",
    "disagreement_drift",
    "disagreement_index",
    "half_year",
    "reference_judgement",
    "spread",
]

LIMIT_FACTOR = 1.96
"""Limits of agreement are mean difference ± this many standard deviations (95 %)."""


def _number(value: float | None) -> float | None:
    """A float for JSON: ``None`` for a missing or non-finite value."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


# --- Dice --------------------------------------------------------------------------------------


def dice(first: Any, second: Any) -> float:
    """The Dice coefficient ``2|A∩B| / (|A|+|B|)`` of two masks (non-zero voxels) on one grid.

    1 for identical masks, 0 for masks that do not overlap (or where one is empty). Raises
    :class:`ValueError` for masks of different shapes, and when both are empty (the
    coefficient is undefined: nothing was marked, so there is nothing to agree on).
    """
    from scipy.spatial.distance import dice as dice_dissimilarity

    a = np.asarray(first) != 0
    b = np.asarray(second) != 0
    if a.shape != b.shape:
        raise ValueError(f"Dice needs masks on one grid: shapes {a.shape} and {b.shape}")
    if not a.any() and not b.any():
        raise ValueError("Dice is undefined when both masks are empty")
    return 1.0 - float(dice_dissimilarity(a.reshape(-1), b.reshape(-1)))


# --- Bland–Altman ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlandAltman:
    """Agreement of paired measurements: differences ``first - second``.

    ``lower``/``upper`` are ``mean_difference ∓ limit_factor · sd``; ``sd`` is the sample
    standard deviation of the differences.
    """

    n: int
    mean_difference: float
    sd: float
    lower: float
    upper: float
    limit_factor: float = LIMIT_FACTOR
    means: tuple[float, ...] = field(default=(), repr=False)
    """The pair means (x of the plot)."""
    differences: tuple[float, ...] = field(default=(), repr=False)
    """The differences (y of the plot)."""

    def as_json(self) -> dict[str, Any]:
        """The summary as JSON (the points are in the report's pair table)."""
        return {
            "n": self.n,
            "mean_difference": _number(self.mean_difference),
            "sd": _number(self.sd),
            "lower_limit": _number(self.lower),
            "upper_limit": _number(self.upper),
            "limit_factor": self.limit_factor,
        }


def bland_altman(
    first: Sequence[float], second: Sequence[float], *, limit_factor: float = LIMIT_FACTOR
) -> BlandAltman:
    """Bland–Altman agreement of ``first`` and ``second`` measured on the same subjects.

    Raises :class:`ValidationError` for sequences of different lengths, fewer than 2 pairs
    (no standard deviation) or a value that is not a finite number.
    """
    a = np.asarray(first, dtype=float)
    b = np.asarray(second, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValidationError(
            f"Bland-Altman needs paired measurements: {a.size} and {b.size} values"
        )
    if a.size < 2:
        raise ValidationError(f"Bland-Altman needs at least 2 pairs (found {a.size})")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValidationError("Bland-Altman: every measurement must be a finite number")
    differences = a - b
    mean = float(np.mean(differences))
    sd = float(np.std(differences, ddof=1))
    return BlandAltman(
        n=int(a.size),
        mean_difference=mean,
        sd=sd,
        lower=mean - limit_factor * sd,
        upper=mean + limit_factor * sd,
        limit_factor=limit_factor,
        means=tuple(float(v) for v in (a + b) / 2),
        differences=tuple(float(v) for v in differences),
    )


# --- median and IQR ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and interquartile range (25th to 75th percentile) of some values."""

    n: int
    median: float
    q1: float
    q3: float

    def as_json(self) -> dict[str, Any]:
        """``n``, ``median``, ``q1``, ``q3``."""
        return {
            "n": self.n,
            "median": _number(self.median),
            "q1": _number(self.q1),
            "q3": _number(self.q3),
        }


def spread(values: Sequence[float]) -> Spread:
    """Median and quartiles of ``values`` (numpy's linear interpolation); at least one value."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        raise ValidationError("a median needs at least one value")
    q1, median, q3 = (float(v) for v in np.percentile(array, [25, 50, 75]))
    return Spread(int(array.size), median, q1, q3)


# --- disagreement index ------------------------------------------------------------------------


def half_year(moment: dt.date) -> str:
    """The calendar half-year of ``moment``: ``"2026 H1"`` (January–June) or ``"2026 H2"``."""
    return f"{moment.year} H{1 if moment.month <= 6 else 2}"


@dataclass(frozen=True, slots=True)
class JudgedCase:
    """One case's imaging judgements: each reader's, and the panel's own when it gave one.

    ``submitted`` holds, for each reader, when their read was submitted (for the drift).
    """

    case: str
    judgements: Mapping[str, str]
    panel: str | None = None
    submitted: Mapping[str, dt.datetime] = field(default_factory=dict)


def reference_judgement(case: JudgedCase, reader: str) -> str | None:
    """What ``reader``'s judgement on ``case`` is compared with.

    The panel's imaging judgement when it recorded one; else the judgement that more than
    half of the *other* readers gave; ``None`` when there is no such majority (or no other
    reader).
    """
    if case.panel is not None:
        return case.panel
    others = [j for r, j in case.judgements.items() if r != reader]
    if not others:
        return None
    counts: dict[str, int] = defaultdict(int)
    for judgement in others:
        counts[judgement] += 1
    best = max(counts.items(), key=lambda item: item[1])
    return best[0] if best[1] * 2 > len(others) else None


@dataclass(frozen=True, slots=True)
class ReaderIndex:
    """One reader's disagreement: of ``compared`` cases, ``disagreements`` differ.

    ``cases`` counts every case they read; ``compared`` those with a reference (the panel's
    judgement or a majority of the others); ``index`` is ``disagreements / compared``
    (``None`` when nothing could be compared).
    """

    reader: str
    cases: int
    compared: int
    disagreements: int

    @property
    def index(self) -> float | None:
        """The fraction of compared cases where the reader differs from the reference."""
        return self.disagreements / self.compared if self.compared else None

    @property
    def no_reference(self) -> int:
        """Cases left out: no panel judgement and no majority among the other readers."""
        return self.cases - self.compared

    def as_json(self) -> dict[str, Any]:
        """``reader``, ``cases``, ``compared``, ``disagreements``, ``index``, ``no_reference``."""
        return {
            "reader": self.reader,
            "cases": self.cases,
            "compared": self.compared,
            "disagreements": self.disagreements,
            "index": _number(self.index),
            "no_reference": self.no_reference,
        }


@dataclass(frozen=True, slots=True)
class DriftPoint:
    """One reader's disagreement index in one calendar half-year of their submissions."""

    reader: str
    period: str
    compared: int
    disagreements: int

    @property
    def index(self) -> float | None:
        """``disagreements / compared`` (``None`` when nothing was compared)."""
        return self.disagreements / self.compared if self.compared else None

    def as_json(self) -> dict[str, Any]:
        """``reader``, ``period``, ``compared``, ``disagreements``, ``index``."""
        return {
            "reader": self.reader,
            "period": self.period,
            "compared": self.compared,
            "disagreements": self.disagreements,
            "index": _number(self.index),
        }


def disagreement_index(cases: Sequence[JudgedCase]) -> tuple[ReaderIndex, ...]:
    """Each reader's disagreement index over ``cases``, readers in name order."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for case in cases:
        for reader, judgement in case.judgements.items():
            counts = tally[reader]
            counts[0] += 1
            reference = reference_judgement(case, reader)
            if reference is not None:
                counts[1] += 1
                counts[2] += judgement != reference
    return tuple(ReaderIndex(reader, *tally[reader]) for reader in sorted(tally))


def disagreement_drift(cases: Sequence[JudgedCase]) -> tuple[DriftPoint, ...]:
    """Each reader's disagreement index per calendar half-year of their submission.

    Only compared cases count (those with a reference); a read without a submission time is
    left out. Sorted by reader, then period.
    """
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for case in cases:
        for reader, judgement in case.judgements.items():
            moment = case.submitted.get(reader)
            reference = reference_judgement(case, reader)
            if moment is None or reference is None:
                continue
            counts = tally[(reader, half_year(moment))]
            counts[0] += 1
            counts[1] += judgement != reference
    return tuple(
        DriftPoint(reader, period, *tally[(reader, period)]) for reader, period in sorted(tally)
    )
