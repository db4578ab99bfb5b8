"""Cases: the case list, creating and assigning, lab results, and a case's history.

Each function takes the registry and the acting person, opens and owns its transaction, asks
:mod:`workbench.policy` and returns frozen values (never ORM rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy import select

from adjudication.text import describe_forbidden
from adjudication.vocabulary import Role
from workbench.actor import Actor
from workbench.case_list import (
    CONDITION_ORDER,
    MAX_PAGE,
    STATUS_ORDER,
    CaseListQuery,
    CasePage,
    SortKey,
)
from workbench.case_list import list_page as _list_page
from workbench.case_list import position_of as _position_of
from workbench.cases import (
    MAX_READERS,
    CaseFilter,
    CaseSummary,
    NewCase,
    NewExposure,
    NewFeature,
    case_snapshot,
    get_case,
    parse_exposure,
    parse_feature,
    update_case,
)
from workbench.cases import create_case as _create_case
from workbench.cases import list_cases as _list_cases
from workbench.cases import sites as _sites
from workbench.domain import CaseStatus
from workbench.errors import ValidationError
from workbench.labs import ALLOWED_RESULTS, ALLOWED_UNITS, LabEntry, LabFileError
from workbench.labs import add_lab_result as _add_lab_result
from workbench.labs import import_lab_file as _import_lab_file
from workbench.panel import HistoryEvent
from workbench.panel import case_history as _case_history
from workbench.policy import Action, Facts, can, visible_status
from workbench.readiness import Readiness, assess, promote_if_complete
from workbench.readiness import mark_ready as _mark_ready
from workbench.readiness import readiness as _readiness
from workbench.reading_flow import assign as _assign
from workbench.reading_flow import status_after_assignment
from workbench.reads import case_facts
from workbench.registry.db import Registry
from workbench.registry.models import CaseAssignment
from workbench.review_config import ReadinessRules, load_review_config
from workbench.services.case_detail import CaseDetail, load_case
from workbench.studies import describe_geometry
from workbench.users import list_users

__all__ = [
    "ALLOWED_RESULTS",
    "ALLOWED_UNITS",
    "CONDITION_ORDER",
    "MAX_PAGE",
    "STATUS_ORDER",
    "AssignChoices",
    "Candidate",
    "CaseChanges",
    "CaseDetail",
    "CaseEdit",
    "CaseFilter",
    "CaseListQuery",
    "CasePage",
    "CaseSummary",
    "HistoryEvent",
    "LabEntry",
    "LabFileError",
    "LabImportSummary",
    "NewCase",
    "NewExposure",
    "NewFeature",
    "Readiness",
    "SortKey",
    "add_lab_result",
    "assign",
    "assign_choices",
    "case_history",
    "case_position",
    "case_readiness",
    "case_record",
    "create_case",
    "edit_case",
    "import_lab_file",
    "list_cases",
    "list_page",
    "load_case",
    "mark_ready",
    "parse_exposure",
    "parse_feature",
    "sites",
]


def list_cases(
    registry: Registry, actor: Actor, where: CaseFilter | None = None
) -> list[CaseSummary]:
    """The whole case list (with its counts), ordered by registry id, statuses as ``actor``
    may see them. For a large registry use :func:`list_page`."""
    with registry.read() as session:
        return _list_cases(session, where, actor)


def list_page(
    registry: Registry,
    actor: Actor,
    query: CaseListQuery | None = None,
    *,
    offset: int = 0,
    limit: int = 100,
    counts: bool = True,
) -> CasePage:
    """One page of the case list, filtered and sorted by the database, as ``actor`` may see
    it: rows ``offset`` to ``offset + limit`` (at most :data:`MAX_PAGE`), how many cases the
    filter matches, and with ``counts`` the registry's cases in all and by status.

    An assigned reader who has not submitted sees a discordant, adjudicated or final case
    as ``in reading``, and filters, sorts and counts by that status
    (:func:`workbench.policy.status_mask`).
    """
    with registry.read() as session:
        return _list_page(
            session, actor, query or CaseListQuery(), offset=offset, limit=limit, counts=counts
        )


def case_position(
    registry: Registry, actor: Actor, query: CaseListQuery, registry_id: str
) -> int | None:
    """The row (from 0) at which ``registry_id`` stands in the list ``query`` describes;
    ``None`` when its filter does not show the case (or there is no such case)."""
    with registry.read() as session:
        return _position_of(session, actor, query, registry_id)


def sites(registry: Registry, actor: Actor) -> list[str]:
    """The codes of the sites that have cases."""
    with registry.read() as session:
        return _sites(session)


def create_case(registry: Registry, actor: Actor, new: NewCase) -> str:
    """Create a case (coordinators, administrators); returns its registry id."""
    with registry.write() as session:
        return _create_case(session, actor, new).registry_id


def add_lab_result(registry: Registry, actor: Actor, entry: LabEntry) -> None:
    """Record one lab result on its case (which becomes ready if that completes it)."""
    with registry.write() as session:
        _add_lab_result(session, actor, entry)
        promote_if_complete(session, actor, entry.registry_id, _rules())


@dataclass(frozen=True, slots=True)
class LabImportSummary:
    """What a lab file import did."""

    imported: int
    """How many results were stored."""
    skipped_lines: tuple[int, ...] = ()
    """The file's lines (the header is line 1) whose result was already on record for its
    case, so was not stored again; ascending."""


def import_lab_file(registry: Registry, actor: Actor, path: Path) -> LabImportSummary:
    """Import a CSV of lab results, all or nothing; rows already on record are skipped.

    Raises :class:`~workbench.labs.LabFileError` naming every bad line, including a result
    the file holds twice (nothing written). The cases the file completes become ready.
    """
    with registry.write() as session:
        done = _import_lab_file(session, actor, path)
        rules = _rules()
        for registry_id in sorted({r.case.registry_id for r in done.stored}):
            promote_if_complete(session, actor, registry_id, rules)
        return LabImportSummary(len(done.stored), done.skipped_lines)


# --- editing a case and its readiness ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseChanges:
    """What a coordinator changes in a case; ``None`` leaves a field as it is.

    ``exposures`` and ``clinical_features``, when given, replace the case's lists.
    """

    sex: str | None = None
    age_band: str | None = None
    condition: str | None = None
    condition_detail: str | None = None
    clinical_summary: str | None = None
    clinical_consistent: str | None = None
    index_event: str | None = None
    readers_required: int | None = None
    exposures: tuple[NewExposure, ...] | None = None
    clinical_features: tuple[NewFeature, ...] | None = None

    def as_changes(self) -> dict[str, Any]:
        """The fields given, by name."""
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in given.items() if value is not None}


@dataclass(frozen=True, slots=True)
class CaseEdit:
    """A case after an edit: its version and status (ready, when the edit completed it)."""

    version: int
    status: CaseStatus


def _rules() -> ReadinessRules:
    return load_review_config().readiness


def edit_case(
    registry: Registry,
    actor: Actor,
    registry_id: str,
    changes: CaseChanges,
    *,
    reason: str,
    version: int | None = None,
) -> CaseEdit:
    """Change a case (coordinators, administrators), audited with ``reason``; returns the
    case's new version and status.

    ``version`` is the version the change was made against (what the form showed): a case
    saved by someone else since is refused (:class:`~workbench.errors.ConflictError`) and
    nothing is written. Without it, the version read in this transaction is used. A case the
    change completes becomes ready.
    """
    wanted, text = validated_changes(registry_id, changes, reason)
    with registry.write() as session:
        current = get_case(session, registry_id).version if version is None else version
        case = update_case(session, actor, registry_id, current, wanted, reason=text)
        promote_if_complete(session, actor, registry_id, _rules())
        return CaseEdit(int(case.version), case.status)


def validated_changes(
    registry_id: str, changes: CaseChanges, reason: str
) -> tuple[dict[str, Any], str]:
    """``(fields by name, reason)`` of an edit, checked before any transaction opens
    (:func:`edit_case`, and :func:`workbench.services.clinical.set_clinical_record` when it
    saves case fields with the record)."""
    wanted = changes.as_changes()
    if not wanted:
        raise ValidationError(f"case {registry_id}: nothing to change")
    text = reason.strip()
    if not text:
        raise ValidationError(
            f"case {registry_id}: a change to a case needs a reason", field="reason"
        )
    refused = describe_forbidden("reason", text)
    if refused is not None:
        raise ValidationError(refused, field="reason")
    if "readers_required" in wanted and not 1 <= wanted["readers_required"] <= MAX_READERS:
        raise ValidationError(
            f"readers required: {wanted['readers_required']} — give 1 to {MAX_READERS}",
            field="readers required",
        )
    for name in ("condition_detail", "clinical_summary", "index_event"):
        if name in wanted:
            problem = describe_forbidden(
                name.replace("_", " "), wanted[name], multiline=name == "clinical_summary"
            )
            if problem is not None:
                raise ValidationError(problem, field=name.replace("_", " "))
    return wanted, text


def case_readiness(registry: Registry, actor: Actor, registry_id: str) -> Readiness:
    """What the case misses to be read, under the rules of ``review.toml``."""
    with registry.read() as session:
        return _readiness(session, registry_id, _rules())


def mark_ready(
    registry: Registry, actor: Actor, registry_id: str, *, reason: str | None = None
) -> Readiness:
    """Mark an incomplete case ready (coordinators); one that misses items needs a reason,
    audited with the items overridden. Returns what it missed."""
    with registry.write() as session:
        return _mark_ready(session, actor, registry_id, _rules(), reason=reason)


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
    due_days: int | None = None,
) -> CaseStatus:
    """Assign readers and panel members to a case in one transaction (all or nothing).

    Each new assignment is due ``due_days`` days from now (default: ``[worklist]`` in
    ``review.toml``, by role). Returns the case's status afterwards, as the actor may see it.
    """
    with registry.write() as session:
        if readers:
            _assign(session, actor, registry_id, readers, Role.READER, due_days=due_days)
        if panel:
            _assign(session, actor, registry_id, panel, Role.PANEL, due_days=due_days)
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
        data["version"] = case.version
        data["missing_for_reading"] = list(assess(case, _rules()).missing)
        return data
