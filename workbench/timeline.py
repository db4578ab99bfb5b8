"""A case's course on one time axis: the data behind the case timeline (DESIGN.md §9).

:func:`case_timeline` gathers, for one case and one acting person, everything the timeline
plot draws, as frozen plain values in days relative to the case's index event (the registry
stores no calendar dates):

- the MRI timepoints (imaging studies) and, per read the actor may see, the total lesion
  volume marked on each timepoint's series (:class:`ReadVolume`);
- the CSF JCV PCR results with each assay's limits of detection and quantification;
- the anti-JCV antibody index, CD4 counts and lymphocytes (lab results and the clinical
  record's values);
- drug exposures and treatments as bars, and the events of the case (symptom onset,
  diagnosis, IRIS, outcome).

Blinding is not decided here: the reads come through
:func:`workbench.reading_flow.reads_of_case`, which applies the one policy
(:mod:`workbench.policy`); a read shown status-only (``blinded``) contributes nothing, and
when the policy refuses the actor the case's reads (:data:`~workbench.policy.Action.LIST_READS`)
no read is asked for at all. The case's own data (labs, exposures, clinical record) is what the
case page shows everyone who may open it (:mod:`workbench.services.clinical`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adjudication.vocabulary import ReadStatus
from workbench.actor import Actor
from workbench.cases import get_case
from workbench.clinical_store import load_record
from workbench.domain import LabQualitative, LabTest, Outcome
from workbench.policy import Action, can
from workbench.reading_flow import ReadRecord, reads_of_case
from workbench.reads import assigned_reader_ids, case_facts
from workbench.registry.models import ImagingStudy, Series

__all__ = [
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
]

LYMPHOCYTE_UNIT = "×10⁹/L"
"""The unit lymphocyte counts are drawn in (the clinical record's unit)."""
CD4_UNIT = "cells/µL"
ANTIBODY_BANDS = (0.9, 1.5)
"""Anti-JCV antibody index cut-offs shaded on the plot (STRATIFY JCV DxSelect: ≤0.9 low,
>1.5 high risk of PML on natalizumab in patients without prior immunosuppressants)."""

_DETECTED = frozenset({LabQualitative.DETECTED, LabQualitative.POSITIVE})
_NOT_DETECTED = frozenset({LabQualitative.NOT_DETECTED, LabQualitative.NEGATIVE})


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


@dataclass(frozen=True, slots=True)
class ImagingPoint:
    """One MRI timepoint: an imaging study's day, its description and how many series."""

    day: int
    description: str
    series: int

    def as_json(self) -> dict[str, Any]:
        """The timepoint as ``timeline --json`` prints it."""
        return {"day": self.day, "description": self.description, "series": self.series}


@dataclass(frozen=True, slots=True)
class ReadVolume:
    """The total lesion volume one read marked on the series of one timepoint.

    Only timepoints where the read marked at least one lesion are listed: a read that did not
    annotate a timepoint says nothing about its lesion load (it is not a zero).
    """

    reader: str
    revision: int
    status: ReadStatus
    day: int
    volume_ml: float
    lesions: int

    @property
    def label(self) -> str:
        """``reader`` (with ``rev 2`` or ``draft`` when it is not a first submitted read)."""
        extra = []
        if self.revision > 1:
            extra.append(f"rev {self.revision}")
        if self.status is ReadStatus.DRAFT:
            extra.append("draft")
        return self.reader + (f" ({', '.join(extra)})" if extra else "")

    def as_json(self) -> dict[str, Any]:
        """The volume as ``timeline --json`` prints it."""
        return {
            "reader": self.reader,
            "revision": self.revision,
            "status": self.status.value,
            "day": self.day,
            "volume_ml": _round(self.volume_ml),
            "lesions": self.lesions,
        }


@dataclass(frozen=True, slots=True)
class AssayLimits:
    """One assay's limits of detection and quantification (in the unit of its results)."""

    assay: str
    unit: str | None
    lod: float | None
    loq: float | None
    first_day: int
    last_day: int
    """The days of this assay's results: the limits are drawn over them."""

    def as_json(self) -> dict[str, Any]:
        """The limits as ``timeline --json`` prints them."""
        return {
            "assay": self.assay,
            "unit": self.unit,
            "lod": self.lod,
            "loq": self.loq,
            "first_day": self.first_day,
            "last_day": self.last_day,
        }


@dataclass(frozen=True, slots=True)
class JcvPoint:
    """One CSF JCV PCR result, as stored (the plot decides where a non-number sits)."""

    day: int
    result: LabQualitative
    value: float | None
    unit: str | None
    assay: str
    """The assay's name (``unnamed assay`` when the site gave none)."""
    lod: float | None
    loq: float | None
    from_log10: bool = False
    """The value and limits were recorded in log10 units and are shown here converted."""

    @property
    def kind(self) -> str:
        """How the point is drawn: ``quantified``, ``detected`` (no number),
        ``below_loq``, ``not_detected`` or ``not_done`` (``indeterminate`` too)."""
        if self.result is LabQualitative.DETECTED_BELOW_LOQ:
            return "below_loq"
        if self.result in _NOT_DETECTED:
            return "not_detected"
        if self.value is not None and self.result in (*_DETECTED, LabQualitative.QUANTITATIVE):
            return "quantified"
        if self.result in _DETECTED:
            return "detected"
        return "not_done"

    @property
    def label(self) -> str:
        """The result in words, as the plot and its table show it."""
        return {
            "quantified": "detected",
            "detected": "detected, not quantified",
            "below_loq": "detected below LOQ",
            "not_detected": "not detected",
            "not_done": self.result.value.replace("_", " "),
        }[self.kind]

    def as_json(self) -> dict[str, Any]:
        """The result as ``timeline --json`` prints it."""
        return {
            "day": self.day,
            "result": self.result.value,
            "drawn_as": self.kind,
            "value": self.value,
            "unit": self.unit,
            "assay": self.assay,
            "lod": self.lod,
            "loq": self.loq,
            "from_log10": self.from_log10,
        }


@dataclass(frozen=True, slots=True)
class Measure:
    """One measured value on a day: an antibody index, a CD4 count, a lymphocyte count."""

    day: int
    value: float
    unit: str | None
    source: str
    """``lab`` (a lab result) or ``clinical record`` (with what it is, e.g. ``nadir``)."""

    def as_json(self) -> dict[str, Any]:
        """The value as ``timeline --json`` prints it."""
        return {"day": self.day, "value": self.value, "unit": self.unit, "source": self.source}


@dataclass(frozen=True, slots=True)
class Bar:
    """A drug exposure or a treatment from ``start_day`` to ``stop_day``.

    Either day may be unknown (``None``): the bar is then open at that end (a missing stop
    day is an exposure that was ongoing or whose end was not reported).
    """

    kind: str
    """``exposure`` or ``treatment``."""
    label: str
    start_day: int | None
    stop_day: int | None
    detail: str | None = None

    @property
    def dated(self) -> bool:
        """Whether the bar has at least one known day (otherwise it cannot be drawn)."""
        return self.start_day is not None or self.stop_day is not None

    def as_json(self) -> dict[str, Any]:
        """The bar as ``timeline --json`` prints it."""
        return {
            "kind": self.kind,
            "label": self.label,
            "start_day": self.start_day,
            "stop_day": self.stop_day,
            "open_start": self.start_day is None,
            "open_end": self.stop_day is None,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """A dated event of the case: ``onset``, ``diagnosis``, ``iris`` or ``outcome``."""

    kind: str
    day: int
    label: str

    def as_json(self) -> dict[str, Any]:
        """The event as ``timeline --json`` prints it."""
        return {"kind": self.kind, "day": self.day, "label": self.label}


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One plotted number as the table under the plot lists it."""

    panel: str
    what: str
    day: int | None
    value: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class CaseTimeline:
    """Everything the timeline of one case draws, as the acting person may see it."""

    registry_id: str
    index_event: str
    imaging: tuple[ImagingPoint, ...] = ()
    volumes: tuple[ReadVolume, ...] = ()
    reads_note: str | None = None
    """Why some or all reads' lesion volumes are not shown (blinded, not submitted)."""
    jcv: tuple[JcvPoint, ...] = ()
    assays: tuple[AssayLimits, ...] = ()
    antibody: tuple[Measure, ...] = ()
    cd4: tuple[Measure, ...] = ()
    lymphocytes: tuple[Measure, ...] = ()
    bars: tuple[Bar, ...] = ()
    events: tuple[Event, ...] = ()
    not_drawn: tuple[str, ...] = ()
    """Values the plot leaves out, each with why (a CD4 percentage is not a count)."""

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing at all to plot."""
        return not (
            self.imaging
            or self.volumes
            or self.jcv
            or self.antibody
            or self.cd4
            or self.lymphocytes
            or any(bar.dated for bar in self.bars)
            or self.events
        )

    @property
    def undated_bars(self) -> tuple[Bar, ...]:
        """Exposures and treatments without any day: listed, not drawn."""
        return tuple(bar for bar in self.bars if not bar.dated)

    def rows(self) -> tuple[TimelineRow, ...]:
        """Every plotted number, panel by panel, for the table under the plot."""
        rows: list[TimelineRow] = []
        for point in self.imaging:
            rows.append(
                TimelineRow(
                    "MRI", "timepoint", point.day, f"{point.series} series", point.description
                )
            )
        for volume in self.volumes:
            rows.append(
                TimelineRow(
                    "MRI",
                    f"lesion volume, {volume.label}",
                    volume.day,
                    f"{volume.volume_ml:.3g} mL",
                    f"{volume.lesions} lesion(s)",
                )
            )
        if self.reads_note:
            rows.append(TimelineRow("MRI", "reads", None, "", self.reads_note))
        for jcv in self.jcv:
            value = f"{jcv.value:g} {jcv.unit or ''}".strip() if jcv.value is not None else ""
            limits = ", ".join(
                f"{name} {number:g}"
                for name, number in (("LOD", jcv.lod), ("LOQ", jcv.loq))
                if number is not None
            )
            note = jcv.assay + (f" ({limits})" if limits else "")
            if jcv.from_log10:
                note += "; entered in log10, shown linear"
            rows.append(TimelineRow("CSF JCV PCR", jcv.label, jcv.day, value, note))
        for panel, what, measures in (
            ("anti-JCV index", "antibody index", self.antibody),
            ("CD4 / lymphocytes", "CD4 count", self.cd4),
            ("CD4 / lymphocytes", "lymphocytes", self.lymphocytes),
        ):
            for m in measures:
                value = f"{m.value:g} {m.unit or ''}".strip()
                rows.append(TimelineRow(panel, what, m.day, value, m.source))
        for bar in self.bars:
            span = (
                f"{'?' if bar.start_day is None else f'{bar.start_day:+d}'} to "
                f"{'open' if bar.stop_day is None else f'{bar.stop_day:+d}'}"
            )
            note = bar.detail or ""
            if not bar.dated:
                note = (note + "; " if note else "") + "no days: not drawn"
            rows.append(TimelineRow(bar.kind, bar.label, bar.start_day, span, note))
        for event in self.events:
            rows.append(TimelineRow("events", event.label, event.day, ""))
        for text in self.not_drawn:
            rows.append(TimelineRow("not drawn", text, None, ""))
        return tuple(rows)

    def as_json(self) -> dict[str, Any]:
        """The timeline as ``timeline --json`` prints it (days relative to day 0)."""
        return {
            "registry_id": self.registry_id,
            "day_0": self.index_event,
            "imaging": [p.as_json() for p in self.imaging],
            "lesion_volumes": [v.as_json() for v in self.volumes],
            "reads_note": self.reads_note,
            "csf_jcv_pcr": [p.as_json() for p in self.jcv],
            "assays": [a.as_json() for a in self.assays],
            "antibody_index": [m.as_json() for m in self.antibody],
            "cd4": [m.as_json() for m in self.cd4],
            "lymphocytes": [m.as_json() for m in self.lymphocytes],
            "bars": [b.as_json() for b in self.bars],
            "events": [e.as_json() for e in self.events],
            "not_drawn": list(self.not_drawn),
        }


# --- gathering -------------------------------------------------------------------------------


def _visible_reads(
    session: Session, actor: Actor, case_id: int, registry_id: str
) -> tuple[list[ReadRecord], str | None]:
    """The reads whose contents ``actor`` may see (the latest revision of each reader), and a
    note when some assigned reader's read is not among them."""
    facts = case_facts(session, actor, case_id)
    assigned = len(assigned_reader_ids(session, case_id))
    if can(actor, Action.LIST_READS, facts) is not None:
        note = "Lesion volumes are not shown: the reads of this case are not open to you."
        return [], note if assigned else None
    latest: dict[str, ReadRecord] = {}
    for record in reads_of_case(session, actor, registry_id):
        if record.blinded:
            continue
        kept = latest.get(record.reader)
        if kept is None or record.revision > kept.revision:
            latest[record.reader] = record
    reads = sorted(latest.values(), key=lambda r: r.reader)
    shown = len(reads)
    partial: str | None = None
    if assigned and shown < assigned:
        partial = (
            f"Lesion volumes of {shown} of {assigned} assigned reader(s) shown; the other "
            "reads are blinded for you or not submitted yet."
        )
    return reads, partial


def _volumes(reads: list[ReadRecord], day_of_series: dict[int, int]) -> tuple[ReadVolume, ...]:
    out: list[ReadVolume] = []
    for read in reads:
        by_day: dict[int, list[float]] = defaultdict(list)
        for lesion in read.lesions:
            day = day_of_series.get(lesion.series_id)
            if day is not None:
                by_day[day].append(lesion.volume_ml)
        for day in sorted(by_day):
            out.append(
                ReadVolume(
                    reader=read.reader,
                    revision=read.revision,
                    status=read.status,
                    day=day,
                    volume_ml=float(sum(by_day[day])),
                    lesions=len(by_day[day]),
                )
            )
    return tuple(out)


def _jcv_point(
    day: int,
    result: LabQualitative,
    value: float | None,
    unit: str | None,
    assay: str | None,
    lod: float | None,
    loq: float | None,
) -> JcvPoint:
    """One CSF JCV result in linear units: a value in ``log10 copies/mL`` (and its limits,
    which are in the value's unit) becomes copies/mL, so one log axis holds every assay."""
    log10 = unit is not None and unit.startswith("log10 ")
    if log10:
        assert unit is not None
        unit = unit.removeprefix("log10 ")
        # Six significant digits: 10 ** 1.69897 is the LOQ of 50 copies/mL it was entered as.
        value, lod, loq = (None if x is None else float(f"{10**x:.6g}") for x in (value, lod, loq))
    return JcvPoint(
        day=day,
        result=result,
        value=value,
        unit=unit,
        assay=(assay or "").strip() or "unnamed assay",
        lod=lod,
        loq=loq,
        from_log10=log10,
    )


def _cd4_per_microlitre(value: float, unit: str | None) -> float | None:
    """A CD4 count in cells/µL (from cells/µL or 10^9/L); ``None`` for a percentage."""
    if unit in (None, CD4_UNIT):
        return value
    if unit == "10^9/L":
        return value * 1000.0
    return None


def _to_billion_per_litre(value: float, unit: str | None) -> float | None:
    """A lymphocyte count in ×10⁹/L, from ×10⁹/L (or no unit) or cells/µL (= /mm³);
    ``None`` for a unit it cannot convert."""
    text = (unit or "").replace(" ", "").lower()
    if not text or "10^9" in text or "10⁹" in text or text == "g/l" or "giga/l" in text:
        return value
    if text in {"cells/µl", "cells/ul", "/µl", "/ul", "/mm3", "cells/mm3", "/mm³", "cells/mm³"}:
        return value / 1000.0
    return None


def case_timeline(session: Session, actor: Actor, registry_id: str) -> CaseTimeline:
    """The timeline of case ``registry_id`` as ``actor`` may see it (see the module's
    docstring); raises :class:`~workbench.errors.NotFoundError` for an unknown case."""
    case = get_case(session, registry_id)
    studies = sorted(case.studies, key=lambda s: (s.day, s.id))
    imaging = tuple(
        ImagingPoint(study.day, study.description or "", len(study.series)) for study in studies
    )
    day_of_series: dict[int, int] = {
        row.id: row.day
        for row in session.execute(
            select(Series.id, ImagingStudy.day)
            .join(ImagingStudy, ImagingStudy.id == Series.study_id)
            .where(ImagingStudy.case_id == case.id)
        )
    }
    reads, reads_note = _visible_reads(session, actor, case.id, case.registry_id)
    record = load_record(case)

    labs = sorted(case.lab_results, key=lambda r: (r.day, r.id))
    jcv = tuple(
        _jcv_point(r.day, r.qualitative, r.value, r.unit, r.assay, r.lod, r.loq)
        for r in labs
        if r.test == LabTest.CSF_JCV_PCR
    )
    limits: dict[tuple[str, str | None, float | None, float | None], list[int]] = {}
    for point in jcv:
        if point.lod is not None or point.loq is not None:
            limits.setdefault((point.assay, point.unit, point.lod, point.loq), []).append(point.day)
    assays = tuple(
        AssayLimits(assay, unit, lod, loq, min(days), max(days))
        for (assay, unit, lod, loq), days in limits.items()
    )

    antibody = [
        Measure(r.day, float(r.value), r.unit, "lab")
        for r in labs
        if r.test == LabTest.SERUM_JCV_ANTIBODY_INDEX and r.value is not None
    ]
    if record.anti_jcv_index is not None and record.anti_jcv_index_day is not None:
        antibody.append(
            Measure(record.anti_jcv_index_day, record.anti_jcv_index, None, "clinical record")
        )
    cd4: list[Measure] = []
    not_drawn: list[str] = []
    for r in labs:
        if r.test != LabTest.CD4_COUNT or r.value is None:
            continue
        count = _cd4_per_microlitre(float(r.value), r.unit)
        if count is None:
            not_drawn.append(
                f"CD4 {r.value:g} {r.unit or ''} on day {r.day:+d} (not a count per µL)".replace(
                    "  ", " "
                )
            )
        else:
            cd4.append(Measure(r.day, count, CD4_UNIT, "lab"))
    if record.cd4_nadir is not None and record.cd4_nadir_day is not None:
        cd4.append(
            Measure(
                record.cd4_nadir_day, float(record.cd4_nadir), CD4_UNIT, "clinical record, nadir"
            )
        )
    lymphocytes = []
    for r in labs:
        name = (r.test_name or "").lower()
        if r.test == LabTest.OTHER and "lymphocyte" in name and r.value is not None:
            value = _to_billion_per_litre(float(r.value), r.unit)
            if value is not None:
                lymphocytes.append(Measure(r.day, value, LYMPHOCYTE_UNIT, f"lab: {r.test_name}"))
    if record.lymphocytes is not None and record.lymphocytes_day is not None:
        lymphocytes.append(
            Measure(record.lymphocytes_day, record.lymphocytes, LYMPHOCYTE_UNIT, "clinical record")
        )

    bars = [
        Bar(
            "exposure",
            e.drug,
            e.start_day,
            e.stop_day,
            f"{e.infusion_count} infusions" if e.infusion_count is not None else None,
        )
        for e in sorted(case.exposures, key=lambda e: (e.start_day is None, e.start_day or 0, e.id))
    ]
    bars.extend(
        Bar(
            "treatment",
            t.kind.value.replace("_", " "),
            t.start_day,
            t.stop_day,
            t.detail,
        )
        for t in record.treatments
    )

    events: list[Event] = []
    if record.onset_day is not None:
        events.append(Event("onset", record.onset_day, "symptom onset"))
    if record.diagnosis_day is not None:
        events.append(Event("diagnosis", record.diagnosis_day, "diagnosis"))
    if record.iris_onset_day is not None:
        events.append(Event("iris", record.iris_onset_day, "IRIS onset"))
    if case.outcome_day is not None and case.outcome is not Outcome.UNKNOWN:
        label = {
            Outcome.DIED: "death",
            Outcome.ALIVE: "alive (last follow-up)",
            Outcome.LOST_TO_FOLLOW_UP: "lost to follow-up",
        }.get(case.outcome, case.outcome.value)
        events.append(Event("outcome", case.outcome_day, label))
    events.sort(key=lambda e: e.day)

    def by_day(items: list[Measure]) -> tuple[Measure, ...]:
        return tuple(sorted(items, key=lambda m: m.day))

    return CaseTimeline(
        registry_id=case.registry_id,
        index_event=case.index_event,
        imaging=imaging,
        volumes=_volumes(reads, day_of_series),
        reads_note=reads_note,
        jcv=jcv,
        assays=assays,
        antibody=by_day(antibody),
        cd4=by_day(cd4),
        lymphocytes=by_day(lymphocytes),
        bars=tuple(bars),
        events=tuple(events),
        not_drawn=tuple(not_drawn),
    )
