"""Reader agreement over the registry: kappa, panel against engine, masks, disagreement.

:func:`agreement_report` (session + actor) gathers, for the registry's coordinators,
administrators and panel members (:data:`Action.SEE_AGREEMENT
<workbench.policy.Action.SEE_AGREEMENT>`; a reader alone is refused), how well the readers
agree, as one frozen :class:`AgreementReport`:

1. **Imaging judgement** (yes / no / equivocal): Cohen's kappa for every pair of readers over
   the cases both read, and Fleiss' kappa over the cases with the same number of readers (one
   group per number ≥ 2), each with its number of cases and observed agreement.
2. **Panel against engine**: Cohen's kappa between the certainty of the final signed panel
   decision and the criteria engine's certainty recorded with it, with the cross-table.
3. **Masks**: for every pair of readers who marked lesions on the same series of a case, the
   Dice coefficient of their union masks and each one's total volume on that series;
   summarised by the median Dice with its IQR and by Bland–Altman volume agreement.
4. **Disagreement index**: for each reader, the fraction of their cases where their imaging
   judgement differs from the panel's own imaging judgement (when it recorded one) or else
   from the majority of the other readers, overall and per calendar half-year.

Blinding (DESIGN.md §8) is applied where the data are read: only cases whose every assigned
reader has submitted count, with each reader's current read (the latest submitted revision);
the report says how many cases were left out and why. The statistics are
:func:`workbench.analysis.stats.kappa` and :mod:`workbench.analysis.agreement`; this module
only gathers plain values for them, with a fixed number of statements whatever the size of
the registry. :meth:`AgreementReport.sections` turns the report into figures and tables for
the window and the HTML export (:mod:`workbench.analysis.report`).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from adjudication.vocabulary import Certainty, ImagingJudgement, ReadStatus, Role
from workbench.actor import Actor
from workbench.analysis.agreement import (
    BlandAltman,
    DriftPoint,
    JudgedCase,
    ReaderIndex,
    Spread,
    bland_altman,
    dice,
    disagreement_drift,
    disagreement_index,
    spread,
)
from workbench.analysis.stats import CategoryCounts, KappaResult, Ratings, kappa
from workbench.blinding import all_case_facts
from workbench.errors import ValidationError
from workbench.policy import Action, can, require
from workbench.registry.models import (
    Case,
    CaseAssignment,
    Decision,
    Lesion,
    Read,
    Series,
    User,
    utcnow,
)

if TYPE_CHECKING:
    from workbench.analysis.report import Section

__all__ = [
    "JUDGEMENTS",
    "AgreementReport",
    "CertaintyAgreement",
    "DisagreementReport",
    "FleissGroup",
    "JudgementAgreement",
    "MaskAgreement",
    "MaskPair",
    "PairKappa",
    "agreement_report",
]

JUDGEMENTS = tuple(j.value for j in ImagingJudgement)
"""The imaging judgements, in the order tables show them."""

TITLE = "Reader agreement"

_BATCH = 500
"""Series names are asked for this many ids per statement."""


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _kappa_json(result: KappaResult | None) -> dict[str, Any] | None:
    return None if result is None else result.as_json()


def _cases_text(n: int) -> str:
    return f"{n} case{'' if n == 1 else 's'}"


# --- the report's values -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairKappa:
    """Cohen's kappa of two readers' imaging judgements over the cases both read.

    ``table[i][j]`` counts the cases ``reader_a`` judged ``JUDGEMENTS[i]`` and ``reader_b``
    ``JUDGEMENTS[j]``. ``kappa`` is ``None`` where it is undefined, and ``note`` says why.
    """

    reader_a: str
    reader_b: str
    cases: int
    agreed: int
    table: tuple[tuple[int, ...], ...]
    kappa: KappaResult | None
    note: str | None = None

    @property
    def observed(self) -> float | None:
        """The fraction of cases where both gave the same judgement."""
        return self.agreed / self.cases if self.cases else None

    def as_json(self) -> dict[str, Any]:
        """JSON keys: ``readers``, ``cases``, ``observed_agreement``, ``kappa``, ``table``,
        ``note``."""
        return {
            "readers": [self.reader_a, self.reader_b],
            "cases": self.cases,
            "observed_agreement": _round(self.observed),
            "kappa": _kappa_json(self.kappa),
            "categories": list(JUDGEMENTS),
            "table": [list(row) for row in self.table],
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class FleissGroup:
    """Fleiss' kappa over the cases read by ``readers_per_case`` readers each.

    ``observed`` is the proportion of agreeing reader pairs within cases (Fleiss' P̄).
    """

    readers_per_case: int
    cases: int
    agreeing_pairs: int
    pairs: int
    kappa: KappaResult | None
    note: str | None = None

    @property
    def observed(self) -> float | None:
        """The proportion of agreeing reader pairs within the cases."""
        return self.agreeing_pairs / self.pairs if self.pairs else None

    def as_json(self) -> dict[str, Any]:
        """JSON keys: ``readers_per_case``, ``cases``, ``observed_agreement``, ``kappa``,
        ``note``."""
        return {
            "readers_per_case": self.readers_per_case,
            "cases": self.cases,
            "observed_agreement": _round(self.observed),
            "kappa": _kappa_json(self.kappa),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class JudgementAgreement:
    """Section 1: agreement of the readers' imaging judgements."""

    pairs: tuple[PairKappa, ...]
    groups: tuple[FleissGroup, ...]
    note: str | None = None
    """Why no kappa could be given at all (too few cases), else ``None``."""

    def as_json(self) -> dict[str, Any]:
        """JSON keys: ``cohen`` (one per reader pair), ``fleiss`` (one per group), ``note``."""
        return {
            "cohen": [p.as_json() for p in self.pairs],
            "fleiss": [g.as_json() for g in self.groups],
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class CertaintyAgreement:
    """Section 2: the final panel certainty against the engine's, over the decided cases.

    ``table[i][j]`` counts cases the panel decided ``categories[i]`` where the engine said
    ``categories[j]``.
    """

    cases: int
    agreed: int
    categories: tuple[str, ...]
    table: tuple[tuple[int, ...], ...]
    kappa: KappaResult | None
    undecided: int
    """Counted cases without a final signed decision."""
    no_engine_result: int
    """Final decisions without the engine's certainty recorded (left out)."""
    note: str | None = None

    @property
    def observed(self) -> float | None:
        """The fraction of decided cases where the panel's certainty is the engine's."""
        return self.agreed / self.cases if self.cases else None

    def as_json(self) -> dict[str, Any]:
        """JSON keys: ``cases``, ``observed_agreement``, ``kappa``, ``categories``, ``table``
        (rows panel, columns engine), ``undecided``, ``no_engine_result``, ``note``."""
        return {
            "cases": self.cases,
            "observed_agreement": _round(self.observed),
            "kappa": _kappa_json(self.kappa),
            "categories": list(self.categories),
            "table": [list(row) for row in self.table],
            "undecided": self.undecided,
            "no_engine_result": self.no_engine_result,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class MaskPair:
    """Two readers' union masks on one series of a case: their Dice and volumes (mL)."""

    registry_id: str
    series_id: int
    series: str
    reader_a: str
    reader_b: str
    dice: float
    volume_a_ml: float
    volume_b_ml: float

    def as_json(self) -> dict[str, Any]:
        """JSON keys: ``case``, ``series_id``, ``series``, ``readers``, ``dice``,
        ``volume_ml`` (the two readers' totals, in the order of ``readers``)."""
        return {
            "case": self.registry_id,
            "series_id": self.series_id,
            "series": self.series,
            "readers": [self.reader_a, self.reader_b],
            "dice": round(self.dice, 4),
            "volume_ml": [round(self.volume_a_ml, 4), round(self.volume_b_ml, 4)],
        }


@dataclass(frozen=True, slots=True)
class MaskAgreement:
    """Section 3: Dice and volume agreement of the readers' lesion masks."""

    pairs: tuple[MaskPair, ...]
    both_empty: int
    """Reader pairs of a case where neither marked a lesion (left out)."""
    other_series: int
    """Series one reader of a pair marked while the other marked only other series (not
    comparable: a different grid; left out)."""
    dice: Spread | None
    volume: BlandAltman | None
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        """JSON keys: ``pairs``, ``both_empty_left_out``, ``other_series_left_out``,
        ``dice`` (median, q1, q3), ``volume`` (Bland–Altman), ``note``."""
        return {
            "pairs": [p.as_json() for p in self.pairs],
            "both_empty_left_out": self.both_empty,
            "other_series_left_out": self.other_series,
            "dice": None if self.dice is None else self.dice.as_json(),
            "volume": None if self.volume is None else self.volume.as_json(),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class DisagreementReport:
    """Section 4: each reader's disagreement index, overall and per half-year."""

    readers: tuple[ReaderIndex, ...]
    drift: tuple[DriftPoint, ...]
    panel_reference: int
    """Cases whose reference is the panel's own imaging judgement."""
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        """JSON keys: ``readers``, ``drift``, ``panel_reference_cases``, ``note``."""
        return {
            "readers": [r.as_json() for r in self.readers],
            "drift": [d.as_json() for d in self.drift],
            "panel_reference_cases": self.panel_reference,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class AgreementReport:
    """How well the registry's readers agree (see the module docstring)."""

    as_of: dt.datetime
    by: str
    since: dt.date | None
    cases_with_readers: int
    counted: int
    reads_outstanding: int
    """Cases left out because an assigned reader has not submitted (blinding)."""
    before_since: int
    """Cases left out because a current read was submitted before ``since``."""
    judgement: JudgementAgreement
    certainty: CertaintyAgreement
    masks: MaskAgreement
    disagreement: DisagreementReport
    not_visible: int = 0
    """Cases left out because the policy does not let the viewer see their reads (a panel
    member sees the cases of their own panels; a coordinator who reads a case is blinded)."""

    def as_json(self) -> dict[str, Any]:
        """The whole report as JSON (keys documented in the README)."""
        return {
            "as_of": self.as_of.replace(tzinfo=None).isoformat(timespec="seconds") + "Z",
            "by": self.by,
            "since": None if self.since is None else self.since.isoformat(),
            "cases": {
                "with_readers": self.cases_with_readers,
                "counted": self.counted,
                "left_out_reads_outstanding": self.reads_outstanding,
                "left_out_before_since": self.before_since,
                "left_out_not_visible": self.not_visible,
            },
            "judgement": self.judgement.as_json(),
            "certainty": self.certainty.as_json(),
            "masks": self.masks.as_json(),
            "disagreement": self.disagreement.as_json(),
        }

    def summary(self) -> str:
        """One line: the cases counted and left out."""
        parts = [
            f"{_cases_text(self.counted)} counted of {self.cases_with_readers} with readers "
            "assigned",
            f"{self.reads_outstanding} left out: reads outstanding",
        ]
        if self.since is not None:
            parts.append(f"{self.before_since} left out: read before {self.since.isoformat()}")
        if self.not_visible:
            parts.append(f"{self.not_visible} left out: not yours to see (blinding)")
        return "; ".join(parts)

    def meta(self) -> dict[str, str]:
        """The lines under the HTML report's title."""
        meta = {
            "Generated": f"{self.as_of:%Y-%m-%d %H:%M} UTC",
            "By": self.by,
            "Cases": self.summary(),
        }
        if self.since is not None:
            meta["Reads submitted since"] = self.since.isoformat()
        return meta

    def sections(self) -> list[Section]:
        """The report as sections, each a figure with the tables of its numbers (new figures
        on every call: a figure shown in the window is not shared with an export)."""
        from workbench.agreement_figures import report_sections

        return report_sections(self)

    def html(self) -> str:
        """The report as one self-contained HTML page."""
        from workbench.analysis.report import html_document

        return html_document(TITLE, self.sections(), meta=self.meta())


# --- gathering ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CurrentRead:
    read_id: int
    reader: str
    judgement: str | None
    submitted_at: dt.datetime | None


@dataclass(slots=True)
class _Counted:
    case_id: int
    registry_id: str
    reads: list[_CurrentRead]


def _counted_cases(
    session: Session, actor: Actor, since: dt.date | None
) -> tuple[list[_Counted], int, int, int, int]:
    """The cases whose every assigned reader has submitted and whose reads the policy lets
    ``actor`` see, with each one's current read; also the number of cases with readers, left
    out for outstanding reads, for ``since`` and as not the actor's to see."""
    facts_of = all_case_facts(session, actor)
    readers: dict[int, set[int]] = defaultdict(set)
    for case_id, user_id in session.execute(
        select(CaseAssignment.case_id, CaseAssignment.user_id).where(
            CaseAssignment.role == Role.READER
        )
    ):
        readers[case_id].add(user_id)
    current: dict[tuple[int, int], tuple[int, int, Any, dt.datetime | None]] = {}
    for read_id, case_id, reader_id, revision, judgement, submitted_at in session.execute(
        select(
            Read.id,
            Read.case_id,
            Read.reader_id,
            Read.revision,
            Read.imaging_judgement,
            Read.submitted_at,
        ).where(Read.status == ReadStatus.SUBMITTED)
    ):
        key = (case_id, reader_id)
        held = current.get(key)
        if held is None or (revision, read_id) > (held[0], held[1]):
            current[key] = (revision, read_id, judgement, submitted_at)
    names: dict[int, str] = dict(session.execute(select(User.id, User.username)).all())
    # Every case's id, not an IN list of the assigned ones: SQLite caps bound parameters.
    registry_ids: dict[int, str] = dict(session.execute(select(Case.id, Case.registry_id)).all())
    since_at = None if since is None else dt.datetime.combine(since, dt.time())
    counted: list[_Counted] = []
    outstanding = before = hidden = 0
    for case_id in sorted(readers, key=lambda c: registry_ids.get(c, "")):
        assigned = readers[case_id]
        facts = facts_of[case_id]
        if not facts.all_reads_in or not all((case_id, uid) in current for uid in assigned):
            outstanding += 1
            continue
        if can(actor, Action.SEE_PANEL_WORK, facts) is not None:
            hidden += 1  # e.g. a panel member not on this case's panel
            continue
        reads = []
        for uid in assigned:
            _, read_id, judgement, submitted_at = current[(case_id, uid)]
            value = judgement.value if isinstance(judgement, ImagingJudgement) else judgement
            reads.append(_CurrentRead(read_id, names[uid], value, submitted_at))
        if since_at is not None and any(
            r.submitted_at is None or r.submitted_at.replace(tzinfo=None) < since_at for r in reads
        ):
            before += 1
            continue
        reads.sort(key=lambda r: r.reader)
        counted.append(_Counted(case_id, registry_ids[case_id], reads))
    return counted, len(readers), outstanding, before, hidden


def _final_decisions(session: Session, case_ids: Iterable[int]) -> dict[int, Decision]:
    """The final decision in force of each case (the newest final one), by case id."""
    wanted = set(case_ids)
    finals: dict[int, Decision] = {}
    if not wanted:
        return finals
    for decision in session.scalars(
        select(Decision).where(Decision.is_final.is_(True)).order_by(Decision.id)
    ):
        if decision.case_id in wanted:
            finals[decision.case_id] = decision
    return finals


def _judged(cases: Sequence[_Counted]) -> list[tuple[str, dict[str, str]]]:
    """Each case's judgements by reader, leaving out reads without one."""
    return [
        (c.registry_id, {r.reader: r.judgement for r in c.reads if r.judgement is not None})
        for c in cases
    ]


def _kappa(data: Ratings | CategoryCounts) -> KappaResult:
    """:func:`workbench.analysis.stats.kappa`, quietly: where a reader (or the engine) used a
    single category the z test is undefined (0/0) and its value is NaN, which the report
    shows as missing; numpy's warning about it would only clutter the command's output."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return kappa(data)


def _pair_kappas(judged: Sequence[tuple[str, Mapping[str, str]]]) -> tuple[PairKappa, ...]:
    by_pair: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for registry_id, judgements in judged:
        for a, b in itertools.combinations(sorted(judgements), 2):
            by_pair[(a, b)].append((registry_id, judgements[a], judgements[b]))
    pairs = []
    for (a, b), rows in sorted(by_pair.items()):
        table = [[0] * len(JUDGEMENTS) for _ in JUDGEMENTS]
        for _, ja, jb in rows:
            table[JUDGEMENTS.index(ja)][JUDGEMENTS.index(jb)] += 1
        agreed = sum(1 for _, ja, jb in rows if ja == jb)
        result: KappaResult | None = None
        note = None
        if len(rows) < 2:
            note = f"kappa needs at least 2 cases read by both; {_cases_text(len(rows))}"
        else:
            try:
                result = _kappa(
                    Ratings(
                        (a, b),
                        tuple(r[0] for r in rows),
                        tuple((ja, jb) for _, ja, jb in rows),
                    )
                )
            except ValidationError as exc:
                note = str(exc)
        pairs.append(
            PairKappa(a, b, len(rows), agreed, tuple(tuple(r) for r in table), result, note)
        )
    return tuple(pairs)


def _fleiss_groups(judged: Sequence[tuple[str, Mapping[str, str]]]) -> tuple[FleissGroup, ...]:
    by_size: dict[int, list[tuple[str, tuple[int, ...]]]] = defaultdict(list)
    for registry_id, judgements in judged:
        if len(judgements) >= 2:
            values = list(judgements.values())
            counts = tuple(values.count(j) for j in JUDGEMENTS)
            by_size[len(values)].append((registry_id, counts))
    groups = []
    for size, rows in sorted(by_size.items()):
        pairs = len(rows) * size * (size - 1) // 2
        agreeing = sum(n * (n - 1) // 2 for _, counts in rows for n in counts)
        result: KappaResult | None = None
        note = None
        if len(rows) < 2:
            note = f"kappa needs at least 2 cases with {size} readers; {_cases_text(len(rows))}"
        else:
            try:
                result = _kappa(
                    CategoryCounts(JUDGEMENTS, tuple(r[0] for r in rows), tuple(r[1] for r in rows))
                )
            except ValidationError as exc:
                note = str(exc)
        groups.append(FleissGroup(size, len(rows), agreeing, pairs, result, note))
    return tuple(groups)


def _judgement_section(judged: Sequence[tuple[str, Mapping[str, str]]]) -> JudgementAgreement:
    pairs = _pair_kappas(judged)
    groups = _fleiss_groups(judged)
    note = None
    if not any(p.kappa for p in pairs) and not any(g.kappa for g in groups):
        best = max((p.cases for p in pairs), default=0)
        note = (
            f"kappa needs at least 2 cases with 2 readers; {_cases_text(best)} "
            f"{'qualifies' if best == 1 else 'qualify'}"
        )
        reasons = {p.note for p in pairs if p.note and p.cases >= 2}
        if reasons:
            note += " (" + "; ".join(sorted(reasons)) + ")"
    return JudgementAgreement(pairs, groups, note)


def _certainty_section(
    cases: Sequence[_Counted], finals: Mapping[int, Decision]
) -> CertaintyAgreement:
    rows: list[tuple[str, str, str]] = []
    undecided = no_engine = 0
    for c in cases:
        decision = finals.get(c.case_id)
        if decision is None:
            undecided += 1
            continue
        engine = (decision.engine_result or {}).get("certainty")
        if not engine:
            no_engine += 1
            continue
        rows.append((c.registry_id, Certainty(decision.certainty).value, Certainty(engine).value))
    used = {v for _, p, e in rows for v in (p, e)}
    categories = tuple(c.value for c in Certainty if c.value in used)
    table = [[0] * len(categories) for _ in categories]
    for _, panel, engine in rows:
        table[categories.index(panel)][categories.index(engine)] += 1
    agreed = sum(1 for _, p, e in rows if p == e)
    result: KappaResult | None = None
    note = None
    if len(rows) < 2:
        note = (
            f"kappa needs at least 2 cases with a final signed decision; "
            f"{_cases_text(len(rows))} {'qualifies' if len(rows) == 1 else 'qualify'}"
        )
    else:
        try:
            result = _kappa(
                Ratings(
                    ("panel", "engine"),
                    tuple(r[0] for r in rows),
                    tuple((p, e) for _, p, e in rows),
                )
            )
        except ValidationError as exc:
            note = str(exc)
    return CertaintyAgreement(
        cases=len(rows),
        agreed=agreed,
        categories=categories,
        table=tuple(tuple(r) for r in table),
        kappa=result,
        undecided=undecided,
        no_engine_result=no_engine,
        note=note,
    )


def _series_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """``#id class description`` of each series, asked in batches (SQLite caps the number of
    bound parameters of one statement)."""
    wanted = sorted(set(ids))
    names: dict[int, str] = {}
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        for sid, seq, desc in session.execute(
            select(Series.id, Series.sequence_class, Series.description).where(Series.id.in_(batch))
        ):
            names[sid] = f"#{sid} {seq.value}" + (f" {desc}" if desc else "")
    return names


def _mask_section(session: Session, cases: Sequence[_Counted]) -> MaskAgreement:
    from workbench.lesions.codec import decode_mask

    read_ids = {r.read_id: (c, r.reader) for c in cases for r in c.reads}
    # (case id, reader) -> series id -> [(mask blob, volume mL)]
    marked: dict[tuple[int, str], dict[int, list[tuple[bytes, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    if read_ids:
        for read_id, series_id, blob, volume_ml in session.execute(
            select(Lesion.read_id, Lesion.series_id, Lesion.mask, Lesion.volume_ml)
            .join(Read, Read.id == Lesion.read_id)
            .where(Read.status == ReadStatus.SUBMITTED)
        ):
            if read_id in read_ids:
                case, reader = read_ids[read_id]
                marked[(case.case_id, reader)][series_id].append((blob, float(volume_ml)))
    names = _series_names(session, (s for per in marked.values() for s in per))

    def union(case_id: int, reader: str, series_id: int) -> Any:
        masks = [decode_mask(blob) != 0 for blob, _ in marked[(case_id, reader)][series_id]]
        out = masks[0].copy()
        for mask in masks[1:]:
            out |= mask
        return out

    pairs: list[MaskPair] = []
    both_empty = other_series = 0
    for c in cases:
        unions: dict[tuple[str, int], Any] = {}
        for ra, rb in itertools.combinations([r.reader for r in c.reads], 2):
            a_series = marked.get((c.case_id, ra), {})
            b_series = marked.get((c.case_id, rb), {})
            if not a_series and not b_series:
                both_empty += 1
                continue
            if a_series and b_series:
                compared = sorted(set(a_series) & set(b_series))
                other_series += len(set(a_series) ^ set(b_series))
            else:
                compared = sorted(set(a_series) | set(b_series))
            for sid in compared:
                masks = []
                for reader, per in ((ra, a_series), (rb, b_series)):
                    if sid in per:
                        key = (reader, sid)
                        if key not in unions:
                            unions[key] = union(c.case_id, reader, sid)
                        masks.append(unions[key])
                    else:
                        masks.append(None)
                a_mask, b_mask = masks
                shape = (a_mask if a_mask is not None else b_mask).shape
                score = dice(
                    a_mask if a_mask is not None else np.zeros(shape, bool),
                    b_mask if b_mask is not None else np.zeros(shape, bool),
                )
                pairs.append(
                    MaskPair(
                        c.registry_id,
                        sid,
                        names.get(sid, f"#{sid}"),
                        ra,
                        rb,
                        score,
                        sum(v for _, v in a_series.get(sid, [])),
                        sum(v for _, v in b_series.get(sid, [])),
                    )
                )
    dice_spread = spread([p.dice for p in pairs]) if pairs else None
    volume = None
    note = None
    if len(pairs) >= 2:
        volume = bland_altman([p.volume_a_ml for p in pairs], [p.volume_b_ml for p in pairs])
    else:
        note = (
            f"mask agreement needs at least 2 pairs of readers with lesions marked on the same "
            f"series; {len(pairs)} pair{'' if len(pairs) == 1 else 's'} "
            f"{'qualifies' if len(pairs) == 1 else 'qualify'}"
        )
    return MaskAgreement(tuple(pairs), both_empty, other_series, dice_spread, volume, note)


def _disagreement_section(
    cases: Sequence[_Counted], finals: Mapping[int, Decision]
) -> DisagreementReport:
    judged: list[JudgedCase] = []
    panel_reference = 0
    for c in cases:
        judgements = {r.reader: r.judgement for r in c.reads if r.judgement is not None}
        if not judgements:
            continue
        decision = finals.get(c.case_id)
        panel = None
        if decision is not None and decision.panel_imaging is not None:
            panel = ImagingJudgement(decision.panel_imaging).value
            panel_reference += 1
        submitted = {r.reader: r.submitted_at for r in c.reads if r.submitted_at is not None}
        judged.append(JudgedCase(c.registry_id, judgements, panel, submitted))
    readers = disagreement_index(judged)
    drift = disagreement_drift(judged)
    note = None
    if not any(r.compared for r in readers):
        note = (
            "the disagreement index needs cases with a reference (the panel's imaging "
            "judgement, or a majority of the other readers); no case has one yet"
        )
    return DisagreementReport(readers, drift, panel_reference, note)


def agreement_report(
    session: Session, actor: Actor, *, since: dt.date | None = None
) -> AgreementReport:
    """Reader agreement over the registry (see the module docstring), for ``actor``.

    ``since``: only cases whose every current read was submitted on or after that day (UTC).
    Raises :class:`~workbench.errors.PermissionDeniedError` unless ``actor`` may see reader
    agreement (coordinators, administrators, panel members).
    """
    require(actor, Action.SEE_AGREEMENT)
    cases, with_readers, outstanding, before, hidden = _counted_cases(session, actor, since)
    finals = _final_decisions(session, (c.case_id for c in cases))
    judged = _judged(cases)
    return AgreementReport(
        as_of=utcnow(),
        by=actor.username,
        since=since,
        cases_with_readers=with_readers,
        counted=len(cases),
        reads_outstanding=outstanding,
        before_since=before,
        not_visible=hidden,
        judgement=_judgement_section(judged),
        certainty=_certainty_section(cases, finals),
        masks=_mask_section(session, cases),
        disagreement=_disagreement_section(cases, finals),
    )
