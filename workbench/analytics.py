"""Registry analytics: what the registry has learned, from its reviewed cases.

:func:`registry_analytics` reads the whole registry in a handful of set-based statements and
returns a frozen :class:`RegistryAnalytics`; :meth:`RegistryAnalytics.sections` turns it into
report sections (a table of numbers and its plot each) for the window and the HTML report.

**Who counts as a PML case.** A case counts when its final panel decision (the latest final
one, in force) has a certainty at least the chosen least certainty (``definite``;
``probable``, the default, meaning definite or probable; ``possible``, meaning any of the
three). Cases with another final certainty, or none, are not PML cases; the certainty table
shows them all.

**Blinding.** Registry-wide figures are built from the reads and decisions of a case only
when every reader assigned to it has submitted and the policy lets the viewer see the case's
panel work (:mod:`workbench.policy`, asked per case with the facts of
:mod:`workbench.blinding`): a case with reads outstanding (or no reader assigned) contributes
no decision and is reported as left out. A final decision implies every read was in.

**What each case brings** (:class:`CaseFacts`): its condition, site, exposures (the drug of
each Exposure row; rows marked ``prior`` separately), the clinical record's diagnosis year,
onset and diagnosis days, anti-JCV index and IRIS, the outcome and its day, and three
derived facts of the Bloomgren et al. (NEJM 2012) risk table:

- anti-JCV index band: ``<0.9``, ``0.9-1.5`` (0.9 to 1.5 inclusive), ``>1.5``, ``unknown``;
- prior immunosuppressant: ``yes`` when an exposure is marked ``prior``, or an exposure other
  than the main one, of an immunosuppressant class (:data:`IMMUNOSUPPRESSANT_CLASSES`),
  started before the main one (before day 0 when the main exposure's start is not known);
  ``unknown`` when no exposure is recorded, or such an exposure's start is not known; else
  ``no``;
- months of the main exposure (the most recently started exposure not marked ``prior``; one
  without a start day only when none has one) before the
  index event (day 0): from its start day to its stop day or day 0, whichever is first, in
  months of 365.25 / 12 days rounded up; ``unknown`` without a start day, or when it started
  after the index event.

Statistics are those of :mod:`workbench.analysis.stats` (incidence with exact intervals,
Kaplan–Meier with the log-rank test); the summaries here are counts, medians and quartiles
(numpy).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from adjudication.vocabulary import Certainty
from workbench.actor import Actor
from workbench.analysis import stats
from workbench.blinding import all_case_facts
from workbench.clinical import DrugClass, YesNoUnknown
from workbench.denominators import ANTI_JCV_BANDS, MONTHS_BANDS, PRIOR_IS, Stratum
from workbench.domain import Condition, Outcome
from workbench.errors import ValidationError
from workbench.policy import Action, can, require
from workbench.registry.models import (
    Case,
    Decision,
    DenominatorRow,
    Exposure,
    Signature,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.analysis.report import Section

__all__ = [
    "CERTAINTY_FLOORS",
    "IMMUNOSUPPRESSANT_CLASSES",
    "CaseFacts",
    "CertaintyChange",
    "CountRow",
    "DaySummary",
    "IncidenceRow",
    "IrisSummary",
    "RegistryAnalytics",
    "RiskCell",
    "SurvivalSummary",
    "counted_certainties",
    "registry_analytics",
]

CERTAINTY_FLOORS = (Certainty.DEFINITE, Certainty.PROBABLE, Certainty.POSSIBLE)
"""The least final certainties that may count as a PML case."""

IMMUNOSUPPRESSANT_CLASSES = frozenset(
    {
        DrugClass.ANTI_CD20,
        DrugClass.ANTI_CD52,
        DrugClass.ANTIMETABOLITE,
        DrugClass.PURINE_ANALOGUE,
        DrugClass.ALKYLATING_AGENT,
        DrugClass.CALCINEURIN_INHIBITOR,
        DrugClass.MTOR_INHIBITOR,
        DrugClass.CHEMOTHERAPY_OTHER,
        DrugClass.CAR_T,
    }
)
"""Drug classes that count as a prior immunosuppressant (Bloomgren et al. 2012 counted
mitoxantrone, methotrexate, azathioprine, cyclophosphamide and mycophenolate; corticosteroids
do not count)."""

NO_FINAL = "no final decision"
UNKNOWN = "unknown"
MONTH_DAYS = 365.25 / 12
MIN_PLOT = 3
"""Fewer data points than this get a sentence instead of a plot."""


def counted_certainties(floor: Certainty) -> tuple[Certainty, ...]:
    """The final certainties that count as a PML case when ``floor`` is the least one."""
    if floor not in CERTAINTY_FLOORS:
        allowed = ", ".join(c.value for c in CERTAINTY_FLOORS)
        raise ValidationError(
            f"certainty: {floor!r} cannot count as PML (give one of {allowed})", field="certainty"
        )
    return CERTAINTY_FLOORS[: CERTAINTY_FLOORS.index(floor) + 1]


# --- one case --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the analytics use of one case (decisions only when every read is in)."""

    registry_id: str
    site: str
    condition: Condition
    exposures: tuple[str, ...]
    """Drugs of the exposures not marked prior, as entered (each once, case-insensitively)."""
    prior_exposures: tuple[str, ...]
    year: int | None
    reads_in: bool
    final: Certainty | None
    """The certainty of the decision in force (``None``: none, or reads outstanding)."""
    first_final: Certainty | None
    """The certainty of the case's first final decision."""
    anti_jcv: str
    prior_is: str
    months: str
    outcome: Outcome
    outcome_day: int | None
    onset_day: int | None
    diagnosis_day: int | None
    iris: YesNoUnknown
    iris_onset_day: int | None

    def matches(self, stratum: Stratum, year: int | None = None) -> bool:
        """Whether the case belongs to ``stratum`` (and was diagnosed in ``year``, if given)."""
        if year is not None and self.year != year:
            return False
        for key, value in stratum.facets:
            if key == "condition" and self.condition.value != value:
                return False
            if key == "exposure" and value not in {e.lower() for e in self.exposures}:
                return False
            if key == "site" and self.site != value:
                return False
            if key in ("anti_jcv", "prior_is", "months") and getattr(self, key) != value:
                return False
        return True


def jcv_band(index: float | None) -> str:
    """The anti-JCV index band of ``index``."""
    if index is None:
        return UNKNOWN
    if index < 0.9:
        return "<0.9"
    return "0.9-1.5" if index <= 1.5 else ">1.5"


def months_band(months: int | None) -> str:
    """The exposure-duration band of ``months``."""
    if months is None or months < 1:
        return UNKNOWN
    for low, high, band in ((1, 24, "1-24"), (25, 48, "25-48"), (49, 72, "49-72")):
        if low <= months <= high:
            return band
    return ">72"


def _main_exposure(exposures: Sequence[Exposure]) -> Exposure | None:
    current = [e for e in exposures if not e.prior]
    if not current:
        return None
    # the most recently started: an earlier drug of the same case is what came before it
    return max(current, key=lambda e: (e.start_day is not None, e.start_day or 0, -(e.id or 0)))


def exposure_months(exposure: Exposure | None) -> int | None:
    """Whole months (rounded up) of ``exposure`` before day 0, or ``None`` if not known."""
    if exposure is None or exposure.start_day is None:
        return None
    end = 0 if exposure.stop_day is None else min(exposure.stop_day, 0)
    days = end - exposure.start_day
    if days <= 0:
        return None
    return max(1, math.ceil(days / MONTH_DAYS))


def prior_immunosuppressant(exposures: Sequence[Exposure]) -> str:
    """``yes``, ``no`` or ``unknown`` (see the module's note)."""
    if not exposures:
        return UNKNOWN
    if any(e.prior for e in exposures):
        return "yes"
    main = _main_exposure(exposures)
    before = 0 if main is None or main.start_day is None else main.start_day
    unknown = False
    for exposure in exposures:
        if exposure is main or exposure.drug_class not in IMMUNOSUPPRESSANT_CLASSES:
            continue
        if exposure.start_day is None:
            unknown = True
        elif exposure.start_day < before:
            return "yes"
    return UNKNOWN if unknown else "no"


def _distinct(names: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(" ".join(name.lower().split()), " ".join(name.split()))
    return tuple(seen.values())


def _case_facts(session: Session, actor: Actor) -> list[CaseFacts]:
    """Every case's facts, in a handful of statements. Decisions count only where the policy
    lets ``actor`` see the case's panel work with every assigned read in (blinding)."""
    blinding = all_case_facts(session, actor)
    finals: dict[int, list[tuple[int, Certainty]]] = defaultdict(list)
    for decision_id, case_id, certainty in session.execute(
        select(Decision.id, Decision.case_id, Decision.certainty)
        .where(Decision.is_final.is_(True))
        .order_by(Decision.id)
    ):
        finals[case_id].append((decision_id, certainty))
    # a final decision is a signed one: kept as a check that the trail agrees
    signed = set(session.scalars(select(Signature.adjudication_id).distinct()))
    cases = session.scalars(
        select(Case)
        .options(selectinload(Case.exposures), selectinload(Case.clinical_record))
        .order_by(Case.registry_id)
    ).all()
    facts: list[CaseFacts] = []
    for case in cases:
        policy_facts = blinding[case.id]
        reads_in = (
            policy_facts.all_reads_in and can(actor, Action.SEE_PANEL_WORK, policy_facts) is None
        )
        decided = [c for d, c in finals.get(case.id, []) if d in signed] if reads_in else []
        record = case.clinical_record
        exposures = list(case.exposures)
        facts.append(
            CaseFacts(
                registry_id=case.registry_id,
                site=case.site.code,
                condition=case.condition,
                exposures=_distinct(e.drug for e in exposures if not e.prior),
                prior_exposures=_distinct(e.drug for e in exposures if e.prior),
                year=record.diagnosis_year if record else None,
                reads_in=reads_in,
                final=decided[-1] if decided else None,
                first_final=decided[0] if decided else None,
                anti_jcv=jcv_band(record.anti_jcv_index if record else None),
                prior_is=prior_immunosuppressant(exposures),
                months=months_band(exposure_months(_main_exposure(exposures))),
                outcome=case.outcome,
                outcome_day=case.outcome_day,
                onset_day=record.onset_day if record else None,
                diagnosis_day=record.diagnosis_day if record else None,
                iris=record.iris if record else YesNoUnknown.UNKNOWN,
                iris_onset_day=record.iris_onset_day if record else None,
            )
        )
    return facts


# --- values ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CountRow:
    """One row of a count table: PML cases (by the certainty rule) and all cases."""

    label: str
    pml_cases: int
    cases: int

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {"label": self.label, "pml_cases": self.pml_cases, "cases": self.cases}


@dataclass(frozen=True, slots=True)
class IncidenceRow:
    """One imported denominator with the PML cases of its stratum and the rates."""

    stratum: str
    year: int | None
    events: int
    patients: int | None
    person_years: float | None
    per_patients: stats.StratumRate | None
    """Per 1,000 patients (Clopper–Pearson), ``None`` without patients or with more events."""
    per_person_years: stats.StratumRate | None
    """Per 1,000 patient-years (Garwood's exact Poisson), ``None`` without person-years."""
    source: str
    warning: str | None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "stratum": self.stratum,
            "year": self.year,
            "events": self.events,
            "patients": self.patients,
            "person_years": self.person_years,
            "per_1000_patients": None if self.per_patients is None else _rate(self.per_patients),
            "per_1000_person_years": None
            if self.per_person_years is None
            else _rate(self.per_person_years),
            "source": self.source,
            "warning": self.warning,
        }


def _rate(rate: stats.StratumRate) -> dict[str, Any]:
    data = rate.as_json()
    return {"rate": data["rate"], "ci_low": data["ci_low"], "ci_high": data["ci_high"]}


@dataclass(frozen=True, slots=True)
class RiskCell:
    """PML cases in one cell of the Bloomgren risk table."""

    anti_jcv: str
    prior_is: str
    months: str
    cases: int

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "anti_jcv": self.anti_jcv,
            "prior_is": self.prior_is,
            "months": self.months,
            "cases": self.cases,
        }


@dataclass(frozen=True, slots=True)
class SurvivalSummary:
    """Kaplan–Meier by condition from diagnosis, with what was left out and why."""

    n: int
    left_out: tuple[tuple[str, int], ...]
    result: stats.SurvivalResult | None
    """``None`` with fewer than two cases."""
    data: stats.SurvivalData | None = None
    """The follow-up times, deaths and conditions the result was computed from."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "n": self.n,
            "left_out": dict(self.left_out),
            "time": "days from diagnosis (day 0 when the diagnosis day is not known)",
            "result": None if self.result is None else self.result.as_json(),
        }


@dataclass(frozen=True, slots=True)
class DaySummary:
    """Days between two events: n, median, quartiles, range and the values."""

    n: int
    median: float | None
    q1: float | None
    q3: float | None
    minimum: int | None
    maximum: int | None
    values: tuple[int, ...]
    left_out: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, values: Sequence[int], left_out: dict[str, int]) -> DaySummary:
        """The summary of ``values`` (linear-interpolation quartiles, numpy's default)."""
        import numpy as np

        ordered = tuple(sorted(values))
        kept = tuple((k, v) for k, v in left_out.items() if v)
        if not ordered:
            return cls(0, None, None, None, None, None, (), kept)
        q1, median, q3 = (float(v) for v in np.percentile(ordered, [25, 50, 75]))
        return cls(len(ordered), median, q1, q3, ordered[0], ordered[-1], ordered, kept)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "n": self.n,
            "median": self.median,
            "q1": self.q1,
            "q3": self.q3,
            "min": self.minimum,
            "max": self.maximum,
            "left_out": dict(self.left_out),
        }


@dataclass(frozen=True, slots=True)
class IrisSummary:
    """PML-IRIS among the PML cases: yes / no / unknown overall and by condition, and when."""

    overall: tuple[tuple[str, int], ...]
    by_condition: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]
    timing: DaySummary
    """Days from diagnosis to IRIS onset (cases with IRIS and both days known)."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "overall": dict(self.overall),
            "by_condition": {c: dict(counts) for c, counts in self.by_condition},
            "onset_days_after_diagnosis": self.timing.as_json(),
        }


@dataclass(frozen=True, slots=True)
class CertaintyChange:
    """Cases whose first final decision had ``first`` and whose decision in force ``latest``."""

    first: str
    latest: str
    cases: int

    @property
    def changed(self) -> bool:
        """Whether the certainty changed between the two."""
        return self.first != self.latest

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        return {
            "first": self.first,
            "latest": self.latest,
            "cases": self.cases,
            "changed": self.changed,
        }


@dataclass(frozen=True, slots=True)
class RegistryAnalytics:
    """Everything the analytics page and report show, as plain values."""

    certainty: Certainty
    """The least final certainty counted as a PML case."""
    counted: tuple[Certainty, ...]
    total_cases: int
    pml_cases: int
    reads_outstanding: int
    """Cases left out of every decision-based figure: reads not all in (or none assigned)."""
    by_condition: tuple[CountRow, ...]
    by_exposure: tuple[CountRow, ...]
    by_prior_exposure: tuple[CountRow, ...]
    by_site: tuple[CountRow, ...]
    by_year: tuple[CountRow, ...]
    by_certainty: tuple[CountRow, ...]
    incidence: tuple[IncidenceRow, ...]
    risk_cells: tuple[RiskCell, ...]
    risk_rates: tuple[IncidenceRow, ...]
    """The denominators whose stratum names a risk-table cell (anti_jcv, prior_is, months)."""
    survival: SurvivalSummary
    onset_to_diagnosis: DaySummary
    iris: IrisSummary
    certainty_changes: tuple[CertaintyChange, ...]
    warnings: tuple[str, ...]

    @property
    def rule(self) -> str:
        """The certainty rule in words."""
        names = " + ".join(c.value for c in self.counted)
        return f"PML case = final panel decision {names} (least certainty {self.certainty.value})"

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys documented in the README)."""
        rows = lambda items: [i.as_json() for i in items]  # noqa: E731
        return {
            "certainty": self.certainty.value,
            "counted_certainties": [c.value for c in self.counted],
            "rule": self.rule,
            "total_cases": self.total_cases,
            "pml_cases": self.pml_cases,
            "left_out_reads_outstanding": self.reads_outstanding,
            "counts": {
                "by_condition": rows(self.by_condition),
                "by_exposure": rows(self.by_exposure),
                "by_prior_exposure": rows(self.by_prior_exposure),
                "by_site": rows(self.by_site),
                "by_year": rows(self.by_year),
                "by_certainty": rows(self.by_certainty),
            },
            "incidence": rows(self.incidence),
            "risk": {"cells": rows(self.risk_cells), "rates": rows(self.risk_rates)},
            "survival": self.survival.as_json(),
            "onset_to_diagnosis_days": self.onset_to_diagnosis.as_json(),
            "iris": self.iris.as_json(),
            "certainty_changes": rows(self.certainty_changes),
            "warnings": list(self.warnings),
        }

    def sections(self) -> list[Section]:
        """The report's sections, each with its tables and a plot (or a sentence)."""
        return _sections(self)


# --- computing -------------------------------------------------------------------------------


def _count_rows(
    facts: Sequence[CaseFacts],
    is_pml: Callable[[CaseFacts], bool],
    labels: Callable[[CaseFacts], Iterable[str]],
    order: Sequence[str] = (),
) -> tuple[CountRow, ...]:
    all_counts: Counter[str] = Counter()
    pml: Counter[str] = Counter()
    display: dict[str, str] = {}
    for case in facts:
        for label in labels(case):
            key = label.lower()
            display.setdefault(key, label)
            all_counts[key] += 1
            if is_pml(case):
                pml[key] += 1
    keys = [k for k in order if k in all_counts]
    rest = sorted(
        (k for k in all_counts if k not in keys), key=lambda k: (-pml[k], -all_counts[k], k)
    )
    return tuple(CountRow(display[k], pml[k], all_counts[k]) for k in (*keys, *rest))


def _incidence_row(row: DenominatorRow, pml: Sequence[CaseFacts], stratum: Stratum) -> IncidenceRow:
    events = sum(1 for case in pml if case.matches(stratum, row.year))
    warning = None
    per_patients = per_py = None
    if row.patients is not None:
        if events > row.patients:
            when = f"year {row.year}" if row.year is not None else "all years"
            warning = (
                f"{row.stratum} ({when}): {events} PML cases but only {row.patients} patients "
                "in the denominator; no rate per patients"
            )
        else:
            table = stats.IncidenceTable(
                "patients", (stats.StratumCount(row.stratum, events, row.patients),)
            )
            per_patients = stats.incidence(table).strata[0]
    if row.person_years is not None:
        table = stats.IncidenceTable(
            "person_years", (stats.StratumCount(row.stratum, events, row.person_years),)
        )
        per_py = stats.incidence(table).strata[0]
    return IncidenceRow(
        row.stratum,
        row.year,
        events,
        row.patients,
        row.person_years,
        per_patients,
        per_py,
        row.source,
        warning,
    )


def _survival(pml: Sequence[CaseFacts]) -> SurvivalSummary:
    left: Counter[str] = Counter()
    time: list[float] = []
    event: list[int] = []
    group: list[str] = []
    for case in pml:
        if case.outcome is Outcome.UNKNOWN:
            left["outcome unknown"] += 1
            continue
        if case.outcome_day is None:
            left["outcome day not known"] += 1
            continue
        start = case.diagnosis_day if case.diagnosis_day is not None else 0
        if case.outcome_day < start:
            left["outcome day before diagnosis"] += 1
            continue
        time.append(float(case.outcome_day - start))
        event.append(1 if case.outcome is Outcome.DIED else 0)
        group.append(case.condition.value)
    result = data = None
    if len(time) >= 2:
        data = stats.SurvivalData(tuple(time), tuple(event), tuple(group))
        result = stats.survival(data)
    return SurvivalSummary(len(time), tuple(sorted(left.items())), result, data)


def _onset(pml: Sequence[CaseFacts]) -> DaySummary:
    values: list[int] = []
    left = {"onset day not known": 0, "diagnosis day not known": 0}
    for case in pml:
        if case.onset_day is None:
            left["onset day not known"] += 1
        elif case.diagnosis_day is None:
            left["diagnosis day not known"] += 1
        else:
            values.append(case.diagnosis_day - case.onset_day)
    return DaySummary.of(values, left)


def _iris(pml: Sequence[CaseFacts]) -> IrisSummary:
    kinds = [k.value for k in YesNoUnknown]
    overall = Counter(case.iris.value for case in pml)
    by: dict[str, Counter[str]] = defaultdict(Counter)
    for case in pml:
        by[case.condition.value][case.iris.value] += 1
    values: list[int] = []
    left = {"IRIS onset day not known": 0, "diagnosis day not known": 0}
    for case in pml:
        if case.iris is not YesNoUnknown.YES:
            continue
        if case.iris_onset_day is None:
            left["IRIS onset day not known"] += 1
        elif case.diagnosis_day is None:
            left["diagnosis day not known"] += 1
        else:
            values.append(case.iris_onset_day - case.diagnosis_day)
    return IrisSummary(
        tuple((k, overall[k]) for k in kinds),
        tuple(
            (c, tuple((k, by[c][k]) for k in kinds))
            for c in [c.value for c in Condition]
            if c in by
        ),
        DaySummary.of(values, left),
    )


def registry_analytics(
    session: Session, actor: Actor, certainty: Certainty | str = Certainty.PROBABLE
) -> RegistryAnalytics:
    """The registry's analytics as ``actor`` may see them (coordinators, administrators,
    panel members); ``certainty`` is the least final certainty counted as a PML case."""
    require(actor, Action.SEE_ANALYTICS)
    try:
        floor = Certainty(certainty)
    except ValueError:
        floor = certainty  # type: ignore[assignment]  # refused with its message below
    counted = counted_certainties(floor)
    facts = _case_facts(session, actor)

    def is_pml(case: CaseFacts) -> bool:
        return case.final in counted

    pml = [case for case in facts if is_pml(case)]
    certainty_order = [c.value for c in Certainty] + [NO_FINAL]
    by_certainty = _count_rows(
        facts,
        is_pml,
        lambda c: [c.final.value if c.final is not None else NO_FINAL],
        certainty_order,
    )
    years = sorted({c.year for c in facts if c.year is not None})
    warnings: list[str] = []
    incidence_rows: list[IncidenceRow] = []
    risk_rows: list[IncidenceRow] = []
    risk_keys = {"anti_jcv", "prior_is", "months"}
    stored = session.scalars(select(DenominatorRow)).all()
    for row in sorted(stored, key=lambda r: (r.stratum, -1 if r.year is None else r.year)):
        try:
            stratum = Stratum.parse(row.stratum)
        except ValueError as exc:  # stored before a vocabulary changed: say so, skip it
            warnings.append(f"denominator {row.stratum!r} is no longer a valid stratum: {exc}")
            continue
        computed = _incidence_row(row, pml, stratum)
        if computed.warning:
            warnings.append(computed.warning)
        incidence_rows.append(computed)
        if stratum.keys & risk_keys:
            risk_rows.append(computed)
    cells = Counter((c.anti_jcv, c.prior_is, c.months) for c in pml)
    risk_cells = tuple(
        RiskCell(j, p, m, cells[(j, p, m)])
        for j in ANTI_JCV_BANDS
        for p in PRIOR_IS
        for m in MONTHS_BANDS
        if cells[(j, p, m)]
    )
    changes: Counter[tuple[str, str]] = Counter(
        (c.first_final.value, c.final.value)
        for c in facts
        if c.first_final is not None and c.final is not None
    )
    order = [c.value for c in Certainty]
    return RegistryAnalytics(
        certainty=floor,
        counted=counted,
        total_cases=len(facts),
        pml_cases=len(pml),
        reads_outstanding=sum(1 for c in facts if not c.reads_in),
        by_condition=_count_rows(
            facts, is_pml, lambda c: [c.condition.value], [c.value for c in Condition]
        ),
        by_exposure=_count_rows(facts, is_pml, lambda c: c.exposures or ["none recorded"]),
        by_prior_exposure=_count_rows(facts, is_pml, lambda c: c.prior_exposures),
        by_site=_count_rows(facts, is_pml, lambda c: [c.site]),
        by_year=_count_rows(
            facts,
            is_pml,
            lambda c: [str(c.year) if c.year is not None else UNKNOWN],
            [*(str(y) for y in years), UNKNOWN],
        ),
        by_certainty=by_certainty,
        incidence=tuple(incidence_rows),
        risk_cells=risk_cells,
        risk_rates=tuple(risk_rows),
        survival=_survival(pml),
        onset_to_diagnosis=_onset(pml),
        iris=_iris(pml),
        certainty_changes=tuple(
            CertaintyChange(f, latest, n)
            for (f, latest), n in sorted(
                changes.items(), key=lambda kv: (order.index(kv[0][0]), order.index(kv[0][1]))
            )
        ),
        warnings=tuple(warnings),
    )


# --- sections --------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2) -> str | None:
    return None if value is None else f"{value:.{digits}f}"


def _integer_ticks() -> Any:
    """Axis ticks on whole numbers only (counts of cases)."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _bar(rows: Sequence[CountRow], title: str) -> Figure:
    from workbench.analysis.report import new_figure

    height = max(2.2, 0.9 + 0.32 * len(rows))
    figure = new_figure(7.0, height)
    axes = figure.add_subplot()
    labels = [r.label for r in rows][::-1]
    axes.barh(labels, [r.cases for r in rows][::-1], color="#c8d3e0", label="all cases")
    axes.barh(labels, [r.pml_cases for r in rows][::-1], color="#2f5f8f", label="PML cases")
    axes.set_xlabel("cases")
    axes.set_title(title, fontsize=10)
    axes.xaxis.set_major_locator(_integer_ticks())
    axes.legend(fontsize=8, loc="lower right")
    return figure


def _count_table(rows: Sequence[CountRow], heading: str, title: str = "") -> Any:
    from workbench.analysis.report import Table

    return Table(
        (heading, "PML cases", "all cases"),
        tuple((r.label, r.pml_cases, r.cases) for r in rows),
        title=title,
    )


def _left_out(pairs: Sequence[tuple[str, int]]) -> str:
    if not pairs:
        return "none left out"
    return "left out: " + ", ".join(f"{n} ({why})" for why, n in pairs)


def _sections(a: RegistryAnalytics) -> list[Section]:
    from workbench.analysis.report import Section, Table

    blinded = (
        f"{a.reads_outstanding} case(s) left out of every decision-based figure because not "
        "every assigned read is in (or no reader is assigned)."
    )
    out: list[Section] = []
    summary_rows = tuple((r.label, r.pml_cases, r.cases) for r in a.by_certainty)
    out.append(
        Section(
            "Cases by final certainty",
            f"{a.rule}. {a.total_cases} cases in the registry, {a.pml_cases} counted as PML. "
            + blinded,
            _bar(a.by_certainty, "Cases by the certainty of the decision in force")
            if a.total_cases
            else None,
            (Table(("final certainty", "PML cases", "all cases"), summary_rows),),
        )
    )
    # The window and the HTML show conditions by their labels; JSON keeps the stored values.
    by_condition = tuple(
        dataclasses.replace(row, label=Condition(row.label).label) for row in a.by_condition
    )
    for title, rows, heading in (
        ("PML cases by condition", by_condition, "condition"),
        ("PML cases by exposure", a.by_exposure, "exposure (drug)"),
        ("PML cases by prior exposure", a.by_prior_exposure, "prior exposure (drug)"),
        ("PML cases by site", a.by_site, "site"),
        ("PML cases by year of diagnosis", a.by_year, "diagnosis year"),
    ):
        pml_total = sum(r.pml_cases for r in rows)
        note = f"n = {a.pml_cases} PML cases of {a.total_cases}."
        if "exposure" in heading:
            note += " A case with several drugs is counted under each (the column sums differ)."
        if not rows:
            out.append(Section(title, note + " Nothing recorded."))
            continue
        figure = _bar(rows, title) if pml_total else None
        if figure is None:
            note += " No PML case yet: no plot."
        out.append(Section(title, note, figure, (_count_table(rows, heading),)))
    out.append(_incidence_section(a))
    out.append(_risk_section(a))
    out.append(_survival_section(a))
    out.append(_onset_section(a))
    out.append(_iris_section(a))
    out.append(_certainty_section(a))
    if a.warnings:
        out.append(
            Section(
                "Warnings",
                "Checks made while computing the figures above.",
                None,
                (Table(("warning",), tuple((w,) for w in a.warnings)),),
            )
        )
    return out


def _plain_number(value: float | None) -> str | None:
    """A count as written: ``14000`` rather than ``1.4e+04``, ``2500.5`` as it is."""
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _finite(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


def _rate_cells(rate: stats.StratumRate | None) -> tuple[str | None, str | None]:
    if rate is None:
        return None, None
    ci = f"{_fmt(rate.ci_low, 3)} to {_fmt(rate.ci_high, 3)}"
    return _fmt(rate.rate, 3), ci


def _incidence_table(rows: Sequence[IncidenceRow], title: str = "") -> Any:
    from workbench.analysis.report import Table

    body = []
    for r in rows:
        per_p, ci_p = _rate_cells(r.per_patients)
        per_py, ci_py = _rate_cells(r.per_person_years)
        body.append(
            (
                r.stratum,
                "all" if r.year is None else r.year,
                r.events,
                r.patients,
                _plain_number(r.person_years),
                per_p,
                ci_p,
                per_py,
                ci_py,
            )
        )
    return Table(
        (
            "stratum",
            "year",
            "PML cases",
            "patients",
            "patient-years",
            "per 1,000 patients",
            "95% CI",
            "per 1,000 patient-years",
            "95% CI",
        ),
        tuple(body),
        title=title,
        note="Exact 95% intervals: Clopper-Pearson for patients, Garwood's Poisson for "
        "patient-years.",
    )


def _rate_plot(rows: Sequence[IncidenceRow], title: str) -> Figure | None:
    from workbench.analysis.report import new_figure

    points = []
    for r in rows:
        rate = r.per_person_years or r.per_patients
        if rate is None:
            continue
        unit = "PY" if r.per_person_years is not None else "patients"
        label = f"{r.stratum} ({'all' if r.year is None else r.year}, per 1,000 {unit})"
        points.append((label, rate))
    if not points:
        return None
    figure = new_figure(7.0, max(2.2, 0.9 + 0.35 * len(points)))
    axes = figure.add_subplot()
    for y, (_label, rate) in enumerate(reversed(points)):
        low = rate.ci_low if rate.ci_low is not None else rate.rate
        high = rate.ci_high if rate.ci_high is not None else rate.rate
        axes.plot([low, high], [y, y], color="#2f5f8f", linewidth=1.5)
        axes.plot([rate.rate], [y], "o", color="#2f5f8f")
    axes.set_yticks(range(len(points)), [label for label, _ in reversed(points)], fontsize=8)
    axes.set_xlabel("rate per 1,000 with 95% CI")
    axes.set_title(title, fontsize=10)
    return figure


def _incidence_section(a: RegistryAnalytics) -> Section:
    from workbench.analysis.report import Section

    if not a.incidence:
        return Section(
            "Incidence",
            "No denominators have been imported: import them with 'pml-workbench denominators "
            "import FILE.csv' (columns stratum, year, patients, person_years, source).",
        )
    return Section(
        "Incidence",
        (
            f"{a.rule}. {len(a.incidence)} denominator(s); events are the PML cases of each "
            "stratum (of that diagnosis year when a year is given; cases without a year count "
            "only under all years). " + _warned(a.incidence)
        ).strip(),
        _rate_plot(a.incidence, "Incidence per 1,000 (95% CI)"),
        (_incidence_table(a.incidence),),
    )


def _warned(rows: Sequence[IncidenceRow]) -> str:
    warned = sum(1 for r in rows if r.warning)
    if not warned:
        return ""
    return f"{warned} rate(s) per patients left out: more cases than patients (see Warnings)."


def _risk_section(a: RegistryAnalytics) -> Section:
    from workbench.analysis.report import Section, Table, new_figure

    text = (
        f"PML cases by anti-JCV index × prior immunosuppressant × months of the main exposure "
        f"before the index event (Bloomgren et al., NEJM 2012), n = {a.pml_cases}. "
        "Risk per 1,000 where a denominator names a cell (e.g. "
        "'exposure:natalizumab|anti_jcv:>1.5|prior_is:yes|months:25-48')."
    )
    tables = [
        Table(
            ("anti-JCV index", "prior immunosuppressant", "months exposed", "PML cases"),
            tuple((c.anti_jcv, c.prior_is, c.months, c.cases) for c in a.risk_cells),
            title="Cases per cell (empty cells not listed)",
        )
    ]
    if a.risk_rates:
        tables.append(_incidence_table(a.risk_rates, "Risk per 1,000 for cells with denominators"))
    figure = None
    top = max((c.cases for c in a.risk_cells), default=0)
    if a.pml_cases >= MIN_PLOT:
        figure = new_figure(7.0, 3.2)
        panels = figure.subplots(1, 2, sharey=True)
        for axes, prior in zip(panels, ("no", "yes"), strict=True):
            grid = [
                [
                    sum(
                        c.cases
                        for c in a.risk_cells
                        if (c.anti_jcv, c.prior_is, c.months) == (j, prior, m)
                    )
                    for m in MONTHS_BANDS
                ]
                for j in ANTI_JCV_BANDS
            ]
            axes.imshow(grid, cmap="Blues", aspect="auto", vmin=0, vmax=top or 1)
            _annotate(axes, grid, top=top)
            axes.set_xticks(range(len(MONTHS_BANDS)), MONTHS_BANDS, fontsize=8)
            axes.set_yticks(range(len(ANTI_JCV_BANDS)), ANTI_JCV_BANDS, fontsize=8)
            axes.set_xlabel("months exposed")
            axes.set_title(f"prior immunosuppressant: {prior}", fontsize=9)
        panels[0].set_ylabel("anti-JCV index")
        text += " The plot shows prior immunosuppressant yes and no (unknown in the table)."
    else:
        text += " Too few cases for a plot."
    return Section(
        "Risk table (anti-JCV index, prior immunosuppressant, duration)",
        text,
        figure,
        tuple(tables),
    )


def _survival_section(a: RegistryAnalytics) -> Section:
    from workbench.analysis.report import Section, Table, new_figure

    s = a.survival
    text = (
        f"Kaplan-Meier survival of the PML cases from diagnosis (the index event, day 0, when "
        f"the diagnosis day is not known) by condition; death is the event, alive and lost to "
        f"follow-up are censored at their outcome day. n = {s.n}; {_left_out(s.left_out)}."
    )
    if s.result is None:
        return Section("Survival", text + " Too few cases for a survival estimate.")
    rows = []
    for g in s.result.groups:
        rows.append(
            (
                g.group,
                g.subjects,
                g.events,
                _fmt(g.median, 0),
                _fmt(g.median_ci_low, 0),
                _fmt(g.median_ci_high, 0),
            )
        )
    tables = [
        Table(
            ("condition", "cases", "deaths", "median days", "95% CI low", "95% CI high"),
            tuple(rows),
            note="Median not reached: —.",
        )
    ]
    km_rows = tuple(
        (g.group, row.time, row.at_risk, row.events, _finite(row.survival), _finite(row.se))
        for g in s.result.groups
        for row in g.table
    )
    tables.append(
        Table(
            ("condition", "day", "at risk", "deaths", "survival", "SE"),
            km_rows,
            title="Kaplan-Meier tables",
        )
    )
    if s.result.logrank is not None:
        test = s.result.logrank
        text += f" Log-rank test: chi-square {test.chi2:.3f}, df {test.df}, p = {test.p_value:.3g}."
    figure = new_figure(7.0, 3.4)
    axes = figure.add_subplot()
    data = s.data
    for g in s.result.groups:
        times = [0.0, *(row.time for row in g.table)]
        surv = [1.0, *(row.survival for row in g.table)]
        censored: list[float] = []
        if data is not None and data.group is not None:
            mine = [
                (t, e)
                for t, e, grp in zip(data.time, data.event, data.group, strict=True)
                if grp == g.group
            ]
            last = max(t for t, _ in mine)
            if last > times[-1]:  # the curve runs on to the last follow-up
                times.append(last)
                surv.append(surv[-1])
            censored = [t for t, e in mine if e == 0]
        (line,) = axes.step(times, surv, where="post", label=f"{g.group} (n={g.subjects})")
        if censored:
            at = [_survival_at(times, surv, t) for t in censored]
            axes.plot(censored, at, "|", color=line.get_color(), markersize=8)
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("days from diagnosis")
    axes.set_ylabel("survival")
    axes.legend(fontsize=8)
    return Section("Survival", text, figure, tuple(tables))


def _survival_at(times: Sequence[float], surv: Sequence[float], t: float) -> float:
    """The step curve's value at ``t`` (right-continuous)."""
    value = 1.0
    for time, s in zip(times, surv, strict=True):
        if time <= t:
            value = s
    return value


def _annotate(
    axes: Any, grid: Sequence[Sequence[int]], changed: bool = False, top: int | None = None
) -> None:
    """Write each cell's count, white on dark cells (over half of ``top``, the colour scale's
    maximum); changes (off the diagonal) in red."""
    if top is None:
        top = max((max(row) for row in grid), default=0)
    for i, row in enumerate(grid):
        for k, value in enumerate(row):
            colour = "white" if top and value > top / 2 else "black"
            weight = "normal"
            if changed and value and i != k:
                colour, weight = "#b5473a", "bold"
            axes.text(
                k,
                i,
                str(value),
                ha="center",
                va="center",
                color=colour,
                fontweight=weight,
                fontsize=9,
            )


def _day_table(d: DaySummary, what: str) -> Any:
    from workbench.analysis.report import Table

    return Table(
        ("", "n", "median", "Q1", "Q3", "min", "max"),
        ((what, d.n, d.median, d.q1, d.q3, d.minimum, d.maximum),),
    )


def _onset_section(a: RegistryAnalytics) -> Section:
    from workbench.analysis.report import Section, new_figure

    d = a.onset_to_diagnosis
    text = (
        f"Days from the first PML symptom to the diagnosis, PML cases. n = {d.n}; "
        f"{_left_out(d.left_out)}."
    )
    figure = None
    if d.n >= MIN_PLOT:
        figure = new_figure(7.0, 3.0)
        axes = figure.add_subplot()
        axes.hist(d.values, bins=min(20, max(5, d.n // 2)), color="#2f5f8f")
        axes.set_xlabel("days from onset to diagnosis")
        axes.set_ylabel("cases")
        axes.yaxis.set_major_locator(_integer_ticks())
    else:
        text += " Too few cases for a histogram."
    return Section(
        "Time from symptom onset to diagnosis",
        text,
        figure,
        (_day_table(d, "onset to diagnosis (days)"),),
    )


def _iris_section(a: RegistryAnalytics) -> Section:
    from workbench.analysis.report import Section, Table, new_figure

    i = a.iris
    kinds = [k for k, _ in i.overall]
    rows: list[tuple[str, *tuple[int, ...]]] = [("all PML cases", *(n for _, n in i.overall))]
    rows += [(c, *(n for _, n in counts)) for c, counts in i.by_condition]
    text = (
        f"PML-IRIS among the PML cases (n = {a.pml_cases}); timing in days from diagnosis to "
        f"IRIS onset, n = {i.timing.n}; {_left_out(i.timing.left_out)}."
    )
    figure = None
    if a.pml_cases >= MIN_PLOT:
        figure = new_figure(7.0, max(2.2, 0.9 + 0.35 * len(rows)))
        axes = figure.add_subplot()
        labels = [str(r[0]) for r in rows][::-1]
        left = [0] * len(rows)
        colours = {"yes": "#b5473a", "no": "#2f5f8f", "unknown": "#bbbbbb"}
        for index, kind in enumerate(kinds):
            values = [int(r[index + 1]) for r in rows][::-1]
            axes.barh(labels, values, left=left, color=colours.get(kind), label=kind)
            left = [a_ + b for a_, b in zip(left, values, strict=True)]
        axes.set_xlabel("cases")
        axes.legend(fontsize=8)
    else:
        text += " Too few cases for a plot."
    return Section(
        "PML-IRIS",
        text,
        figure,
        (
            Table(("", *kinds), tuple(rows), title="IRIS: yes / no / unknown"),
            _day_table(i.timing, "diagnosis to IRIS onset (days)"),
        ),
    )


def _certainty_section(a: RegistryAnalytics) -> Section:
    from workbench.analysis.report import CHANGED_MARK, Section, Table, new_figure

    n = sum(c.cases for c in a.certainty_changes)
    changed = sum(c.cases for c in a.certainty_changes if c.changed)
    text = (
        f"The certainty of each case's first final decision against the decision in force, "
        f"for cases with a final decision (n = {n}; {changed} changed, marked). "
        + (f"{a.reads_outstanding} case(s) with reads outstanding left out.")
    )
    levels = [c.value for c in Certainty]
    table = Table(
        ("first final", "latest final", "cases", "changed"),
        tuple(
            (c.first, c.latest, c.cases, CHANGED_MARK if c.changed else "")
            for c in a.certainty_changes
        ),
    )
    if n < 1:
        return Section(
            "Certainty: first decision vs latest", text + " No final decisions yet.", None, (table,)
        )
    figure = new_figure(6.0, 3.6)
    axes = figure.add_subplot()
    grid = [[0] * len(levels) for _ in levels]
    for c in a.certainty_changes:
        grid[levels.index(c.first)][levels.index(c.latest)] = c.cases
    axes.imshow(grid, cmap="Blues", aspect="auto")
    _annotate(axes, grid, changed=True)
    names = [level.replace("_", " ") for level in levels]
    axes.set_xticks(range(len(levels)), names, fontsize=8, rotation=20)
    axes.set_yticks(range(len(levels)), names, fontsize=8)
    axes.set_xlabel("latest final certainty")
    axes.set_ylabel("first final certainty")
    return Section("Certainty: first decision vs latest", text, figure, (table,))
