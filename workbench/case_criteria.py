"""From a registry case to the criteria engine's inputs, and re-classifying the registry.

The engine (:mod:`adjudication.criteria`) takes three-valued findings; this module says where
each comes from, and records how it was derived so a panel can check it:

- clinical features: the case's "clinical features consistent with PML";
- imaging: the panel's own imaging judgement when its latest decision records one; else the
  submitted reads' judgements once every assigned read is in (all yes →
  present, all no → absent; equivocal or disagreeing reads → not assessed, for the panel to
  decide); before that, not assessed;
- CSF JCV PCR: detected when any CSF PCR of the case (the episode) detected JCV, also below the
  LOQ (a later "not detected" does not undo it); else the latest result, with its assay's LOD
  in copies/mL or IU/mL, its own unit; and the days since the first symptom;
- histopathology: the clinical record's latest biopsy or autopsy by day
  (:func:`workbench.clinical_store.latest_histology`), its triad from the three components;
- lesion volume (evidence quality only): the mean total of the submitted reads;
- alternative diagnosis: recorded in the panel's final decision in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from adjudication.criteria import (
    RULESET_VERSION,
    Inputs,
    PcrInput,
    Result,
    TissueJcvInput,
    TriadInput,
    evaluate,
)
from adjudication.vocabulary import Certainty, ImagingJudgement, ReadStatus, Role, TriState
from workbench.clinical_store import latest_histology, load_record
from workbench.domain import LabQualitative, LabTest
from workbench.policy import Action, can, require
from workbench.reads import all_reads_in, assigned_reader_ids, case_facts
from workbench.registry import audit
from workbench.registry.models import Case, CaseListRow, Decision, LabResult, Read
from workbench.users import Actor

_PCR = {
    LabQualitative.DETECTED: PcrInput.DETECTED,
    LabQualitative.DETECTED_BELOW_LOQ: PcrInput.DETECTED,
    LabQualitative.NOT_DETECTED: PcrInput.NOT_DETECTED,
}


@dataclass(frozen=True, slots=True)
class CaseInputs:
    """The engine's inputs for one case and how each was derived."""

    registry_id: str
    inputs: Inputs
    derivation: tuple[str, ...]


def _imaging(reads: list[Read]) -> tuple[TriState, str]:
    judgements = [r.imaging_judgement for r in reads if r.status == ReadStatus.SUBMITTED]
    if not judgements or any(j is None for j in judgements):
        return TriState.NOT_ASSESSED, "imaging: no submitted read with a judgement"
    if all(j == ImagingJudgement.YES for j in judgements):
        return TriState.PRESENT, f"imaging: {len(judgements)} submitted read(s), all consistent"
    if all(j == ImagingJudgement.NO for j in judgements):
        return TriState.ABSENT, f"imaging: {len(judgements)} submitted read(s), none consistent"
    shown = ", ".join(str(j.value) for j in judgements if j is not None)
    return (
        TriState.NOT_ASSESSED,
        f"imaging: reads equivocal or disagreeing ({shown}); panel decides",
    )


def _lesion_volume(reads: list[Read]) -> float | None:
    """Mean total lesion volume (mL) of the submitted reads, or None without any."""
    totals = [
        sum(lesion.volume_ml for lesion in read.lesions)
        for read in reads
        if read.status == ReadStatus.SUBMITTED
    ]
    return sum(totals) / len(totals) if totals else None


_PANEL_IMAGING = {
    ImagingJudgement.YES: TriState.PRESENT,
    ImagingJudgement.NO: TriState.ABSENT,
    ImagingJudgement.EQUIVOCAL: TriState.NOT_ASSESSED,
}

_POSITIVE = (LabQualitative.DETECTED, LabQualitative.DETECTED_BELOW_LOQ)
_LOD_FIELDS = {"copies/mL": "pcr_lod_copies_per_ml", "IU/mL": "pcr_lod_iu_per_ml"}


def _describe_pcr(result: LabResult) -> str:
    value = f" {result.value:g} {result.unit}" if result.value is not None else ""
    limit = f"LOD {result.lod:g} {result.unit}" if result.lod is not None else "LOD unknown"
    return (
        f"day {result.day} {result.qualitative.value}{value} "
        f"({result.assay or 'assay not named'}, {limit})"
    )


def _pcr(case: Case) -> tuple[PcrInput, list[str], dict[str, Any]]:
    """The CSF JCV PCR input of ``case``, the notes saying which result decided it, and the
    evidence-quality context (LOD, load, below-LOQ flag, days after onset) for the engine.

    JCV DNA once shown in the CSF stays shown for the episode: a later "not detected" (usual
    after immune reconstitution or plasma exchange) does not undo it, so any positive decides
    (a quantified one over one below the LOQ, then the earliest). Without a positive, the latest
    result decides; its LOD counts only in the result's own unit, copies/mL or IU/mL (the two
    are different scales and are never converted).
    """
    results = [
        r for r in case.lab_results if r.test == LabTest.CSF_JCV_PCR and r.qualitative in _PCR
    ]
    if not results:
        return PcrInput.NOT_DONE, ["CSF JCV PCR: no result"], {}
    latest = max(results, key=lambda r: (r.day, r.id))
    positives = [r for r in results if r.qualitative in _POSITIVE]
    context: dict[str, Any] = {}
    if positives:
        decisive = min(
            positives,
            key=lambda r: (r.qualitative != LabQualitative.DETECTED, r.day, r.id),
        )
        context["pcr_below_loq"] = decisive.qualitative == LabQualitative.DETECTED_BELOW_LOQ
        if decisive.value is not None and decisive.unit == "copies/mL":
            context["pcr_copies_per_ml"] = decisive.value
        note = f"CSF JCV PCR: detected, decided by {_describe_pcr(decisive)}"
        if latest is not decisive and latest.qualitative not in _POSITIVE:
            note += (
                f"; the latest, {_describe_pcr(latest)}, does not undo it (JCV DNA once shown "
                "in the CSF stays shown for the episode)"
            )
    else:
        decisive = latest
        field = _LOD_FIELDS.get(decisive.unit or "")
        if decisive.lod is not None and field is not None:
            context[field] = decisive.lod
        note = f"CSF JCV PCR: {_describe_pcr(decisive)}"
        if decisive.lod is not None and field is None:
            note += f"; the LOD's unit ({decisive.unit or 'none'}) is not comparable"
        if len(results) > 1:
            note += f" (latest of {len(results)}, none detected)"
    onsets = [
        f.onset_day
        for f in case.clinical_features
        if f.status == TriState.PRESENT and f.onset_day is not None
    ]
    context["pcr_days_after_onset"] = decisive.day - min(onsets) if onsets else None
    return _PCR[decisive.qualitative], [note], context


def case_inputs(session: Session, actor: Actor, case: Case) -> CaseInputs:
    """The engine's inputs for ``case`` (its collections must be loadable in ``session``), if
    ``actor`` may see the panel's work on it: they carry the reads' judgements and volumes.
    """
    require(actor, Action.SEE_PANEL_WORK, case_facts(session, actor, case.id))
    notes = [f"clinical features: recorded as {case.clinical_consistent.value}"]
    reads = list(session.scalars(select(Read).where(Read.case_id == case.id)))
    complete = all_reads_in(session, case.id)
    panel_view = session.execute(
        select(Decision.id, Decision.panel_imaging)
        .where(Decision.case_id == case.id)
        .order_by(Decision.id.desc())
        .limit(1)
    ).first()
    if panel_view is not None and panel_view.panel_imaging is not None:
        # The panel judged the imaging itself (against the reads, perhaps): its judgement
        # stands, so a case it decided against the reads is not flagged for ever.
        imaging = _PANEL_IMAGING[panel_view.panel_imaging]
        note = (
            f"imaging: the panel's own judgement in decision #{panel_view.id} "
            f"({panel_view.panel_imaging.value}), not the readers'"
        )
    elif complete:
        imaging, note = _imaging(reads)
    else:
        # Judgements stay blinded until every assigned read is in, for the engine too: a
        # partial set would say more than the data layer lets anyone see.
        assigned = len(assigned_reader_ids(session, case.id))
        done = sum(1 for r in reads if r.status == ReadStatus.SUBMITTED)
        imaging = TriState.NOT_ASSESSED
        note = f"imaging: waiting for the reads ({done} of {assigned} assigned submitted)"
    notes.append(note)

    pcr, notes_pcr, pcr_context = _pcr(case)
    notes.extend(notes_pcr)

    triad, tissue = TriadInput.NOT_DONE, TissueJcvInput.NOT_DONE
    histology = latest_histology(load_record(case))
    if histology is not None:
        triad, tissue = TriadInput(histology.triad), TissueJcvInput(histology.tissue_jcv.value)
        when = "day unknown" if histology.day is None else f"day {histology.day}"
        how = ", ".join(t.value.upper() for t in histology.techniques)
        notes.append(
            f"histopathology: {histology.kind.value} ({when}), triad {triad.value}, tissue "
            f"JCV {tissue.value}" + (f" by {how}" if how else "")
        )

    decision = session.scalars(
        select(Decision)
        .where(Decision.case_id == case.id, Decision.is_final.is_(True))
        .order_by(Decision.id.desc())
        .limit(1)
    ).first()
    alternative = bool(decision and decision.alternative_diagnosis)
    if alternative:
        notes.append("alternative diagnosis: recorded in the panel's final decision")
    # Lesion volumes are read contents: blinded, like the judgements, until every read is in.
    volume = _lesion_volume(reads) if complete else None
    if volume is not None:
        notes.append(f"lesion volume: {volume:.2f} mL (mean total of the submitted reads)")
    inputs = Inputs(
        clinical_features=case.clinical_consistent,
        imaging_findings=imaging,
        csf_jcv_pcr=pcr,
        histopathology_triad=triad,
        tissue_jcv=tissue,
        alternative_diagnosis=alternative,
        **pcr_context,
        total_lesion_volume_ml=volume,
    )
    return CaseInputs(case.registry_id, inputs, tuple(notes))


@dataclass(frozen=True, slots=True)
class Reclassification:
    """The engine's category for a case now, beside the panel's latest decision."""

    registry_id: str
    decided: Certainty | None
    result: Result
    derivation: tuple[str, ...]

    @property
    def changes(self) -> bool:
        """Whether a recorded decision differs from what the engine says now."""
        return self.decided is not None and self.decided != self.result.certainty

    def as_json(self) -> dict[str, Any]:
        """The row as ``reclassify --json`` prints it."""
        return {
            "registry_id": self.registry_id,
            "decided": self.decided.value if self.decided else None,
            "engine": self.result.certainty.value,
            "changes": self.changes,
            "rows": list(self.result.rows),
            "explanation": self.result.explanation,
            "would_change": list(self.result.would_change),
            "warnings": list(self.result.warnings),
            "inputs_from": list(self.derivation),
            "ruleset": self.result.ruleset,
        }


def _flag(row: Reclassification) -> str | None:
    """What the case list shows for ``row``: ``None`` when the criteria give its decision."""
    if not row.changes:
        return None
    assert row.decided is not None
    now, decided = (c.value.replace("_", " ") for c in (row.result.certainty, row.decided))
    text = f"the criteria now give {now}, not the final decision ({decided})"
    if row.result.bound is not None:
        best, worst = (c.value.replace("_", " ") for c in row.result.bound)
        text += f"; at best {best}, at worst {worst}"
    return text[:200]


def _acting_role(actor: Actor) -> str | None:
    for role in (Role.COORDINATOR, Role.PANEL, Role.ADMIN):
        if role in actor.roles:
            return role.value
    return None


def reclassify(session: Session, actor: Actor) -> list[Reclassification]:
    """Re-run the engine over every case of the registry, by registry id, and record it.

    For panel members, coordinators and administrators (:data:`Action.RECLASSIFY`). A case the
    actor may not see the panel's work on (a reader still blinded, a panel member of another
    site) is left out. Each case seen gets its case-list flag (``case_list_rows.criteria_flag``)
    set when the criteria no longer give its final decision and cleared when they do, and one
    ``registry.reclassify`` audit event records what was found. ``session`` must be writable.
    """
    require(actor, Action.RECLASSIFY)
    cases = session.scalars(
        select(Case)
        .order_by(Case.registry_id)
        .options(
            selectinload(Case.lab_results),
            selectinload(Case.clinical_features),
            selectinload(Case.histopathology),
            selectinload(Case.clinical_record),
            selectinload(Case.other_conditions),
            selectinload(Case.treatments),
            selectinload(Case.outcome_scores),
        )
    ).all()
    out = []
    flags: dict[int, str | None] = {}
    for case in cases:
        if can(actor, Action.SEE_PANEL_WORK, case_facts(session, actor, case.id)) is not None:
            continue  # e.g. a coordinator still reading this case: not theirs to see yet
        derived = case_inputs(session, actor, case)
        decision = session.scalars(
            select(Decision.certainty)
            .where(Decision.case_id == case.id, Decision.is_final.is_(True))
            .order_by(Decision.created_at.desc(), Decision.id.desc())
            .limit(1)
        ).first()
        row = Reclassification(
            case.registry_id, decision, evaluate(derived.inputs), derived.derivation
        )
        out.append(row)
        flags[case.id] = _flag(row)
    previous: dict[int, str | None] = {}
    if flags:
        stored = select(CaseListRow.case_id, CaseListRow.criteria_flag).where(
            CaseListRow.case_id.in_(list(flags))
        )
        for case_id, flag in session.execute(stored):
            previous[case_id] = flag
    for case_id, flag in flags.items():
        if previous.get(case_id) != flag:
            session.execute(
                update(CaseListRow).where(CaseListRow.case_id == case_id).values(criteria_flag=flag)
            )
    changed = [r.registry_id for r in out if r.changes]
    audit.record(
        session,
        actor=actor.username,
        role=_acting_role(actor),
        action="registry.reclassify",
        entity_type="registry",
        after={
            "ruleset": RULESET_VERSION,
            "cases": len(out),
            "no_longer_given": changed,
            "without_final_decision": sum(1 for r in out if r.decided is None),
        },
    )
    return out
