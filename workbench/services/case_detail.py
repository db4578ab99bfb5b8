"""What a case page shows, as frozen plain values: :func:`load_case`.

The page never holds ORM objects: :func:`load_case` opens its own read transaction, copies
what the acting user may see (the texts that need domain code included) and returns frozen
values. The review status (:class:`ReviewStatus`) and the history go through the one policy
(:mod:`workbench.policy`): what a user may not see is never copied here, so no widget can show
it by mistake.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from adjudication.vocabulary import Certainty, Pathway, ReadStatus, Role, TriState
from workbench.actor import Actor
from workbench.cases import get_case
from workbench.clinical import DosingSchedule, DrugClass
from workbench.display import format_utc
from workbench.domain import CaseStatus, Condition, LabQualitative, LabTest, SequenceClass
from workbench.panel import HistoryEvent, case_history, final_decision, latest_discordance
from workbench.policy import STATUS_ROLES, Action, Facts, can, visible_status
from workbench.readiness import assess
from workbench.reading_flow import ReadRecord, reads_of_case
from workbench.reads import case_facts
from workbench.registry.db import Registry
from workbench.registry.models import Case, CaseAssignment, User
from workbench.review_config import load_review_config
from workbench.services.clinical import ClinicalView, clinical_view
from workbench.services.review_case import ReviewCase, review_case
from workbench.studies import describe_geometry


@dataclass(frozen=True, slots=True)
class ExposureRow:
    """One drug exposure on the case page."""

    drug: str
    start_day: int | None
    stop_day: int | None
    infusion_count: int | None
    drug_class: DrugClass = DrugClass.UNKNOWN
    dosing_schedule: DosingSchedule = DosingSchedule.UNKNOWN
    last_dose_day: int | None = None
    prior: bool = False


@dataclass(frozen=True, slots=True)
class FeatureRow:
    """One clinical feature on the case page."""

    feature: str
    status: TriState
    onset_day: int | None
    note: str | None


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """One series of a timepoint, with its geometry already described."""

    sequence_class: SequenceClass
    description: str
    geometry: str
    series_instance_uid: str | None
    source_uri: str
    n_files: int


@dataclass(frozen=True, slots=True)
class Timepoint:
    """One imaging study: a day relative to the index date and its series."""

    day: int
    description: str
    study_instance_uid: str | None
    series: tuple[SeriesRow, ...]


@dataclass(frozen=True, slots=True)
class LabRow:
    """One lab result as the page lists it."""

    test: LabTest
    test_label: str
    day: int
    result: LabQualitative
    value: float | None
    unit: str | None
    assay: str | None
    lod: float | None
    loq: float | None
    note: str | None

    @property
    def is_csf_jcv_pcr(self) -> bool:
        """Whether this is the CSF JCV PCR that the AAN 2013 criteria turn on."""
        return self.test == LabTest.CSF_JCV_PCR


@dataclass(frozen=True, slots=True)
class ReadRow:
    """One read of the case as the acting user may see it.

    ``blinded``: only its status may be shown (a coordinator before every assigned reader
    has submitted); ``judgement`` is then ``None``, as it is for a draft without one.
    """

    reader: str
    revision: int
    status: ReadStatus
    submitted_at: dt.datetime | None
    judgement: str | None
    blinded: bool


@dataclass(frozen=True, slots=True)
class ReaderRow:
    """A reader of the case and the reads of theirs the acting user may see.

    ``note`` says what to show when ``reads`` is empty (``not started``, ``no submitted read
    yet``, ``blinded``); ``assigned`` is false for a reader who read the case unassigned.
    """

    username: str
    display_name: str
    assigned: bool
    reads: tuple[ReadRow, ...]
    note: str


@dataclass(frozen=True, slots=True)
class FindingRow:
    """One discordance rule that fired for a pair of readers, with its detail."""

    rule: str
    readers: tuple[str, ...]
    detail: str


@dataclass(frozen=True, slots=True)
class DiscordanceSummary:
    """The latest discordance assessment of the case (as the audit trail records it)."""

    discordant: bool
    fired: tuple[str, ...]
    findings: tuple[FindingRow, ...]
    spatial: bool
    """Whether the mask rules (detection, Dice) were applied."""
    rules: dict[str, float]


@dataclass(frozen=True, slots=True)
class DecisionSummary:
    """The panel's decision in force: certainty, pathway and who signed it (UTC)."""

    certainty: Certainty
    pathway: Pathway | None
    rationale: str | None
    signers: tuple[str, ...]
    """``Printed Name — 2026-11-24 09:14 UTC`` per signature."""


@dataclass(frozen=True, slots=True)
class ReviewStatus:
    """Who reviews the case and how far the review is, as the acting user may see it."""

    readers: tuple[ReaderRow, ...]
    panel: tuple[str, ...]
    """``Display Name (username)`` of each panel member."""
    reads_note: str | None
    """Why other readers' reads are not listed, when they are not."""
    sees_panel_work: bool
    """Whether the acting user may see the discordance outcome and decisions
    (:func:`workbench.panel.check_decision_access`)."""
    discordance: DiscordanceSummary | None
    decision: DecisionSummary | None


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """Everything the case page shows about one case."""

    registry_id: str
    version: int
    site: str
    sex: str
    age_band: str
    condition: Condition
    condition_detail: str | None
    status: CaseStatus
    clinical_consistent: TriState
    clinical_summary: str | None
    index_event: str
    readers_required: int
    exposures: tuple[ExposureRow, ...]
    features: tuple[FeatureRow, ...]
    timepoints: tuple[Timepoint, ...]
    labs: tuple[LabRow, ...]
    review: ReviewStatus | None = None
    """Readers, reads, discordance and decision as the acting user may see them."""
    history: tuple[HistoryEvent, ...] = ()
    """The case's audit events the acting user may see, oldest first."""
    missing_for_reading: tuple[str, ...] = ()
    """What the case misses under the completeness rules (``[readiness]`` of review.toml),
    one sentence each; empty when it is complete."""
    clinical: ClinicalView | None = None
    """The research clinical record (:mod:`workbench.services.clinical`)."""

    @property
    def series_count(self) -> int:
        """Number of series over all timepoints."""
        return sum(len(t.series) for t in self.timepoints)


def load_case(registry: Registry, actor: Actor, registry_id: str) -> tuple[CaseDetail, ReviewCase]:
    """The case page and the case's imaging for review, as ``actor`` may see them.

    Both are read in one transaction, so they agree. Raises
    :class:`~workbench.errors.NotFoundError` for an unknown case.
    """
    with registry.read() as session:
        case = get_case(session, registry_id)
        return case_detail(session, actor, case), review_case(case)


def case_detail(session: Session, actor: Actor, case: Case) -> CaseDetail:
    """Copy ``case`` into plain values, blinded for ``actor`` (inside the session that loaded
    it)."""
    facts = case_facts(session, actor, case.id)
    timepoints = tuple(
        Timepoint(
            day=study.day,
            description=study.description or "",
            study_instance_uid=study.study_instance_uid,
            series=tuple(
                SeriesRow(
                    sequence_class=s.sequence_class,
                    description=s.description or "",
                    geometry=describe_geometry(s),
                    series_instance_uid=s.series_instance_uid,
                    source_uri=s.source_uri,
                    n_files=s.n_files,
                )
                for s in study.series
            ),
        )
        for study in sorted(case.studies, key=lambda st: (st.day, st.id))
    )
    labs = tuple(
        LabRow(
            test=r.test,
            test_label=r.test_name if r.test == LabTest.OTHER and r.test_name else r.test.label,
            day=r.day,
            result=r.qualitative,
            value=r.value,
            unit=r.unit,
            assay=r.assay,
            lod=r.lod,
            loq=r.loq,
            note=r.note,
        )
        for r in sorted(case.lab_results, key=lambda r: (r.day, r.id))
    )
    return CaseDetail(
        registry_id=case.registry_id,
        version=case.version,
        site=case.site.code,
        sex=case.sex.value,
        age_band=case.age_band,
        condition=case.condition,
        condition_detail=case.condition_detail,
        status=visible_status(actor, facts) or case.status,
        clinical_consistent=case.clinical_consistent,
        clinical_summary=case.clinical_summary,
        index_event=case.index_event,
        readers_required=case.readers_required,
        exposures=tuple(
            ExposureRow(
                e.drug,
                e.start_day,
                e.stop_day,
                e.infusion_count,
                e.drug_class,
                e.dosing_schedule,
                e.last_dose_day,
                bool(e.prior),
            )
            for e in case.exposures
        ),
        features=tuple(
            FeatureRow(f.feature, f.status, f.onset_day, f.note) for f in case.clinical_features
        ),
        timepoints=timepoints,
        labs=labs,
        review=review_status(session, actor, case, facts),
        history=tuple(case_history(session, actor, case.registry_id)),
        missing_for_reading=assess(case, load_review_config().readiness).missing,
        clinical=clinical_view(session, actor, case),
    )


def _view_row(view: ReadRecord) -> ReadRow:
    return ReadRow(
        reader=view.reader,
        revision=view.revision,
        status=view.status,
        submitted_at=view.submitted_at,
        judgement=None if view.blinded else view.judgement,
        blinded=view.blinded,
    )


def _visible_reads(
    session: Session, actor: Actor, case: Case, facts: Facts
) -> tuple[list[ReadRecord], bool, str | None]:
    """``(reads, complete, note)``: the reads ``actor`` may see, and why others are missing.

    ``complete`` is false when the actor sees only their own reads (an assigned reader
    before submitting, a panel member before every read is in, anyone not on the case).
    """
    if can(actor, Action.LIST_READS, facts) is None:
        views = reads_of_case(session, actor, case.registry_id)
        if not (facts.reader_of_case and not facts.own_read_submitted):
            return views, True, None
        return (
            views,
            False,
            "Other readers' reads are blinded until you have submitted your own read of this case.",
        )
    if facts.panel_of_case:
        note = "Reads are blinded until every assigned reader has submitted."
    else:
        note = "You are not assigned to this case: its reads are not shown to you."
    return [], False, note


def review_status(session: Session, actor: Actor, case: Case, facts: Facts) -> ReviewStatus:
    """The review area of the case page for ``actor``: readers, reads, panel, outcome.

    Reads come through :func:`~workbench.reading_flow.reads_of_case` (blinded there); the
    discordance outcome and the decision in force only when the policy lets ``actor`` see
    the panel's work (:data:`~workbench.policy.Action.SEE_PANEL_WORK`).
    """
    assignments = list(
        session.scalars(
            select(CaseAssignment)
            .where(CaseAssignment.case_id == case.id)
            .order_by(CaseAssignment.id)
        )
    )
    readers = [(a.user.username, a.user.display_name) for a in assignments if a.role is Role.READER]
    panel = tuple(
        f"{a.user.display_name} ({a.user.username})" for a in assignments if a.role is Role.PANEL
    )
    assigned = {username for username, _ in readers}
    views, complete, note = _visible_reads(session, actor, case, facts)
    by_reader: dict[str, list[ReadRow]] = {}
    for view in views:
        by_reader.setdefault(view.reader, []).append(_view_row(view))
    for username in by_reader:
        if username not in assigned:
            name = session.scalar(select(User.display_name).where(User.username == username))
            readers.append((username, name or username))
    coordinator = bool(actor.roles & STATUS_ROLES)
    rows = []
    for username, display_name in readers:
        if username == actor.username or (complete and coordinator):
            empty = "not started"
        elif complete:
            empty = "no submitted read yet"
        else:
            empty = "blinded"
        rows.append(
            ReaderRow(
                username=username,
                display_name=display_name,
                assigned=username in assigned,
                reads=tuple(by_reader.get(username, ())),
                note=empty,
            )
        )
    sees_panel_work = can(actor, Action.SEE_PANEL_WORK, facts) is None
    discordance = decision = None
    if sees_panel_work:
        found = latest_discordance(session, actor, case.registry_id)
        if found is not None:
            discordance = DiscordanceSummary(
                discordant=bool(found.get("discordant")),
                fired=tuple(str(rule) for rule in found.get("fired", ())),
                findings=tuple(
                    FindingRow(
                        rule=str(f.get("rule", "")),
                        readers=tuple(str(r) for r in f.get("readers", ())),
                        detail=str(f.get("detail", "")),
                    )
                    for f in found.get("findings", ())
                ),
                spatial=bool(found.get("spatial", True)),
                rules={str(k): float(v) for k, v in (found.get("rules") or {}).items()},
            )
        in_force = final_decision(session, case.registry_id)
        if in_force is not None:
            decision = DecisionSummary(
                certainty=in_force.certainty,
                pathway=in_force.pathway,
                rationale=in_force.rationale,
                signers=tuple(
                    f"{s.printed_name} — {format_utc(s.signed_at)}" for s in in_force.signatures
                ),
            )
    return ReviewStatus(
        readers=tuple(rows),
        panel=panel,
        reads_note=note,
        sees_panel_work=sees_panel_work,
        discordance=discordance,
        decision=decision,
    )
