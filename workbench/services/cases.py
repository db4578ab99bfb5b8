"""Cases: the case list, creating and assigning, lab results, and a case's history.

Each function takes the registry and the acting person, opens and owns its transaction, asks
:mod:`workbench.policy` and returns frozen values (never ORM rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from adjudication.vocabulary import Role
from workbench.actor import Actor
from workbench.cases import (
    CaseFilter,
    CaseSummary,
    NewCase,
    NewExposure,
    NewFeature,
    case_snapshot,
    get_case,
    parse_exposure,
    parse_feature,
)
from workbench.cases import create_case as _create_case
from workbench.cases import list_cases as _list_cases
from workbench.cases import sites as _sites
from workbench.domain import CaseStatus
from workbench.labs import ALLOWED_RESULTS, ALLOWED_UNITS, LabEntry, LabFileError
from workbench.labs import add_lab_result as _add_lab_result
from workbench.labs import import_lab_file as _import_lab_file
from workbench.panel import HistoryEvent
from workbench.panel import case_history as _case_history
from workbench.policy import Action, Facts, can, visible_status
from workbench.reading_flow import assign as _assign
from workbench.reading_flow import status_after_assignment
from workbench.reads import case_facts
from workbench.registry.db import Registry
from workbench.registry.models import CaseAssignment
from workbench.services.case_detail import CaseDetail, load_case
from workbench.studies import describe_geometry
from workbench.users import list_users

__all__ = [
    "ALLOWED_RESULTS",
    "ALLOWED_UNITS",
    "AssignChoices",
    "Candidate",
    "CaseDetail",
    "CaseFilter",
    "CaseSummary",
    "HistoryEvent",
    "LabEntry",
    "LabFileError",
    "NewCase",
    "NewExposure",
    "NewFeature",
    "add_lab_result",
    "assign",
    "assign_choices",
    "case_history",
    "case_record",
    "create_case",
    "import_lab_file",
    "list_cases",
    "load_case",
    "parse_exposure",
    "parse_feature",
    "sites",
]


def list_cases(
    registry: Registry, actor: Actor, where: CaseFilter | None = None
) -> list[CaseSummary]:
    """The case list (with its counts), ordered by registry id."""
    with registry.read() as session:
        return _list_cases(session, where)


def sites(registry: Registry, actor: Actor) -> list[str]:
    """The codes of the sites that have cases."""
    with registry.read() as session:
        return _sites(session)


def create_case(registry: Registry, actor: Actor, new: NewCase) -> str:
    """Create a case (coordinators, administrators); returns its registry id."""
    with registry.write() as session:
        return _create_case(session, actor, new).registry_id


def add_lab_result(registry: Registry, actor: Actor, entry: LabEntry) -> None:
    """Record one lab result on its case."""
    with registry.write() as session:
        _add_lab_result(session, actor, entry)


def import_lab_file(registry: Registry, actor: Actor, path: Path) -> int:
    """Import a CSV of lab results, all or nothing; returns how many were recorded.

    Raises :class:`~workbench.labs.LabFileError` naming every bad line (nothing written).
    """
    with registry.write() as session:
        return len(_import_lab_file(session, actor, path))


def case_history(registry: Registry, actor: Actor, registry_id: str) -> list[HistoryEvent]:
    """The case's audit events that ``actor`` may see, oldest first."""
    with registry.read() as session:
        return _case_history(session, actor, registry_id)


# --- assignment ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A user the assignment form offers."""

    username: str
    display_name: str
    active: bool
    assigned: frozenset[Role]
    """The roles the user is assigned in on this case (reader, panel; normally one at most)."""
    refusal: str | None = None
    """Why the policy refuses assigning this user (e.g. the actor themselves), if it does."""

    @property
    def label(self) -> str:
        """``Printed Name (username)``."""
        return f"{self.display_name} ({self.username})"


@dataclass(frozen=True, slots=True)
class AssignChoices:
    """Who may be assigned to one case, and who is."""

    registry_id: str
    status: CaseStatus
    readers_required: int
    readers: tuple[Candidate, ...]
    """Active holders of the reader role, and everyone assigned as reader, by username."""
    panel: tuple[Candidate, ...]
    """Active holders of the panel role, and everyone assigned to the panel, by username."""
    refusal: str | None = None
    """Why the actor may not assign anyone at all, if they may not."""

    @property
    def readers_assigned(self) -> int:
        """How many readers the case has."""
        return sum(1 for c in self.readers if Role.READER in c.assigned)

    def status_after(self, new_readers: int) -> CaseStatus:
        """The case's status once ``new_readers`` more readers are assigned (the rule of
        :func:`workbench.reading_flow.status_after_assignment`)."""
        return status_after_assignment(
            self.status, self.readers_assigned + new_readers, self.readers_required, new_readers
        )


def assign_choices(registry: Registry, actor: Actor, registry_id: str) -> AssignChoices:
    """The users the assignment form offers for ``registry_id``; raises ``NotFoundError``.

    Inactive users are not offered; one already assigned is still listed (ticked), so the
    lists account for every assignment the case has.
    """
    with registry.read() as session:
        case = get_case(session, registry_id)
        assigned: dict[int, set[Role]] = {}
        for user_id, role in session.execute(
            select(CaseAssignment.user_id, CaseAssignment.role).where(
                CaseAssignment.case_id == case.id
            )
        ):
            assigned.setdefault(user_id, set()).add(Role(role))
        lists: dict[Role, list[Candidate]] = {Role.READER: [], Role.PANEL: []}
        for user in list_users(session):
            roles = frozenset(assigned.get(user.id, ()))
            refusal = can(
                actor, Action.ASSIGN, Facts(target_is_self=user.username == actor.username)
            )
            candidate = Candidate(
                user.username,
                user.display_name,
                user.active,
                roles,
                refusal.reason if refusal else None,
            )
            for role, members in lists.items():
                if role in roles or (user.active and user.has_role(role)):
                    members.append(candidate)
        overall = can(actor, Action.ASSIGN)
        return AssignChoices(
            registry_id=case.registry_id,
            status=case.status,
            readers_required=case.readers_required,
            readers=tuple(lists[Role.READER]),
            panel=tuple(lists[Role.PANEL]),
            refusal=overall.reason if overall else None,
        )


def assign(
    registry: Registry,
    actor: Actor,
    registry_id: str,
    *,
    readers: Sequence[str] = (),
    panel: Sequence[str] = (),
) -> CaseStatus:
    """Assign readers and panel members to a case in one transaction (all or nothing).

    Returns the case's status afterwards, as the actor may see it.
    """
    with registry.write() as session:
        if readers:
            _assign(session, actor, registry_id, readers, Role.READER)
        if panel:
            _assign(session, actor, registry_id, panel, Role.PANEL)
        case = get_case(session, registry_id)
        return visible_status(actor, case_facts(session, actor, case.id)) or case.status


def case_record(registry: Registry, actor: Actor, registry_id: str) -> dict[str, Any]:
    """The case as ``case show`` prints it: its audited fields, timepoints with their series'
    geometry, and lab results (plain JSON values; the status as the actor may see it)."""
    with registry.read() as session:
        case = get_case(session, registry_id)
        data = case_snapshot(case)
        data["status"] = (
            visible_status(actor, case_facts(session, actor, case.id)) or case.status
        ).value
        data["timepoints"] = [
            {
                "day": study.day,
                "series": [
                    {
                        "sequence_class": s.sequence_class.value,
                        "description": s.description,
                        "geometry": describe_geometry(s),
                        "series_instance_uid": s.series_instance_uid,
                    }
                    for s in study.series
                ],
            }
            for study in case.studies
        ]
        data["lab_results"] = [
            {
                "test": r.test.value,
                "day": r.day,
                "result": r.qualitative.value,
                "value": r.value,
                "unit": r.unit,
                "assay": r.assay,
                "lod": r.lod,
                "loq": r.loq,
            }
            for r in case.lab_results
        ]
        return data
