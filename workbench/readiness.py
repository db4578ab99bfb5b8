"""When a case is complete enough to be read: the completeness rules and marking it ready.

A new case is *incomplete*. It becomes *ready* (and readers can then be assigned) when it
meets the completeness rules of ``review.toml`` (``[readiness]``):

- its latest imaging timepoint has a series of each required sequence class
  (``sequences``, default FLAIR);
- a CSF JC-virus PCR is on record, or an explicit "not done" (``csf_pcr``, default on);
- whether the clinical features are consistent with PML has been assessed (``clinical``,
  default on).

:func:`promote_if_complete` makes a complete incomplete case ready by itself (called after
every change that can complete one: a case edit, an import, a lab result). A coordinator may
mark a case ready that misses items only with a reason (:func:`mark_ready`); the reason and the
items overridden are in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from adjudication.text import describe_forbidden
from workbench.actor import Actor
from workbench.cases import case_snapshot, get_case
from workbench.domain import CaseStatus, LabTest, SequenceClass
from workbench.errors import ValidationError
from workbench.policy import Action, require
from workbench.registry import audit
from workbench.registry.models import Case
from workbench.review_config import ReadinessRules


@dataclass(frozen=True, slots=True)
class Readiness:
    """What a case misses to be read, one plain sentence each (empty: complete)."""

    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Whether the case meets every rule."""
        return not self.missing


def assess(case: Case, rules: ReadinessRules) -> Readiness:
    """What ``case`` misses under ``rules``."""
    missing: list[str] = []
    if rules.sequences:
        if not case.studies:
            wanted = ", ".join(s.value for s in rules.sequences)
            missing.append(f"no imaging timepoint yet (needed: {wanted})")
        else:
            latest = max(case.studies, key=lambda study: study.day)
            present = {series.sequence_class for series in latest.series}
            for sequence in rules.sequences:
                if sequence not in present:
                    missing.append(
                        f"the latest timepoint (day {latest.day}) has no {sequence.value} series"
                    )
    if rules.csf_pcr and not any(r.test is LabTest.CSF_JCV_PCR for r in case.lab_results):
        missing.append("no CSF JC-virus PCR result (record one, or record it as not done)")
    if rules.clinical and case.clinical_consistent.value == "not_assessed":
        missing.append("the clinical features have not been assessed (consistent with PML?)")
    return Readiness(tuple(missing))


def readiness(session: Session, registry_id: str, rules: ReadinessRules) -> Readiness:
    """What the case ``registry_id`` misses to be read."""
    return assess(get_case(session, registry_id), rules)


def mark_ready(
    session: Session,
    actor: Actor,
    registry_id: str,
    rules: ReadinessRules,
    *,
    reason: str | None = None,
) -> Readiness:
    """Mark an incomplete case ready (coordinators); returns what it missed.

    A case that misses items is refused (:class:`ValidationError` listing them) unless a
    ``reason`` is given: the override is audited with the reason and the items overridden.
    """
    require(actor, Action.EDIT_CASE)
    case = get_case(session, registry_id)
    if case.status is not CaseStatus.INCOMPLETE:
        raise ValidationError(
            f"case {registry_id} is {case.status.label}: only an incomplete case is marked ready"
        )
    found = assess(case, rules)
    text = (reason or "").strip()
    if found.missing and not text:
        raise ValidationError(
            f"case {registry_id} is not complete: {'; '.join(found.missing)}. Complete it, or "
            "mark it ready anyway with a reason (--reason)",
            field="reason",
        )
    if text:
        refused = describe_forbidden("reason", text)
        if refused is not None:
            raise ValidationError(refused, field="reason")
    _make_ready(session, actor, case, found, text or None)
    return found


def promote_if_complete(
    session: Session, actor: Actor, registry_id: str, rules: ReadinessRules
) -> bool:
    """Make the case ready if it is incomplete and now meets the rules; whether it did."""
    case = get_case(session, registry_id)
    if case.status is not CaseStatus.INCOMPLETE:
        return False
    found = assess(case, rules)
    if not found.complete:
        return False
    _make_ready(session, actor, case, found, None)
    return True


def _make_ready(
    session: Session, actor: Actor, case: Case, found: Readiness, reason: str | None
) -> None:
    before = case_snapshot(case)
    case.status = CaseStatus.READY
    session.flush()
    after = case_snapshot(case)
    after["readiness"] = {"missing_overridden": list(found.missing)}
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="case.ready",
        entity_type="case",
        entity_id=case.registry_id,
        before=before,
        after=after,
        reason=reason or ("meets the completeness rules" if found.complete else None),
    )


__all__ = [
    "Readiness",
    "ReadinessRules",
    "SequenceClass",
    "assess",
    "mark_ready",
    "promote_if_complete",
    "readiness",
]
