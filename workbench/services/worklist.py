"""Worklists: my queue, the coordinator's dashboard, and balanced assignment.

The services of :mod:`workbench.worklist`: each opens its own transaction, asks the policy
(the dashboard needs :data:`Action.SEE_DASHBOARD <workbench.policy.Action.SEE_DASHBOARD>`, a
suggestion :data:`Action.ASSIGN <workbench.policy.Action.ASSIGN>`; anyone sees their own
queue) and returns frozen values.
"""

from __future__ import annotations

from dataclasses import dataclass

from adjudication.vocabulary import Role
from workbench.actor import Actor
from workbench.cases import get_case
from workbench.domain import CaseStatus
from workbench.errors import ValidationError
from workbench.policy import visible_status
from workbench.reading_flow import assign as _assign
from workbench.reads import case_facts
from workbench.registry.db import Registry
from workbench.review_config import MAX_DUE_DAYS, WorklistRules
from workbench.worklist import (
    AssignmentSuggestion,
    Dashboard,
    MyQueue,
    QueueItem,
    QueueState,
    RankedReader,
    ReaderLoad,
    SiteLoad,
    check_due_days,
    worklist_rules,
)
from workbench.worklist import dashboard as _dashboard
from workbench.worklist import my_queue as _my_queue
from workbench.worklist import suggest_assignment as _suggest

__all__ = [
    "MAX_DUE_DAYS",
    "AppliedSuggestion",
    "AssignmentSuggestion",
    "Dashboard",
    "MyQueue",
    "QueueItem",
    "QueueState",
    "RankedReader",
    "ReaderLoad",
    "SiteLoad",
    "WorklistRules",
    "assign_suggested",
    "check_due_days",
    "dashboard",
    "my_queue",
    "suggest_assignment",
    "worklist_rules",
]


def my_queue(registry: Registry, actor: Actor) -> MyQueue:
    """The actor's own open work, most urgent first, with counts by state and overdue."""
    with registry.read() as session:
        return _my_queue(session, actor)


def dashboard(registry: Registry, actor: Actor) -> Dashboard:
    """Cases by status, per reader and per site (coordinators and administrators)."""
    with registry.read() as session:
        return _dashboard(session, actor)


def suggest_assignment(registry: Registry, actor: Actor, registry_id: str) -> AssignmentSuggestion:
    """Readers to assign to ``registry_id``, least loaded first, without readers of the case's
    own site or already on it (coordinators and administrators)."""
    with registry.read() as session:
        return _suggest(session, actor, registry_id)


@dataclass(frozen=True, slots=True)
class AppliedSuggestion:
    """A suggestion that was assigned, and the case's status afterwards."""

    suggestion: AssignmentSuggestion
    status: CaseStatus
    """The case status as the actor may see it."""


def assign_suggested(
    registry: Registry, actor: Actor, registry_id: str, *, due_days: int | None = None
) -> AppliedSuggestion:
    """Suggest readers for ``registry_id`` and assign them, in one transaction.

    Refused (:class:`ValidationError`, nothing written) when the suggestion names nobody:
    the case needs no reader, or no eligible reader is active. ``due_days`` overrides the
    ``[worklist]`` default of ``review.toml``.
    """
    if due_days is not None:
        check_due_days(due_days)
    with registry.write() as session:
        suggestion = _suggest(session, actor, registry_id)
        if not suggestion.suggested:
            raise ValidationError(
                suggestion.note or f"case {registry_id}: no reader to suggest", field="readers"
            )
        _assign(session, actor, registry_id, suggestion.suggested, Role.READER, due_days=due_days)
        case = get_case(session, registry_id)
        status = visible_status(actor, case_facts(session, actor, case.id)) or case.status
        return AppliedSuggestion(suggestion, status)
