"""From a registry case to the criteria engine's inputs, and re-classifying the registry.

The engine (:mod:`adjudication.criteria`) takes three-valued findings; this module says where
each comes from, and records how it was derived so a panel can check it:

- clinical features: the case's "clinical features consistent with PML";
- imaging: the submitted reads' judgements once every assigned read is in (all yes →
  present, all no → absent; equivocal or disagreeing reads → not assessed, for the panel to
  decide); before that, not assessed;
- CSF JCV PCR: the latest CSF PCR with a result (detected, also below the LOQ → detected), its
  assay's LOD in copies/mL when the unit allows, and the days since the first symptom;
- histopathology: the clinical record's latest biopsy or autopsy by day
  (:func:`workbench.clinical_store.latest_histology`), its triad from the three components;
- lesion volume (evidence quality only): the mean total of the submitted reads;
- alternative diagnosis: recorded in the panel's final decision in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from adjudication.criteria import (
    Inputs,
    PcrInput,
    Result,
    TissueJcvInput,
    TriadInput,
    evaluate,
)
from adjudication.vocabulary import Certainty, ImagingJudgement, ReadStatus, TriState
from workbench.clinical_store import latest_histology, load_record
from workbench.domain import LabQualitative, LabTest
from workbench.policy import Action, can, require
from workbench.reads import all_reads_in, assigned_reader_ids, case_facts
from workbench.registry.models import Case, Decision, Read
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


def case_inputs(session: Session, actor: Actor, case: Case) -> CaseInputs:
    """The engine's inputs for ``case`` (its collections must be loadable in ``session``), if
    ``actor`` may see the panel's work on it: they carry the reads' judgements and volumes.
    """
    require(actor, Action.SEE_PANEL_WORK, case_facts(session, actor, case.id))
    notes = [f"clinical features: recorded as {case.clinical_consistent.value}"]
    reads = list(session.scalars(select(Read).where(Read.case_id == case.id)))
    complete = all_reads_in(session, case.id)
    if complete:
        imaging, note = _imaging(reads)
    else:
        # Judgements stay blinded until every assigned read is in, for the engine too: a
        # partial set would say more than the data layer lets anyone see.
        assigned = len(assigned_reader_ids(session, case.id))
        done = sum(1 for r in reads if r.status == ReadStatus.SUBMITTED)
        imaging = TriState.NOT_ASSESSED
        note = f"imaging: waiting for the reads ({done} of {assigned} assigned submitted)"
    notes.append(note)

    pcr, lod, days = PcrInput.NOT_DONE, None, None
    results = [
        r for r in case.lab_results if r.test == LabTest.CSF_JCV_PCR and r.qualitative in _PCR
    ]
    if results:
        latest = max(results, key=lambda r: (r.day, r.id))
        pcr = _PCR[latest.qualitative]
        if latest.lod is not None and latest.unit == "copies/mL":
            lod = latest.lod
        onsets = [
            f.onset_day
            for f in case.clinical_features
            if f.status == TriState.PRESENT and f.onset_day is not None
        ]
        days = latest.day - min(onsets) if onsets else None
        limit = f"LOD {latest.lod:g} {latest.unit}" if latest.lod is not None else "LOD unknown"
        notes.append(
            f"CSF JCV PCR: day {latest.day} {latest.qualitative.value} "
            f"({latest.assay or 'assay not named'}, {limit})"
        )
    else:
        notes.append("CSF JCV PCR: no result")

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
        pcr_lod_copies_per_ml=lod,
        pcr_days_after_onset=days,
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


def reclassify(session: Session, actor: Actor) -> list[Reclassification]:
    """Re-run the engine over every case of the registry, by registry id.

    A registry-wide report of decisions and of the evidence behind them: coordinators and
    administrators only. A case the actor is blinded on (they are one of its readers and have
    not submitted) is left out.
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
    )
    out = []
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
        out.append(
            Reclassification(
                case.registry_id, decision, evaluate(derived.inputs), derived.derivation
            )
        )
    return out
