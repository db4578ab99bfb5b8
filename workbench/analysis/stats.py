"""Agreement, incidence and survival statistics for the analyst's own CSV tables.

Two layers, kept apart so that the registry's own analytics can reuse the statistics without CSV
files: the ``read_*`` functions turn a CSV file into plain frozen values and refuse bad content
with a :class:`~workbench.errors.ValidationError` naming the file, the line, the column and the
problem; :func:`kappa`, :func:`incidence` and :func:`survival` compute on those values and
return frozen results with ``as_json()``.

The statistics come from statsmodels and scipy, not from formulas written here (the one
exception, the log-Wald interval, is a one-line transform documented where it is used):

- Cohen's kappa (two raters): :func:`statsmodels.stats.inter_rater.cohens_kappa`; its standard
  error is the large-sample SE *under the alternative* (Fleiss, Cohen & Everitt 1969), the 95 %
  CI is kappa ± 1.96 · that SE, and the z test uses the SE *under the null* (kappa = 0), as SAS
  PROC FREQ reports them.
- Fleiss' kappa (three or more raters, or a table of category counts): Fleiss (1971) via
  :func:`statsmodels.stats.inter_rater.fleiss_kappa` with ``method="fleiss"``; no standard error
  is reported (statsmodels gives none).
- Incidence: the exact Poisson interval of Garwood (1936) (chi-square/gamma quantiles,
  :func:`statsmodels.stats.rates.confint_poisson` ``method="exact-c"``) or the log-Wald interval
  for person-years; the exact binomial interval of Clopper & Pearson (1934)
  (:func:`statsmodels.stats.proportion.proportion_confint` ``method="beta"``) or the log-Wald
  interval for patients.
- Survival: Kaplan–Meier with Greenwood's standard errors and the median with its
  Brookmeyer–Crowley CI (complementary log-log transform) from
  :class:`statsmodels.duration.survfunc.SurvfuncRight`; the log-rank test from
  :func:`statsmodels.duration.survfunc.survdiff` (unweighted).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from workbench.errors import ValidationError

__all__ = [
    "CategoryCounts",
    "GroupSurvival",
    "IncidenceResult",
    "IncidenceTable",
    "KaplanMeierRow",
    "KappaResult",
    "LogRank",
    "Ratings",
    "StratumCount",
    "StratumRate",
    "SurvivalData",
    "SurvivalResult",
    "incidence",
    "kappa",
    "read_counts",
    "read_incidence",
    "read_ratings",
    "read_survival",
    "survival",
]

PER = 1000
"""Rates are given per this many person-years (or patients)."""

CONFIDENCE = 0.95
"""Every interval is a two-sided 95 % interval."""

SUBJECT_COLUMN = "subject"
"""The optional first column of a ratings or counts table that names the subjects."""

CiMethod = Literal["exact", "log-wald"]
Denominator = Literal["person_years", "patients"]


def _number(value: float | None) -> float | None:
    """A float for JSON: ``None`` for a missing, infinite or undefined (NaN) value."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


# --- reading CSV files ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """One data row of a CSV file: its line number and its cells by column name."""

    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class _Table:
    """A CSV file read as text: its path, its column names (stripped) and its data rows."""

    path: Path
    columns: tuple[str, ...]
    rows: tuple[_Row, ...]

    def error(self, problem: str, *, line: int | None = None, column: str | None = None) -> None:
        """Refuse the file: raise a ValidationError naming file, line, column and problem."""
        where = [str(self.path)]
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        raise ValidationError(f"{', '.join(where)}: {problem}", field=column)

    def require(self, *names: str) -> None:
        """Refuse the file unless its header has every one of ``names``."""
        for name in names:
            if name not in self.columns:
                self.error(
                    f"missing column (the header has {', '.join(map(repr, self.columns))})",
                    line=1,
                    column=name,
                )

    def at_least(self, count: int, what: str) -> None:
        """Refuse the file unless it has at least ``count`` data rows."""
        if len(self.rows) < count:
            last = self.rows[-1].line if self.rows else 1
            self.error(f"fewer than {count} {what} (found {len(self.rows)})", line=last)


def _read_table(path: Path) -> _Table:
    """Read ``path`` as a comma-separated table with a header line; skip blank lines."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header: list[str] | None = None
            rows: list[_Row] = []
            start = 1
            for record in reader:
                if not any(cell.strip() for cell in record):
                    start = reader.line_num + 1
                    continue
                if header is None:
                    header = [cell.strip() for cell in record]
                    table = _Table(path, tuple(header), ())
                    for index, name in enumerate(header, start=1):
                        if not name:
                            table.error(f"column {index} of the header has no name", line=start)
                    if len(set(header)) != len(header):
                        twice = sorted({name for name in header if header.count(name) > 1})
                        table.error("column named twice in the header", line=start, column=twice[0])
                else:
                    if len(record) != len(header):
                        _Table(path, tuple(header), ()).error(
                            f"has {len(record)} cells, the header has {len(header)}", line=start
                        )
                    cells = {name: cell.strip() for name, cell in zip(header, record, strict=True)}
                    rows.append(_Row(start, cells))
                start = reader.line_num + 1
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValidationError(f"{path}: cannot be read as a CSV table: {exc}") from exc
    if header is None:
        raise ValidationError(f"{path}, line 1: empty file (expected a header line)")
    return _Table(path, tuple(header), tuple(rows))


def _integer(table: _Table, row: _Row, column: str, *, minimum: int = 0) -> int:
    """The cell as a whole number of at least ``minimum`` (``3`` and ``3.0`` are accepted)."""
    text = row.cells[column]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value):
        table.error(f"{text!r} is not a whole number", line=row.line, column=column)
    if value < minimum:
        table.error(f"{text!r} is less than {minimum}", line=row.line, column=column)
    return int(value)


def _real(table: _Table, row: _Row, column: str) -> float:
    """The cell as a finite number."""
    text = row.cells[column]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        table.error(f"{text!r} is not a number", line=row.line, column=column)
    return value


def _nonempty(table: _Table, row: _Row, column: str, what: str) -> str:
    """The cell's text; refuse an empty cell."""
    text = row.cells[column]
    if not text:
        table.error(f"empty {what}", line=row.line, column=column)
    return text


def _subjects(table: _Table) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The subject names (the ``subject`` column, else the line numbers) and the other columns."""
    if SUBJECT_COLUMN in table.columns:
        names = tuple(_nonempty(table, row, SUBJECT_COLUMN, "subject") for row in table.rows)
        others = tuple(name for name in table.columns if name != SUBJECT_COLUMN)
    else:
        names = tuple(f"line {row.line}" for row in table.rows)
        others = table.columns
    return names, others


# --- kappa ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratings:
    """Category labels: ``labels[i][j]`` is rater ``raters[j]``'s label for ``subjects[i]``."""

    raters: tuple[str, ...]
    subjects: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class CategoryCounts:
    """Subjects × categories: ``counts[i][k]`` raters put ``subjects[i]`` in ``categories[k]``.

    Every subject has the same number of ratings (Fleiss' kappa needs it).
    """

    categories: tuple[str, ...]
    subjects: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]


def read_ratings(path: Path) -> Ratings:
    """Read one row per subject, one column per rater, cells the category labels.

    An optional column ``subject`` names the subjects. Refused: fewer than two rater columns,
    fewer than two subjects, an empty cell, and a table in which every rating is the same
    category (kappa is then undefined: the expected agreement is 1).
    """
    table = _read_table(Path(path))
    subjects, raters = _subjects(table)
    if len(raters) < 2:
        table.error(
            f"fewer than 2 rater columns (found {len(raters)}: one column per rater)", line=1
        )
    table.at_least(2, "subjects")
    labels = tuple(
        tuple(_nonempty(table, row, rater, "rating") for rater in raters) for row in table.rows
    )
    categories = {label for row in labels for label in row}
    if len(categories) < 2:
        table.error(
            f"every rating is {next(iter(categories))!r}: kappa is undefined with a single "
            "category (expected agreement 1)",
            line=table.rows[0].line,
            column=raters[0],
        )
    return Ratings(raters, subjects, labels)


def read_counts(path: Path) -> CategoryCounts:
    """Read one row per subject, one column per category, cells the number of raters.

    An optional column ``subject`` names the subjects. Refused: fewer than two category columns,
    fewer than two subjects, a cell that is not a whole number ≥ 0, rows with different numbers
    of ratings or fewer than 2, and all ratings in one category (kappa undefined).
    """
    table = _read_table(Path(path))
    subjects, categories = _subjects(table)
    if len(categories) < 2:
        table.error(
            f"fewer than 2 category columns (found {len(categories)}: one column per category)",
            line=1,
        )
    table.at_least(2, "subjects")
    counts = tuple(
        tuple(_integer(table, row, category) for category in categories) for row in table.rows
    )
    raters = sum(counts[0])
    for row, row_counts in zip(table.rows, counts, strict=True):
        if sum(row_counts) != raters:
            table.error(
                f"{sum(row_counts)} ratings, the first subject has {raters}: every subject "
                "needs the same number of ratings",
                line=row.line,
            )
    if raters < 2:
        table.error(f"{raters} rating(s) per subject: at least 2 needed", line=table.rows[0].line)
    used = [category for k, category in enumerate(categories) if any(c[k] for c in counts)]
    if len(used) < 2:
        table.error(
            "every rating is in this category: kappa is undefined with a single category "
            "(expected agreement 1)",
            line=table.rows[0].line,
            column=used[0],
        )
    return CategoryCounts(categories, subjects, counts)


@dataclass(frozen=True)
class KappaResult:
    """Chance-corrected agreement of categorical ratings.

    ``method`` is ``"cohen"`` (two raters) or ``"fleiss"``. For Cohen's kappa ``se`` is the
    asymptotic SE under the alternative, ``ci_low``/``ci_high`` the 95 % Wald CI from it,
    ``se_null`` the SE under kappa = 0 and ``z``/``p_value`` the two-sided test of kappa = 0;
    for Fleiss' kappa these are ``None``.
    """

    method: Literal["cohen", "fleiss"]
    subjects: int
    raters: int
    categories: tuple[str, ...]
    kappa: float
    se: float | None
    ci_low: float | None
    ci_high: float | None
    se_null: float | None
    z: float | None
    p_value: float | None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "method": self.method,
            "subjects": self.subjects,
            "raters": self.raters,
            "categories": list(self.categories),
            "kappa": _number(self.kappa),
            "se": _number(self.se),
            "ci_low": _number(self.ci_low),
            "ci_high": _number(self.ci_high),
            "se_null": _number(self.se_null),
            "z": _number(self.z),
            "p_value": _number(self.p_value),
            "confidence": CONFIDENCE,
        }


def kappa(data: Ratings | CategoryCounts) -> KappaResult:
    """Cohen's kappa for two raters' labels, Fleiss' kappa for more raters or for counts.

    Raises :class:`ValidationError` where kappa is undefined (fewer than two subjects, or all
    ratings in one category).
    """
    import numpy as np
    from statsmodels.stats import inter_rater

    if isinstance(data, Ratings):
        categories = tuple(sorted({label for row in data.labels for label in row}))
        n_raters = len(data.raters)
        n_subjects = len(data.subjects)
    else:
        categories = tuple(
            c for k, c in enumerate(data.categories) if any(row[k] for row in data.counts)
        )
        n_raters = sum(data.counts[0]) if data.counts else 0
        n_subjects = len(data.subjects)
    if n_subjects < 2:
        raise ValidationError(f"kappa needs at least 2 subjects (found {n_subjects})")
    if len(categories) < 2:
        raise ValidationError("kappa is undefined when every rating is in one category")
    if isinstance(data, Ratings) and n_raters == 2:
        index = {category: k for k, category in enumerate(categories)}
        table = np.zeros((len(categories), len(categories)))
        for first, second in data.labels:
            table[index[first], index[second]] += 1
        result = inter_rater.cohens_kappa(table)
        return KappaResult(
            method="cohen",
            subjects=n_subjects,
            raters=2,
            categories=categories,
            kappa=float(result.kappa),
            se=float(result.std_kappa),
            ci_low=float(result.kappa_low),
            ci_high=float(result.kappa_upp),
            se_null=float(result.std_kappa0),
            z=float(result.z_value),
            p_value=float(result.pvalue_two_sided),
        )
    if isinstance(data, Ratings):
        codes = np.array([[categories.index(label) for label in row] for row in data.labels])
        counts, _ = inter_rater.aggregate_raters(codes, n_cat=len(categories))
    else:
        counts = np.array(data.counts)
    if n_raters < 2:
        raise ValidationError(f"kappa needs at least 2 ratings per subject (found {n_raters})")
    value = float(inter_rater.fleiss_kappa(counts, method="fleiss"))
    if not math.isfinite(value):
        raise ValidationError("kappa is undefined for these ratings (expected agreement 1)")
    return KappaResult(
        method="fleiss",
        subjects=n_subjects,
        raters=n_raters,
        categories=categories,
        kappa=value,
        se=None,
        ci_low=None,
        ci_high=None,
        se_null=None,
        z=None,
        p_value=None,
    )


# --- incidence --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StratumCount:
    """One stratum's events and denominator (person-years, or number of patients)."""

    stratum: str
    events: int
    denominator: float


@dataclass(frozen=True)
class IncidenceTable:
    """Events per stratum over person-years or over patients."""

    denominator: Denominator
    strata: tuple[StratumCount, ...]


def read_incidence(path: Path) -> IncidenceTable:
    """Read columns ``stratum``, ``events`` and either ``person_years`` or ``patients``.

    Refused: a missing column, both denominators, events that are not a whole number ≥ 0,
    person-years that are not a positive number, patients that are not a whole number ≥ 1,
    more events than patients, a stratum named twice, and a file without data rows.
    """
    table = _read_table(Path(path))
    table.require("stratum", "events")
    has_py = "person_years" in table.columns
    has_patients = "patients" in table.columns
    if has_py == has_patients:
        problem = "both given" if has_py else "missing column"
        table.error(
            f"{problem}: give exactly one of 'person_years' or 'patients'",
            line=1,
            column="person_years",
        )
    denominator: Denominator = "person_years" if has_py else "patients"
    table.at_least(1, "strata")
    strata: list[StratumCount] = []
    seen: dict[str, int] = {}
    for row in table.rows:
        name = _nonempty(table, row, "stratum", "stratum")
        if name in seen:
            table.error(
                f"stratum {name!r} already on line {seen[name]}", line=row.line, column="stratum"
            )
        seen[name] = row.line
        events = _integer(table, row, "events")
        if denominator == "person_years":
            years = _real(table, row, "person_years")
            if years <= 0:
                table.error(
                    f"{row.cells['person_years']!r} person-years: must be positive",
                    line=row.line,
                    column="person_years",
                )
            strata.append(StratumCount(name, events, years))
        else:
            patients = _integer(table, row, "patients", minimum=1)
            if events > patients:
                table.error(
                    f"{events} events among {patients} patients", line=row.line, column="events"
                )
            strata.append(StratumCount(name, events, float(patients)))
    return IncidenceTable(denominator, tuple(strata))


@dataclass(frozen=True)
class StratumRate:
    """One stratum's (or the total's) rate per 1,000 with its 95 % CI (``None`` if undefined)."""

    stratum: str
    events: int
    denominator: float
    rate: float
    ci_low: float | None
    ci_high: float | None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "stratum": self.stratum,
            "events": self.events,
            "denominator": self.denominator,
            "rate": _number(self.rate),
            "ci_low": _number(self.ci_low),
            "ci_high": _number(self.ci_high),
        }


@dataclass(frozen=True)
class IncidenceResult:
    """Rates per 1,000 person-years (or per 1,000 patients) by stratum and in total."""

    denominator: Denominator
    ci_method: str
    per: int
    strata: tuple[StratumRate, ...]
    total: StratumRate

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "denominator": self.denominator,
            "ci_method": self.ci_method,
            "per": self.per,
            "confidence": CONFIDENCE,
            "strata": [stratum.as_json() for stratum in self.strata],
            "total": self.total.as_json(),
        }


def _rate(
    stratum: str, events: int, denominator: float, kind: Denominator, ci: CiMethod
) -> StratumRate:
    """The rate per :data:`PER` with its CI by the chosen method."""
    from scipy.stats import norm
    from statsmodels.stats.proportion import proportion_confint
    from statsmodels.stats.rates import confint_poisson

    alpha = 1 - CONFIDENCE
    estimate = events / denominator
    low: float | None
    high: float | None
    if ci == "exact":
        if kind == "person_years":
            # Garwood (1936): chi-square (gamma) quantiles; lower limit 0 for 0 events.
            low, high = (float(v) for v in confint_poisson(events, denominator, "exact-c", alpha))
        else:
            # Clopper–Pearson (1934): beta quantiles.
            bounds = proportion_confint(events, int(denominator), alpha=alpha, method="beta")
            low, high = (float(v) for v in bounds)
    elif events == 0:
        # The log-Wald interval needs log(rate): undefined without events.
        low = high = None
    else:
        # Log-Wald: exp(log(estimate) ± z · SE(log estimate)); SE = 1/√events for a Poisson
        # rate, √((1 − p)/events) for a binomial proportion p.
        z = float(norm.ppf(1 - alpha / 2))
        spread = 1 / events if kind == "person_years" else (1 - estimate) / events
        factor = math.exp(z * math.sqrt(spread))
        low, high = estimate / factor, estimate * factor
    return StratumRate(
        stratum=stratum,
        events=events,
        denominator=denominator,
        rate=estimate * PER,
        ci_low=None if low is None else low * PER,
        ci_high=None if high is None else high * PER,
    )


def incidence(table: IncidenceTable, ci: CiMethod = "exact") -> IncidenceResult:
    """Rate per 1,000 person-years (or patients) per stratum and in total, with 95 % CIs.

    ``ci="exact"``: Garwood's exact Poisson interval for person-years, Clopper–Pearson's exact
    binomial interval for patients. ``ci="log-wald"``: the Wald interval on the log scale
    (undefined, ``None``, with 0 events).
    """
    if ci not in ("exact", "log-wald"):
        raise ValidationError(f"unknown CI method {ci!r}: 'exact' or 'log-wald'", field="ci")
    if not table.strata:
        raise ValidationError("no strata to compute a rate for")
    rates = tuple(
        _rate(s.stratum, s.events, s.denominator, table.denominator, ci) for s in table.strata
    )
    events = sum(s.events for s in table.strata)
    denominator = sum(s.denominator for s in table.strata)
    total = _rate("total", events, denominator, table.denominator, ci)
    method = {
        ("exact", "person_years"): "exact Poisson (Garwood)",
        ("exact", "patients"): "exact binomial (Clopper-Pearson)",
        ("log-wald", "person_years"): "log-Wald (Poisson)",
        ("log-wald", "patients"): "log-Wald (binomial)",
    }[(ci, table.denominator)]
    return IncidenceResult(table.denominator, method, PER, rates, total)


# --- survival ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurvivalData:
    """Follow-up times, event indicators (1 event, 0 censored) and optional group labels."""

    time: tuple[float, ...]
    event: tuple[int, ...]
    group: tuple[str, ...] | None


def read_survival(path: Path) -> SurvivalData:
    """Read columns ``time`` (≥ 0), ``event`` (1 event, 0 censored) and optionally ``group``.

    Refused: a missing column, a time that is not a number ≥ 0, an event other than 0 or 1, an
    empty group, fewer than two subjects.
    """
    table = _read_table(Path(path))
    table.require("time", "event")
    table.at_least(2, "subjects")
    times: list[float] = []
    events: list[int] = []
    for row in table.rows:
        time = _real(table, row, "time")
        if time < 0:
            table.error(f"{row.cells['time']!r}: time must be ≥ 0", line=row.line, column="time")
        times.append(time)
        if row.cells["event"] not in ("0", "1"):
            table.error(
                f"{row.cells['event']!r}: event must be 1 (event) or 0 (censored)",
                line=row.line,
                column="event",
            )
        events.append(int(row.cells["event"]))
    group = None
    if "group" in table.columns:
        group = tuple(_nonempty(table, row, "group", "group") for row in table.rows)
    return SurvivalData(tuple(times), tuple(events), group)


@dataclass(frozen=True)
class KaplanMeierRow:
    """The Kaplan–Meier estimate just after one event time, with Greenwood's SE."""

    time: float
    at_risk: int
    events: int
    survival: float
    se: float

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "time": self.time,
            "at_risk": self.at_risk,
            "events": self.events,
            "survival": _number(self.survival),
            "se": _number(self.se),
        }


@dataclass(frozen=True)
class GroupSurvival:
    """One group's Kaplan–Meier table and median survival (``None`` if not reached)."""

    group: str | None
    subjects: int
    events: int
    median: float | None
    median_ci_low: float | None
    median_ci_high: float | None
    table: tuple[KaplanMeierRow, ...]

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "group": self.group,
            "subjects": self.subjects,
            "events": self.events,
            "median": _number(self.median),
            "median_ci_low": _number(self.median_ci_low),
            "median_ci_high": _number(self.median_ci_high),
            "table": [row.as_json() for row in self.table],
        }


@dataclass(frozen=True)
class LogRank:
    """The log-rank test of equal survival across groups."""

    chi2: float
    df: int
    p_value: float

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {"chi2": _number(self.chi2), "df": self.df, "p_value": _number(self.p_value)}


@dataclass(frozen=True)
class SurvivalResult:
    """Kaplan–Meier per group (one entry, ``group`` None, without groups) and the log-rank test
    (``None`` with fewer than two groups)."""

    groups: tuple[GroupSurvival, ...]
    logrank: LogRank | None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "confidence": CONFIDENCE,
            "groups": [group.as_json() for group in self.groups],
            "logrank": None if self.logrank is None else self.logrank.as_json(),
        }


def _unique(values: Sequence[str]) -> Iterator[str]:
    """The distinct values in order of first appearance."""
    seen: set[str] = set()
    for value in values:
        if value not in seen:
            seen.add(value)
            yield value


def _kaplan_meier(group: str | None, time: Any, event: Any) -> GroupSurvival:
    """One group's Kaplan–Meier estimate (statsmodels' SurvfuncRight)."""
    import numpy as np
    from statsmodels.duration.survfunc import SurvfuncRight

    # statsmodels takes log(-log(S)) at S = 1 or 0 on the way to the median CI; the infinities
    # are meaningful there (a limit not reached), the warnings are noise.
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = SurvfuncRight(time, event)
        median = _number(float(fit.quantile(0.5)))
        bounds = fit.quantile_ci(0.5, alpha=1 - CONFIDENCE) if fit.surv_times.size else ()
    low, high = (_number(float(v)) for v in bounds) if bounds else (None, None)
    rows = tuple(
        KaplanMeierRow(
            time=float(t),
            at_risk=int(n),
            events=int(d),
            survival=float(s),
            se=float(se),
        )
        for t, n, d, s, se in zip(
            fit.surv_times, fit.n_risk, fit.n_events, fit.surv_prob, fit.surv_prob_se, strict=True
        )
    )
    return GroupSurvival(
        group=group,
        subjects=len(time),
        events=int(sum(event)),
        median=median,
        median_ci_low=low,
        median_ci_high=high,
        table=rows,
    )


def survival(data: SurvivalData) -> SurvivalResult:
    """Kaplan–Meier tables (Greenwood SEs), medians and, with two or more groups, the log-rank
    test.

    The median is statsmodels' (SAS's strict inequality): the first event time at which the
    estimate is below 0.5 (``None`` when it never is). Where the curve sits at exactly 0.5,
    this is the next event time, not the textbook "first time at or below 0.5" nor R's
    midpoint of the two. Its 95 % CI is Brookmeyer–Crowley's with the complementary log-log
    transform (an upper limit ``None`` where not reached).
    """
    import numpy as np
    from statsmodels.duration.survfunc import survdiff

    if len(data.time) < 2:
        raise ValidationError(f"survival needs at least 2 subjects (found {len(data.time)})")
    if len(data.event) != len(data.time) or (
        data.group is not None and len(data.group) != len(data.time)
    ):
        raise ValidationError("time, event and group must have one value per subject")
    if any(e not in (0, 1) for e in data.event) or any(t < 0 for t in data.time):
        raise ValidationError("event must be 0 or 1 and time ≥ 0 for every subject")
    time = np.asarray(data.time, dtype=float)
    event = np.asarray(data.event, dtype=int)
    if data.group is None:
        return SurvivalResult((_kaplan_meier(None, time, event),), None)
    labels = np.asarray(data.group, dtype=object)
    names = tuple(_unique(data.group))
    groups = tuple(
        _kaplan_meier(name, time[labels == name], event[labels == name]) for name in names
    )
    logrank = None
    if len(names) > 1:
        codes = np.array([names.index(label) for label in data.group])
        chi2, p_value = survdiff(time, event, codes)
        logrank = LogRank(float(chi2), len(names) - 1, float(p_value))
    return SurvivalResult(groups, logrank)
