"""The one policy: who may do what, and who may see what, in the registry.

Every permission and blinding rule of the workbench is written here, once, as a pure function
of the acting person and the facts of the record (no SQL, no Qt):

>>> refusal = can(actor, Action.SEE_READ, facts)  # doctest: +SKIP
>>> if refusal: print(refusal.reason)  # doctest: +SKIP

The services (:mod:`workbench.services`) gather the facts in their transaction, ask
:func:`can` (or :func:`require`, which raises :class:`~workbench.errors.PermissionDeniedError`
with the reason) and return only what is allowed. The window asks the same function to grey
out a control and shows the refusal's reason as its tooltip; it never restates a rule.

Blinding (DESIGN.md §8), in one place:

- a reader sees another reader's read only after submitting their own read of the case;
- the case's panel sees its reads once every assigned reader has submitted;
- coordinators and administrators see the status of every read, and their contents once every
  assigned reader has submitted;
- **being an assigned reader who has not yet submitted outranks every other role**: a
  coordinator who is also a reader of the case sees neither the reads, nor the discordance,
  nor the panel's decisions of that case until their own read is in;
- nobody assigns themselves to a case.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from adjudication.vocabulary import ReadStatus, Role
from workbench.actor import Actor
from workbench.domain import CaseStatus
from workbench.errors import PermissionDeniedError

STATUS_ROLES = frozenset({Role.COORDINATOR, Role.ADMIN})
"""Roles that run the registry: they see the status of everything."""

REVIEW_OUTCOME_STATUSES = frozenset(
    {CaseStatus.DISCORDANT, CaseStatus.IN_ADJUDICATION, CaseStatus.FINAL}
)
"""Statuses that tell something about what the reads found."""


class Action(StrEnum):
    """Everything the policy decides. Values read as the end of "may not ..."."""

    # the registry's records
    CREATE_CASE = "create cases"
    EDIT_CASE = "change cases"
    ENTER_LABS = "enter lab results"
    IMPORT_IMAGES = "import images"
    CORRECT_SEQUENCE_CLASS = "correct sequence classes"
    ASSIGN = "assign readers and panel members"
    RECLASSIFY = "re-classify the registry"
    EXPORT_LESIONS = "export lesions"
    # people
    ADD_USER = "add users"
    EDIT_USER = "change users' details (their site)"
    SET_PASSWORD = "set another user's password"
    # reading
    ANNOTATE = "read cases"
    """Reading at all (the window's annotation tools), before any particular case."""
    READ_CASE = "read this case"
    EDIT_READ = "change this read"
    CORRECT_READ = "correct this read"
    SEE_READ = "see this read"
    SEE_READ_STATUS = "see the status of this read"
    LIST_READS = "see the reads of this case"
    # the panel
    SEE_PANEL_WORK = "see the discordance and the panel's decisions of this case"
    DECIDE = "propose or sign the panel's decision on this case"
    # the review queue
    SEE_DASHBOARD = "see the review dashboard (work by status, reader and site)"
    # what the registry is for
    SEE_AGREEMENT = "see reader agreement (kappa, Dice, disagreement by reader)"
    SEE_ANALYTICS = "see the registry's analytics (counts, incidence, survival)"
    IMPORT_DENOMINATORS = "import incidence denominators"
    EXPORT_RESEARCH = "export the research extract"


@dataclass(frozen=True, slots=True)
class Facts:
    """What the policy needs to know about the record and the actor's place in it.

    Services fill the fields an action needs; the rest keep their defaults. All are plain
    values, read in the service's transaction.
    """

    case_status: CaseStatus | None = None
    reader_of_case: bool = False
    """The actor is assigned to the case as a reader."""
    panel_of_case: bool = False
    """The actor is on the case's panel."""
    own_read_submitted: bool = False
    """The actor has submitted a read of the case (a superseded one counts)."""
    all_reads_in: bool = False
    """The case has assigned readers and every one of them has submitted."""
    read_is_own: bool = False
    """The read asked about is the actor's."""
    read_status: ReadStatus | None = None
    """The status of the read asked about."""
    target_is_self: bool = False
    """The user acted upon (assigned, given a password) is the actor."""
    target: str | None = None
    """The username of the user acted upon, for the refusal's wording."""


NO_FACTS = Facts()


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why ``actor`` may not do ``action``: one sentence a user can act on."""

    action: Action
    reason: str

    def __str__(self) -> str:
        return self.reason


def _needs(actor: Actor, action: Action, *roles: Role) -> Refusal | None:
    if actor.roles.intersection(roles):
        return None
    needed = " or ".join(r.value for r in roles)
    return Refusal(
        action, f"user {actor.username!r} may not {action.value}: that needs the {needed} role"
    )


def _blinded_reader(actor: Actor, facts: Facts) -> bool:
    """An assigned reader who has not submitted: blinded whatever else they are."""
    return facts.reader_of_case and not facts.own_read_submitted


def can(actor: Actor, action: Action, facts: Facts = NO_FACTS) -> Refusal | None:
    """``None`` when ``actor`` may do ``action`` given ``facts``, else the :class:`Refusal`."""
    rule = _RULES[action]
    return rule(actor, action, facts)


def require(actor: Actor, action: Action, facts: Facts = NO_FACTS) -> None:
    """Raise :class:`PermissionDeniedError` with the reason unless :func:`can` allows it."""
    refusal = can(actor, action, facts)
    if refusal is not None:
        raise PermissionDeniedError(refusal.reason)


@dataclass(frozen=True, slots=True)
class StatusMask:
    """How case statuses are shown to a person on the cases where they are blinded.

    ``hidden`` statuses are shown as ``shown_as``; every other status as it is. Who is blinded
    on which case is :meth:`applies`: an assigned reader who has not submitted their own read
    (:attr:`Facts.reader_of_case` and not :attr:`Facts.own_read_submitted`), whatever other
    roles they hold. A query over many cases (the case list) computes those two facts for
    every case in bulk and applies this mask to the cases where they hold, so it tells the
    same as :func:`visible_status` does one case at a time.
    """

    hidden: frozenset[CaseStatus]
    shown_as: CaseStatus

    @staticmethod
    def applies(actor: Actor, facts: Facts) -> bool:
        """Whether ``actor`` sees the case of ``facts`` through the mask."""
        return _blinded_reader(actor, facts)

    def show(self, status: CaseStatus) -> CaseStatus:
        """``status`` as a blinded person sees it."""
        return self.shown_as if status in self.hidden else status


def status_mask(actor: Actor) -> StatusMask:
    """The statuses ``actor`` is not told on a case where they are blinded, and what they see.

    An assigned reader who has not submitted yet is not told that the other reads disagree
    or what the panel decided: they see ``in reading``.
    """
    return StatusMask(REVIEW_OUTCOME_STATUSES, CaseStatus.IN_READING)


def visible_status(actor: Actor, facts: Facts) -> CaseStatus | None:
    """The case status as ``actor`` may see it (see :func:`status_mask`)."""
    status = facts.case_status
    if status is not None and StatusMask.applies(actor, facts):
        return status_mask(actor).show(status)
    return status


# --- the rules, one function per kind of action ---------------------------------------------


def _coordinators(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    return _needs(actor, action, Role.COORDINATOR, Role.ADMIN)


def _reclassify(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    # The panel re-checks its own decisions against the criteria; cases a member may not see
    # are left out case by case (SEE_PANEL_WORK).
    return _needs(actor, action, Role.PANEL, Role.COORDINATOR, Role.ADMIN)


def _sequence_class(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    return _needs(actor, action, Role.COORDINATOR, Role.ADMIN, Role.READER)


def _assign(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    refusal = _needs(actor, action, Role.COORDINATOR, Role.ADMIN)
    if refusal is None and facts.target_is_self:
        return Refusal(
            action,
            f"user {actor.username!r} may not assign themselves to a case: a coordinator has "
            "seen the case's reads and decisions, so another coordinator assigns them",
        )
    return refusal


def _set_password(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    if facts.target_is_self:
        return None
    refusal = _needs(actor, action, Role.COORDINATOR, Role.ADMIN)
    if refusal is not None and facts.target is not None:
        return Refusal(
            action,
            f"user {actor.username!r} may not set the password of {facts.target!r}: that "
            "needs the coordinator or admin role",
        )
    return refusal


def _annotate(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    return _needs(actor, action, Role.READER)


def _read_case(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    refusal = _needs(actor, action, Role.READER)
    if refusal is not None:
        return refusal
    if not facts.reader_of_case:
        return Refusal(
            action,
            f"user {actor.username!r} may not {action.value}: they are not assigned to read "
            "it (a coordinator assigns readers)",
        )
    if facts.case_status is CaseStatus.FINAL:
        return Refusal(action, "the case has a final panel decision: it is no longer read")
    return None


def _edit_read(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    refusal = _needs(actor, action, Role.READER)
    if refusal is not None:
        return refusal
    if not facts.read_is_own:
        return Refusal(
            action, f"user {actor.username!r} may not {action.value}: it is another reader's"
        )
    if action is Action.CORRECT_READ and facts.case_status is CaseStatus.FINAL:
        return Refusal(
            action,
            "the case has a final panel decision: a read cannot be corrected under it; ask "
            "the panel to change the decision",
        )
    return None


def _see_read(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    if facts.read_is_own:
        return None
    submitted = facts.read_status is ReadStatus.SUBMITTED
    blinded = Refusal(
        action,
        f"user {actor.username!r} may not {action.value}: it is another reader's, and reads "
        "are blinded until you have submitted your own read of this case (readers) or every "
        "assigned reader has submitted (panel, coordinators)",
    )
    if _blinded_reader(actor, facts):
        return blinded
    if action is Action.SEE_READ_STATUS:
        if actor.roles & STATUS_ROLES:
            return None
        if facts.read_status is ReadStatus.DRAFT:
            return blinded  # another reader's draft is nobody else's business
    if not submitted and action is Action.SEE_READ:
        return blinded
    if Role.READER in actor.roles and facts.reader_of_case and facts.own_read_submitted:
        return None
    if Role.PANEL in actor.roles and facts.panel_of_case and facts.all_reads_in:
        return None
    if actor.roles & STATUS_ROLES and facts.all_reads_in:
        return None
    return blinded


def _list_reads(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    if facts.reader_of_case or actor.roles & STATUS_ROLES:
        return None  # what each may see of each read is SEE_READ / SEE_READ_STATUS
    if Role.PANEL in actor.roles and facts.panel_of_case and facts.all_reads_in:
        return None
    return Refusal(
        action,
        f"user {actor.username!r} may not {action.value}: only its assigned readers, its panel "
        "once every read is in, and coordinators see them",
    )


def _see_panel_work(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    if _blinded_reader(actor, facts):
        return Refusal(
            action,
            f"user {actor.username!r} may not {action.value} before submitting their own read "
            "of it",
        )
    if actor.roles & STATUS_ROLES:
        return None
    if Role.PANEL in actor.roles and facts.panel_of_case:
        return None
    if Role.READER in actor.roles and facts.reader_of_case and facts.own_read_submitted:
        return None
    return Refusal(
        action,
        f"user {actor.username!r} may not {action.value}: readers see it only after "
        "submitting their own read, and only readers and panel members of the case (or "
        "coordinators) see it at all",
    )


def _decide(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    refusal = _needs(actor, action, Role.PANEL)
    if refusal is not None:
        return refusal
    if not facts.panel_of_case:
        return Refusal(
            action,
            f"user {actor.username!r} may not {action.value}: they are not on its panel (a "
            "coordinator assigns the panel)",
        )
    if not facts.all_reads_in:
        return Refusal(
            action,
            "the panel decides once every assigned reader has submitted; reads are still "
            "outstanding",
        )
    return None


def _analysts(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    """Registry-wide statistics: coordinators, administrators and the panel, never a reader
    alone (the figures are built from other readers' reads). What goes into them is
    blinded where it is read: only cases whose every assigned read is in."""
    return _needs(actor, action, Role.COORDINATOR, Role.ADMIN, Role.PANEL)


def _export_lesions(actor: Actor, action: Action, facts: Facts) -> Refusal | None:
    return _needs(actor, action, Role.COORDINATOR, Role.ADMIN)


_RULES = {
    Action.CREATE_CASE: _coordinators,
    Action.EDIT_CASE: _coordinators,
    Action.ENTER_LABS: _coordinators,
    Action.IMPORT_IMAGES: _coordinators,
    Action.CORRECT_SEQUENCE_CLASS: _sequence_class,
    Action.ASSIGN: _assign,
    Action.RECLASSIFY: _reclassify,
    Action.EXPORT_LESIONS: _export_lesions,
    Action.ADD_USER: _coordinators,
    Action.EDIT_USER: _coordinators,
    Action.SET_PASSWORD: _set_password,
    Action.ANNOTATE: _annotate,
    Action.READ_CASE: _read_case,
    Action.EDIT_READ: _edit_read,
    Action.CORRECT_READ: _edit_read,
    Action.SEE_READ: _see_read,
    Action.SEE_READ_STATUS: _see_read,
    Action.LIST_READS: _list_reads,
    Action.SEE_PANEL_WORK: _see_panel_work,
    Action.DECIDE: _decide,
    Action.SEE_DASHBOARD: _coordinators,
    Action.SEE_AGREEMENT: _analysts,
    Action.SEE_ANALYTICS: _analysts,
    Action.IMPORT_DENOMINATORS: _coordinators,
    Action.EXPORT_RESEARCH: _coordinators,
}
assert set(_RULES) == set(Action), "every action has its rule"
