"""The one policy, as a pure function: every action has a rule, and the rules say why."""

from __future__ import annotations

import pytest

from adjudication.vocabulary import ReadStatus, Role
from workbench.actor import Actor
from workbench.domain import CaseStatus
from workbench.errors import PermissionDeniedError
from workbench.policy import Action, Facts, can, require, visible_status


def _actor(*roles: Role, name: str = "someone") -> Actor:
    return Actor(name, name.title(), frozenset(roles))


COORDINATOR = _actor(Role.COORDINATOR)
READER = _actor(Role.READER)
PANEL = _actor(Role.PANEL)
BOTH = _actor(Role.COORDINATOR, Role.READER)


def test_every_action_has_a_rule_that_answers() -> None:
    nobody = _actor()
    for action in Action:
        refusal = can(nobody, action, Facts())
        assert refusal is None or refusal.reason.strip()


@pytest.mark.parametrize(
    ("actor", "facts", "allowed"),
    [
        (READER, Facts(read_is_own=True, read_status=ReadStatus.DRAFT), True),
        # another reader's submitted read: only after one's own
        (READER, Facts(reader_of_case=True, read_status=ReadStatus.SUBMITTED), False),
        (
            READER,
            Facts(reader_of_case=True, own_read_submitted=True, read_status=ReadStatus.SUBMITTED),
            True,
        ),
        # drafts are nobody else's business
        (
            READER,
            Facts(reader_of_case=True, own_read_submitted=True, read_status=ReadStatus.DRAFT),
            False,
        ),
        (PANEL, Facts(panel_of_case=True, read_status=ReadStatus.SUBMITTED), False),
        (
            PANEL,
            Facts(panel_of_case=True, all_reads_in=True, read_status=ReadStatus.SUBMITTED),
            True,
        ),
        (PANEL, Facts(all_reads_in=True, read_status=ReadStatus.SUBMITTED), False),
        (COORDINATOR, Facts(read_status=ReadStatus.SUBMITTED), False),
        (COORDINATOR, Facts(all_reads_in=True, read_status=ReadStatus.SUBMITTED), True),
        # an assigned reader who has not submitted is blinded whatever else they are
        (
            BOTH,
            Facts(reader_of_case=True, all_reads_in=False, read_status=ReadStatus.SUBMITTED),
            False,
        ),
    ],
)
def test_who_sees_a_read(actor: Actor, facts: Facts, allowed: bool) -> None:
    assert (can(actor, Action.SEE_READ, facts) is None) is allowed


def test_a_coordinator_sees_the_status_of_reads_but_not_while_reading_the_case() -> None:
    facts = Facts(read_status=ReadStatus.DRAFT)
    assert can(COORDINATOR, Action.SEE_READ_STATUS, facts) is None
    assert can(BOTH, Action.SEE_READ_STATUS, Facts(reader_of_case=True)) is not None


def test_panel_work_is_blinded_for_an_assigned_reader_whatever_their_roles() -> None:
    assert can(COORDINATOR, Action.SEE_PANEL_WORK) is None
    refusal = can(BOTH, Action.SEE_PANEL_WORK, Facts(reader_of_case=True))
    assert refusal is not None
    assert "before submitting their own read" in refusal.reason
    assert (
        can(BOTH, Action.SEE_PANEL_WORK, Facts(reader_of_case=True, own_read_submitted=True))
        is None
    )
    assert can(READER, Action.SEE_PANEL_WORK) is not None
    assert can(PANEL, Action.SEE_PANEL_WORK, Facts(panel_of_case=True)) is None


def test_visible_status_hides_the_outcome_from_a_reader_still_reading() -> None:
    facts = Facts(case_status=CaseStatus.DISCORDANT, reader_of_case=True)
    assert visible_status(BOTH, facts) is CaseStatus.IN_READING
    assert visible_status(COORDINATOR, Facts(case_status=CaseStatus.DISCORDANT)) is (
        CaseStatus.DISCORDANT
    )


def test_deciding_needs_the_case_panel_and_every_read() -> None:
    assert can(COORDINATOR, Action.DECIDE, Facts(all_reads_in=True)) is not None
    assert can(PANEL, Action.DECIDE, Facts(all_reads_in=True)) is not None
    assert can(PANEL, Action.DECIDE, Facts(panel_of_case=True)) is not None
    assert can(PANEL, Action.DECIDE, Facts(panel_of_case=True, all_reads_in=True)) is None


def test_nobody_assigns_themselves_and_require_raises_the_reason() -> None:
    assert can(COORDINATOR, Action.ASSIGN) is None
    with pytest.raises(PermissionDeniedError, match="assign themselves"):
        require(COORDINATOR, Action.ASSIGN, Facts(target_is_self=True))
    with pytest.raises(PermissionDeniedError, match="coordinator or admin role"):
        require(READER, Action.ASSIGN)


def test_passwords_one_own_or_by_a_coordinator() -> None:
    assert can(READER, Action.SET_PASSWORD, Facts(target_is_self=True)) is None
    assert can(READER, Action.SET_PASSWORD, Facts()) is not None
    assert can(COORDINATOR, Action.SET_PASSWORD, Facts()) is None
