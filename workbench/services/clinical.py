"""A case's research clinical record: reading it and saving it (:mod:`workbench.clinical`).

Who reads it: whoever may see the case page (:func:`workbench.services.case_detail.load_case`
asks nothing more of the actor). The record is case data like the exposures and lab results
that page shows everyone; it carries no review status, read or decision, so a blinded reader
learns nothing through it that the page does not show them already. Who writes it: the roles
that may change cases (:data:`~workbench.policy.Action.EDIT_CASE`: coordinators and
administrators), asked in the data layer (:func:`workbench.clinical_store.save_record`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from adjudication.text import describe_forbidden
from workbench.actor import Actor
from workbench.cases import get_case, update_case
from workbench.clinical import ClinicalRecord
from workbench.clinical_store import has_record, load_record, save_record
from workbench.domain import Outcome, coerce_enum
from workbench.errors import ConflictError, ValidationError
from workbench.policy import Action, can
from workbench.readiness import promote_if_complete
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import Case
from workbench.review_config import load_review_config

if TYPE_CHECKING:
    from workbench.services.cases import CaseChanges

__all__ = [
    "CaseOutcome",
    "ClinicalRecord",
    "ClinicalView",
    "clinical_record",
    "clinical_view",
    "set_clinical_record",
]


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """Alive or dead, and on which day (relative to the index date): the case's ``outcome``."""

    outcome: Outcome
    day: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", coerce_enum(Outcome, self.outcome, "outcome"))
        if self.day is not None and (isinstance(self.day, bool) or not isinstance(self.day, int)):
            raise ValidationError(
                f"outcome day: {self.day!r} is not a whole number", field="outcome day"
            )
        if self.day is not None and self.outcome is Outcome.UNKNOWN:
            raise ValidationError(
                "outcome day: given, but the outcome is unknown", field="outcome day"
            )


@dataclass(frozen=True, slots=True)
class ClinicalView:
    """A case's clinical record as its page and its form show it."""

    registry_id: str
    record: ClinicalRecord
    version: int
    """The case's version: save against it (a case saved by someone else since is refused)."""
    outcome: Outcome
    outcome_day: int | None
    exists: bool
    """Whether a record was stored before (changing it then needs a reason)."""
    edit_refusal: str | None = None
    """Why the actor may not change it (the policy's reason), or ``None``."""


def clinical_view(session: Session, actor: Actor, case: Case) -> ClinicalView:
    """The view of ``case`` inside the caller's session (the case page's transaction)."""
    refusal = can(actor, Action.EDIT_CASE)
    return ClinicalView(
        registry_id=case.registry_id,
        record=load_record(case),
        version=int(case.version),
        outcome=case.outcome,
        outcome_day=case.outcome_day,
        exists=has_record(case),
        edit_refusal=refusal.reason if refusal else None,
    )


def clinical_record(registry: Registry, actor: Actor, registry_id: str) -> ClinicalView:
    """The case's clinical record; raises :class:`~workbench.errors.NotFoundError`."""
    with registry.read() as session:
        return clinical_view(session, actor, get_case(session, registry_id))


def set_clinical_record(
    registry: Registry,
    actor: Actor,
    registry_id: str,
    record: ClinicalRecord,
    *,
    reason: str | None,
    version: int | None,
    outcome: CaseOutcome | None = None,
    case_changes: CaseChanges | None = None,
) -> int:
    """Replace the case's clinical record (coordinators, administrators); returns the case's
    new version.

    ``version`` is the case's version the record was edited from: a case saved by someone
    else since is refused (:class:`~workbench.errors.ConflictError`) and nothing is written;
    ``None`` skips that check. Changing a record that exists needs a ``reason``. ``outcome``,
    when given, sets the case's outcome and its day in the same transaction (a death cause
    needs the outcome ``died``). ``case_changes``, when given, changes the case's own fields
    (:func:`workbench.services.cases.edit_case`) in the same transaction, so the command line
    changes both or neither. The case becomes ready if this completes it.
    """
    wanted: dict[str, Any] = {}
    if case_changes is not None:
        from workbench.services.cases import validated_changes

        wanted, _ = validated_changes(registry_id, case_changes, reason or "")
    text = (reason or "").strip() or None
    if text is not None:
        refused = describe_forbidden("reason", text)
        if refused is not None:
            raise ValidationError(refused, field="reason")
    for name in ("iris_treatment", "death_cause_detail"):
        value = getattr(record, name)
        if value:
            problem = describe_forbidden(name.replace("_", " "), value)
            if problem is not None:
                raise ValidationError(problem, field=name.replace("_", " "))
    with registry.write() as session:
        case = get_case(session, registry_id)
        if version is not None and case.version != version:
            raise ConflictError(
                f"case {registry_id} was changed by someone else since you opened it (version "
                f"{version}, now {case.version}); nothing was saved. Reload it and apply your "
                "change again."
            )
        if wanted:
            update_case(session, actor, registry_id, case.version, wanted, reason=text)
        if has_record(case) and text is None:
            raise ValidationError(
                f"case {registry_id}: a change to its clinical record needs a reason",
                field="reason",
            )
        if outcome is not None and (outcome.outcome, outcome.day) != (
            case.outcome,
            case.outcome_day,
        ):
            _set_outcome(session, actor, case, outcome, text)
        save_record(session, actor, case, record, reason=text)
        promote_if_complete(session, actor, registry_id, load_review_config().readiness)
        session.flush()
        return int(case.version)


def _set_outcome(
    session: Session, actor: Actor, case: Case, outcome: CaseOutcome, reason: str | None
) -> None:
    from workbench.policy import require

    require(actor, Action.EDIT_CASE)
    before = {"outcome": case.outcome.value, "outcome_day": case.outcome_day}
    case.outcome = outcome.outcome
    case.outcome_day = outcome.day
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="case.outcome",
        entity_type="case",
        entity_id=case.registry_id,
        before=before,
        after={"outcome": outcome.outcome.value, "outcome_day": outcome.day},
        reason=reason,
    )
