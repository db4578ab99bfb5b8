"""Worklists on both databases: my queue, due dates, the dashboard, balanced assignment.

A small registry whose numbers are known: sites NL-AMS and DE-BER; readers ``ams1`` and
``ams2`` (NL-AMS), ``ber1`` (DE-BER) and ``nosite``; panel members ``panel1`` and
``panel2``. Times of assignment are moved by hand (``assigned_at`` and ``due_at`` are not
guarded columns) so turnaround and overdue are exact.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from adjudication.consensus import Proposal
from adjudication.vocabulary import Certainty, ImagingJudgement, Role
from tests.signin import TEST_PASSWORD
from workbench.cases import NewCase, create_case, get_case, update_case
from workbench.domain import CaseStatus, Condition, Sex
from workbench.errors import NotFoundError, PermissionDeniedError, ValidationError
from workbench.panel import propose_decision, sign_decision
from workbench.reading_flow import submit
from workbench.reads import save_draft, start_or_resume_draft
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Case, CaseAssignment, Read, User, utcnow
from workbench.review_config import REVIEW_CONFIG_ENV, ReviewConfigError, load_review_config
from workbench.services import admin, cases, worklist
from workbench.services.worklist import QueueState
from workbench.users import Actor, add_user, resolve_actor, set_site

READERS = {"ams1": "NL-AMS", "ams2": "NL-AMS", "ber1": "DE-BER", "nosite": None}


@dataclass(frozen=True)
class World:
    registry: Registry
    coordinator: Actor
    people: dict[str, Actor]

    def __getitem__(self, name: str) -> Actor:
        return self.people[name]


def _days(start: dt.datetime, end: dt.datetime | None) -> float:
    """Days from ``start`` to ``end`` (a due date is always set here)."""
    assert end is not None
    return (end - start).total_seconds() / 86400


def _case(world_registry: Registry, coordinator: Actor, registry_id: str, site: str) -> None:
    with world_registry.write() as session:
        create_case(
            session,
            coordinator,
            NewCase(registry_id, site, Sex.FEMALE, "40-49", Condition.MS_NATALIZUMAB),
        )
    with world_registry.write() as session:
        version = get_case(session, registry_id).version
        update_case(session, coordinator, registry_id, version, {"status": CaseStatus.READY})


@pytest.fixture
def world(registry: Registry, coordinator: Actor) -> World:
    """Users of :data:`READERS` and two panel members; cases are added by each test."""
    people = {}
    with registry.write() as session:
        for name, site in READERS.items():
            add_user(
                session,
                name,
                f"Dr {name}",
                {Role.READER},
                by=coordinator,
                site=site,
                password=TEST_PASSWORD,
            )
        for name in ("panel1", "panel2"):
            add_user(
                session, name, f"Dr {name}", {Role.PANEL}, by=coordinator, password=TEST_PASSWORD
            )
        for name in (*READERS, "panel1", "panel2"):
            people[name] = resolve_actor(session, name)
    return World(registry, coordinator, people)


def _assign(w: World, registry_id: str, readers: list[str], panel: tuple[str, ...] = ()) -> None:
    cases.assign(w.registry, w.coordinator, registry_id, readers=readers, panel=panel)


def _draft(w: World, reader: str, registry_id: str, judgement: ImagingJudgement) -> Read:
    with w.registry.write() as session:
        read = start_or_resume_draft(session, w[reader], registry_id)
        return save_draft(
            session, w[reader], read.id, read.version, lesions=(), judgement=judgement
        )


def _submit(
    w: World, reader: str, registry_id: str, judgement: ImagingJudgement = ImagingJudgement.YES
) -> None:
    read = _draft(w, reader, registry_id, judgement)
    with w.registry.write() as session:
        submit(session, w[reader], read.id, read.version)


def _move_assignment(
    w: World,
    registry_id: str,
    reader: str,
    *,
    assigned_days_before_submission: float | None = None,
    due_in_days: float | None = None,
) -> None:
    """Move one assignment's times (not guarded: nothing to audit)."""
    with w.registry.write() as session:
        case_id = get_case(session, registry_id).id
        user_id = session.scalars(select(User.id).where(User.username == reader)).one()
        row = session.scalars(
            select(CaseAssignment).where(
                CaseAssignment.case_id == case_id, CaseAssignment.user_id == user_id
            )
        ).one()
        if assigned_days_before_submission is not None:
            submitted = session.scalars(
                select(Read.submitted_at).where(
                    Read.case_id == case_id,
                    Read.reader_id == user_id,
                    Read.submitted_at.is_not(None),
                )
            ).one()
            assert submitted is not None
            row.assigned_at = submitted - dt.timedelta(days=assigned_days_before_submission)
        if due_in_days is not None:
            row.due_at = utcnow() + dt.timedelta(days=due_in_days)


def _status(w: World, registry_id: str) -> CaseStatus:
    with w.registry.read() as session:
        return session.scalars(select(Case.status).where(Case.registry_id == registry_id)).one()


# --- due dates ---------------------------------------------------------------------------------


@pytest.fixture
def review_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "review.toml"
    monkeypatch.setenv(REVIEW_CONFIG_ENV, str(path))
    return path


def _due(w: World, registry_id: str) -> dict[str, float]:
    """Days from assignment to due date, by username."""
    with w.registry.read() as session:
        rows = session.execute(
            select(User.username, CaseAssignment.assigned_at, CaseAssignment.due_at)
            .join(User, User.id == CaseAssignment.user_id)
            .join(Case, Case.id == CaseAssignment.case_id)
            .where(Case.registry_id == registry_id)
        ).all()
    return {name: round(_days(at, due), 2) for name, at, due in rows}


def test_assignment_sets_due_dates_from_review_toml(world: World, review_toml: Path) -> None:
    review_toml.write_text("[worklist]\nreader_due_days = 3\npanel_due_days = 10\n")
    _case(world.registry, world.coordinator, "PML-0001", "NL-AMS")
    _case(world.registry, world.coordinator, "PML-0002", "NL-AMS")
    _assign(world, "PML-0001", ["ber1"], ("panel1",))
    assert _due(world, "PML-0001") == {"ber1": 3.0, "panel1": 10.0}
    # an override applies to every role of this assignment; earlier ones stay as they were
    cases.assign(world.registry, world.coordinator, "PML-0002", readers=["ber1"], due_days=30)
    cases.assign(world.registry, world.coordinator, "PML-0001", readers=["nosite"], due_days=1)
    assert _due(world, "PML-0002") == {"ber1": 30.0}
    assert _due(world, "PML-0001") == {"ber1": 3.0, "panel1": 10.0, "nosite": 1.0}


def test_default_due_dates_without_review_toml(world: World) -> None:
    _case(world.registry, world.coordinator, "PML-0001", "NL-AMS")
    _assign(world, "PML-0001", ["ber1"], ("panel1",))
    assert _due(world, "PML-0001") == {"ber1": 14.0, "panel1": 14.0}


@pytest.mark.parametrize("days", [0, -2, 366])
def test_a_bad_due_days_is_refused_and_nothing_is_assigned(world: World, days: int) -> None:
    _case(world.registry, world.coordinator, "PML-0001", "NL-AMS")
    with pytest.raises(ValidationError, match=r"due days: .* give 1 to 365") as caught:
        cases.assign(world.registry, world.coordinator, "PML-0001", readers=["ber1"], due_days=days)
    assert caught.value.field == "due days"
    assert _due(world, "PML-0001") == {}
    assert _status(world, "PML-0001") is CaseStatus.READY


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("reader_due_days = 0", r"\[worklist\] reader_due_days: 0 — give 1 to 365 days"),
        ("panel_due_days = 400", r"\[worklist\] panel_due_days: 400 — give 1 to 365 days"),
        ("reader_due_days = 2.5", r"\[worklist\] reader_due_days: 2.5 is not a whole number"),
        ("reader_due_days = true", r"\[worklist\] reader_due_days: True is not a whole number"),
        ("due = 3", r"\[worklist\] due: unknown key \(known: reader_due_days, panel_due_days\)"),
    ],
)
def test_bad_worklist_settings_name_the_key(review_toml: Path, body: str, message: str) -> None:
    review_toml.write_text(f"[worklist]\n{body}\n")
    with pytest.raises(ReviewConfigError, match=message):
        load_review_config()


def test_worklist_settings_are_read(review_toml: Path) -> None:
    review_toml.write_text("[worklist]\nreader_due_days = 7\n")
    config = load_review_config()
    assert (config.worklist.reader_due_days, config.worklist.panel_due_days) == (7, 14)
    assert config.as_dict()["worklist"] == {"reader_due_days": 7, "panel_due_days": 14}


# --- my queue ----------------------------------------------------------------------------------


def test_a_readers_queue_shows_their_open_reads_with_states_and_overdue(world: World) -> None:
    for n in range(1, 5):
        _case(world.registry, world.coordinator, f"PML-000{n}", "NL-AMS")
    for n in range(1, 5):
        _assign(world, f"PML-000{n}", ["ber1", "nosite"])
    _draft(world, "ber1", "PML-0002", ImagingJudgement.YES)
    _submit(world, "ber1", "PML-0003")
    _move_assignment(world, "PML-0001", "ber1", due_in_days=-2)  # overdue
    _move_assignment(world, "PML-0004", "ber1", due_in_days=-5)  # overdue, but ...
    with world.registry.write() as session:  # ... final: nothing left to read
        version = get_case(session, "PML-0004").version
        update_case(session, world.coordinator, "PML-0004", version, {"status": "final"})

    queue = worklist.my_queue(world.registry, world["ber1"])
    assert [(i.registry_id, i.role, i.state, i.overdue) for i in queue.items] == [
        ("PML-0001", Role.READER, QueueState.ASSIGNED, True),  # overdue first: due earliest
        ("PML-0002", Role.READER, QueueState.DRAFTED, False),
    ]
    assert queue.counts[QueueState.ASSIGNED] == 1
    assert queue.counts[QueueState.DRAFTED] == 1
    assert queue.counts[QueueState.TO_SIGN] == 0
    assert queue.overdue == 1
    assert queue.summary() == "2 open · 1 overdue · assigned 1, drafted 1"
    assert all(i.site == "NL-AMS" and i.status is CaseStatus.IN_READING for i in queue.items)
    assert queue.items[0].days_left(queue.as_of) == -2
    data = queue.as_json()
    assert data["counts"]["assigned"] == 1
    assert data["overdue"] == 1
    assert data["items"][0]["registry_id"] == "PML-0001"
    # nobody else's work shows, and someone with none has an empty queue
    assert worklist.my_queue(world.registry, world["ams1"]).items == ()
    assert worklist.my_queue(world.registry, world.coordinator).summary() == "0 open · 0 overdue"


def test_a_blinded_reader_is_not_told_the_outcome(world: World) -> None:
    _case(world.registry, world.coordinator, "PML-0001", "NL-AMS")
    _assign(world, "PML-0001", ["ber1", "nosite"])
    _submit(world, "nosite", "PML-0001", ImagingJudgement.NO)
    with world.registry.write() as session:  # as if the reads were assessed discordant
        version = get_case(session, "PML-0001").version
        update_case(session, world.coordinator, "PML-0001", version, {"status": "discordant"})
    (item,) = worklist.my_queue(world.registry, world["ber1"]).items
    assert item.status is CaseStatus.IN_READING
    assert item.as_json()["status"] == "in_reading"
    assert "discordant" not in str(worklist.my_queue(world.registry, world["ber1"]).as_json())


def test_the_panel_queue_follows_the_decision(world: World) -> None:
    _case(world.registry, world.coordinator, "PML-0001", "NL-AMS")
    _assign(world, "PML-0001", ["ber1", "nosite"], ("panel1", "panel2"))
    # reads outstanding: nothing for the panel yet
    assert worklist.my_queue(world.registry, world["panel1"]).items == ()
    _submit(world, "ber1", "PML-0001", ImagingJudgement.YES)
    _submit(world, "nosite", "PML-0001", ImagingJudgement.NO)
    assert _status(world, "PML-0001") is CaseStatus.DISCORDANT
    for member in ("panel1", "panel2"):
        (item,) = worklist.my_queue(world.registry, world[member]).items
        assert (item.role, item.state, item.status) == (
            Role.PANEL,
            QueueState.TO_DECIDE,
            CaseStatus.DISCORDANT,
        )
    # the readers have submitted: their queues are empty
    assert worklist.my_queue(world.registry, world["ber1"]).items == ()
    with world.registry.write() as session:
        decision = propose_decision(
            session,
            world["panel1"],
            "PML-0001",
            Proposal(Certainty.NOT_PML, None, rationale="readers disagree; no PCR"),
        )
        decision_id = decision.id
    for member in ("panel1", "panel2"):
        (item,) = worklist.my_queue(world.registry, world[member]).items
        assert item.state is QueueState.TO_SIGN
    with world.registry.write() as session:
        sign_decision(session, world["panel1"], decision_id, TEST_PASSWORD)
    assert worklist.my_queue(world.registry, world["panel1"]).items == ()
    (item,) = worklist.my_queue(world.registry, world["panel2"]).items
    assert item.state is QueueState.TO_SIGN
    with world.registry.write() as session:
        sign_decision(session, world["panel2"], decision_id, TEST_PASSWORD)
    assert _status(world, "PML-0001") is CaseStatus.FINAL
    assert worklist.my_queue(world.registry, world["panel2"]).items == ()


def test_a_panel_due_date_passed_is_overdue(world: World) -> None:
    _case(world.registry, world.coordinator, "PML-0001", "NL-AMS")
    _assign(world, "PML-0001", ["ber1", "nosite"], ("panel1",))
    _submit(world, "ber1", "PML-0001", ImagingJudgement.YES)
    _submit(world, "nosite", "PML-0001", ImagingJudgement.YES)
    assert _status(world, "PML-0001") is CaseStatus.IN_ADJUDICATION
    _move_assignment(world, "PML-0001", "panel1", due_in_days=-1)
    (item,) = worklist.my_queue(world.registry, world["panel1"]).items
    assert (item.state, item.overdue, item.status) == (
        QueueState.TO_DECIDE,
        True,
        CaseStatus.IN_ADJUDICATION,
    )


# --- the dashboard -----------------------------------------------------------------------------


def _known_registry(w: World) -> None:
    """Cases 1-3 at NL-AMS, 4-5 at DE-BER; PML-0005 stays ready (unassigned).

    - PML-0001: ber1 and nosite submitted, after 2 and 4 days: in adjudication;
    - PML-0002: ber1 submitted after 6 days, nosite not: in reading;
    - PML-0003: ber1 (overdue) and nosite, neither submitted: in reading;
    - PML-0004: ams1 (overdue) and nosite, neither submitted: in reading.

    Open reads: ber1 1 (overdue), nosite 3, ams1 1 (overdue), ams2 none.
    """
    for n, site in ((1, "NL-AMS"), (2, "NL-AMS"), (3, "NL-AMS"), (4, "DE-BER"), (5, "DE-BER")):
        _case(w.registry, w.coordinator, f"PML-000{n}", site)
    for n in (1, 2, 3):
        _assign(w, f"PML-000{n}", ["ber1", "nosite"])
    _assign(w, "PML-0004", ["ams1", "nosite"])
    _submit(w, "ber1", "PML-0001", ImagingJudgement.YES)
    _submit(w, "nosite", "PML-0001", ImagingJudgement.YES)
    _submit(w, "ber1", "PML-0002", ImagingJudgement.YES)
    _move_assignment(w, "PML-0001", "ber1", assigned_days_before_submission=2)
    _move_assignment(w, "PML-0002", "ber1", assigned_days_before_submission=6)
    _move_assignment(w, "PML-0001", "nosite", assigned_days_before_submission=4)
    _move_assignment(w, "PML-0003", "ber1", due_in_days=-3)
    _move_assignment(w, "PML-0004", "ams1", due_in_days=-1)


def test_the_dashboard_counts_a_known_registry(world: World) -> None:
    _known_registry(world)
    board = worklist.dashboard(world.registry, world.coordinator)
    assert board.total == 5
    assert board.by_status == {
        CaseStatus.INCOMPLETE: 0,
        CaseStatus.READY: 1,
        CaseStatus.IN_READING: 3,
        CaseStatus.DISCORDANT: 0,
        CaseStatus.IN_ADJUDICATION: 1,
        CaseStatus.FINAL: 0,
    }
    readers = {r.username: r for r in board.readers}
    assert set(readers) == {"ams1", "ams2", "ber1", "nosite"}
    ber1, nosite, ams1, ams2 = readers["ber1"], readers["nosite"], readers["ams1"], readers["ams2"]
    assert (ber1.open_reads, ber1.overdue, ber1.submitted, ber1.site) == (1, 1, 2, "DE-BER")
    assert ber1.median_turnaround_days == pytest.approx(4.0, abs=0.01)  # median of 2 and 6
    assert (nosite.open_reads, nosite.overdue, nosite.submitted, nosite.site) == (3, 0, 1, None)
    assert nosite.median_turnaround_days == pytest.approx(4.0, abs=0.01)
    assert (ams1.open_reads, ams1.overdue, ams1.submitted) == (1, 1, 0)
    assert ams1.median_turnaround_days is None
    assert (ams2.open_reads, ams2.submitted, ams2.site) == (0, 0, "NL-AMS")
    assert (board.open_reads, board.overdue) == (5, 2)
    sites = {s.site: s for s in board.sites}
    assert sites["NL-AMS"].by_status == {
        CaseStatus.IN_ADJUDICATION: 1,
        CaseStatus.IN_READING: 2,
    }
    assert (sites["NL-AMS"].total, sites["NL-AMS"].readers) == (3, 2)
    assert sites["DE-BER"].by_status == {CaseStatus.IN_READING: 1, CaseStatus.READY: 1}
    assert (sites["DE-BER"].total, sites["DE-BER"].readers) == (2, 1)
    data = board.as_json()
    assert data["by_status"]["in_reading"] == 3
    assert data["overdue"] == 2
    assert data["readers"][0]["username"] == "ams1"
    assert data["sites"][0]["by_status"]["final"] == 0


def test_turnaround_counts_only_the_last_year_of_first_submissions(world: World) -> None:
    from workbench import worklist as data

    _known_registry(world)
    later = utcnow() + data.TURNAROUND_WINDOW + dt.timedelta(days=1)
    with world.registry.read() as session:
        board = data.dashboard(session, world.coordinator, now=later)
    ber1 = {r.username: r for r in board.readers}["ber1"]
    assert ber1.submitted == 2  # the reads still count ...
    assert ber1.median_turnaround_days is None  # ... but their turnaround is older than a year


def test_readers_and_the_panel_may_not_see_the_dashboard(world: World) -> None:
    _known_registry(world)
    for name in ("ber1", "panel1"):
        with pytest.raises(PermissionDeniedError, match=r"review dashboard.*coordinator or admin"):
            worklist.dashboard(world.registry, world[name])


def test_the_dashboard_is_a_fixed_number_of_statements(world: World) -> None:
    """Set-based: adding cases, reads and readers adds no statement."""

    def statements() -> int:
        seen: list[str] = []

        def count(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(world.registry.engine, "before_cursor_execute", count)
        try:
            worklist.dashboard(world.registry, world.coordinator)
        finally:
            event.remove(world.registry.engine, "before_cursor_execute", count)
        return len(seen)

    _case(world.registry, world.coordinator, "PML-0001", "NL-AMS")
    _assign(world, "PML-0001", ["ber1"])
    few = statements()
    _known_registry_more(world)
    assert statements() == few


def _known_registry_more(w: World) -> None:
    for n in range(2, 8):
        _case(w.registry, w.coordinator, f"PML-000{n}", "DE-BER" if n % 2 else "NL-AMS")
        _assign(w, f"PML-000{n}", ["nosite", "ams1"])
    _submit(w, "nosite", "PML-0002")


# --- balanced assignment -----------------------------------------------------------------------


def test_the_suggestion_leaves_out_the_cases_site_and_those_on_it(world: World) -> None:
    _known_registry(world)
    _case(world.registry, world.coordinator, "PML-0006", "NL-AMS")
    _assign(world, "PML-0006", ["nosite"], ("panel1",))
    suggestion = worklist.suggest_assignment(world.registry, world.coordinator, "PML-0006")
    assert (suggestion.readers_required, suggestion.readers_assigned, suggestion.needed) == (
        2,
        1,
        1,
    )
    assert suggestion.suggested == ("ber1",)
    excluded = {r.username: r.excluded for r in suggestion.ranking}
    assert excluded == {
        "ber1": None,
        "ams1": "works at NL-AMS, the case's own site",
        "ams2": "works at NL-AMS, the case's own site",
        "nosite": "already a reader of this case",
    }
    assert next(r.username for r in suggestion.ranking) == "ber1"  # eligible first
    assert suggestion.note is None


def test_the_suggestion_balances_by_open_workload(world: World) -> None:
    _known_registry(world)  # open reads: ber1 1, nosite 3, ams1 1, ams2 0
    _case(world.registry, world.coordinator, "PML-0006", "DE-BER")
    _case(world.registry, world.coordinator, "PML-0007", "DE-BER")
    _assign(world, "PML-0006", ["nosite"])  # nosite: 4 open now
    suggestion = worklist.suggest_assignment(world.registry, world.coordinator, "PML-0007")
    assert [
        (r.username, r.open_reads, r.overdue, r.excluded is None) for r in suggestion.ranking
    ] == [
        ("ams2", 0, 0, True),
        ("ams1", 1, 1, True),
        ("nosite", 4, 0, True),
        ("ber1", 1, 1, False),  # DE-BER
    ]
    assert suggestion.suggested == ("ams2", "ams1")


def test_a_suggestion_is_applied_in_one_transaction(world: World) -> None:
    _known_registry(world)
    applied = worklist.assign_suggested(world.registry, world.coordinator, "PML-0005", due_days=5)
    assert applied.suggestion.suggested == ("ams2", "ams1")
    assert applied.status is CaseStatus.IN_READING
    assert _due(world, "PML-0005") == {"ams2": 5.0, "ams1": 5.0}
    # the case has its readers now: nothing more to suggest, and applying is refused
    again = worklist.suggest_assignment(world.registry, world.coordinator, "PML-0005")
    assert (again.needed, again.suggested) == (0, ())
    assert again.note == "case PML-0005 has its 2 reader(s) already"
    with pytest.raises(ValidationError, match="has its 2 reader"):
        worklist.assign_suggested(world.registry, world.coordinator, "PML-0005")


def test_no_eligible_reader_is_refused_and_nothing_written(world: World) -> None:
    _case(world.registry, world.coordinator, "PML-0001", "NL-AMS")
    with world.registry.write() as session:
        for name in ("ber1", "nosite"):
            set_site(session, world.coordinator, name, "NL-AMS")
    suggestion = worklist.suggest_assignment(world.registry, world.coordinator, "PML-0001")
    assert suggestion.suggested == ()
    assert suggestion.note is not None
    assert "only 0 eligible reader(s)" in suggestion.note
    with pytest.raises(ValidationError, match="needs 2 more reader"):
        worklist.assign_suggested(world.registry, world.coordinator, "PML-0001")
    assert _due(world, "PML-0001") == {}
    assert _status(world, "PML-0001") is CaseStatus.READY


def test_a_suggestion_needs_the_assigning_role_and_a_known_case(world: World) -> None:
    _case(world.registry, world.coordinator, "PML-0001", "NL-AMS")
    with pytest.raises(PermissionDeniedError, match="assign readers"):
        worklist.suggest_assignment(world.registry, world["ber1"], "PML-0001")
    with pytest.raises(PermissionDeniedError):
        worklist.assign_suggested(world.registry, world["panel1"], "PML-0001")
    with pytest.raises(NotFoundError, match="PML-0404"):
        worklist.suggest_assignment(world.registry, world.coordinator, "PML-0404")


def test_the_coordinator_is_not_suggested_for_a_case(world: World) -> None:
    with world.registry.write() as session:
        add_user(session, "both", "Dr Both", {Role.COORDINATOR, Role.READER}, by=world.coordinator)
        both = resolve_actor(session, "both")
    _case(world.registry, world.coordinator, "PML-0001", "DE-BER")
    suggestion = worklist.suggest_assignment(world.registry, both, "PML-0001")
    (me,) = [r for r in suggestion.ranking if r.username == "both"]
    assert me.excluded is not None
    assert "may not assign themselves" in me.excluded
    assert "both" not in suggestion.suggested


# --- users' sites ------------------------------------------------------------------------------


def _events(w: World, action: str) -> list[tuple[str | None, object, object]]:
    """``(entity id, before, after)`` of the events of ``action``, oldest first."""
    with w.registry.read() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return [(e.entity_id, e.before, e.after) for e in rows]


def test_a_users_site_is_set_audited_and_verified(world: World) -> None:
    assert {u.username: u.site for u in admin.list_users(world.registry, world.coordinator)} == {
        "coordinator": None,
        "panel1": None,
        "panel2": None,
        **READERS,
    }
    admin.set_user_site(world.registry, world.coordinator, "nosite", "FR-PAR")
    admin.set_user_site(world.registry, world.coordinator, "ams1", None)
    admin.set_user_site(world.registry, world.coordinator, "ams2", "NL-AMS")  # unchanged
    sites = {u.username: u.site for u in admin.list_users(world.registry, world.coordinator)}
    assert (sites["nosite"], sites["ams1"], sites["ams2"]) == ("FR-PAR", None, "NL-AMS")
    assert _events(world, "user.site") == [
        ("nosite", {"site": None}, {"site": "FR-PAR"}),
        ("ams1", {"site": "NL-AMS"}, {"site": None}),
    ]
    created: dict[str | None, Any] = {e[0]: e[2] for e in _events(world, "user.create")}
    assert created["ams1"] is not None
    assert created["ams1"]["site"] == "NL-AMS"
    assert "site" not in (created["panel1"] or {})
    assert admin.verify_audit(world.registry).clean


def test_bad_sites_and_people_are_refused(world: World) -> None:
    with pytest.raises(ValidationError, match="site: 'nl ams' is not a site code") as caught:
        admin.set_user_site(world.registry, world.coordinator, "ber1", "nl ams")
    assert caught.value.field == "site"
    with pytest.raises(PermissionDeniedError, match="change users' details"):
        admin.set_user_site(world.registry, world["ber1"], "ber1", "FR-PAR")
    with pytest.raises(NotFoundError, match="'ghost'"):
        admin.set_user_site(world.registry, world.coordinator, "ghost", "FR-PAR")
    with pytest.raises(ValidationError, match="site: 'x y'"):
        admin.add_user(
            world.registry, world.coordinator, "rad9", "Dr Nine", {Role.READER}, site="x y"
        )
    assert {u.username: u.site for u in admin.list_users(world.registry, world.coordinator)}[
        "ber1"
    ] == "DE-BER"
    assert "rad9" not in {u.username for u in admin.list_users(world.registry, world.coordinator)}
    assert _events(world, "user.site") == []


def test_the_site_migration_goes_down_and_up(registry_url: str) -> None:
    from alembic import command

    from workbench.registry.db import _alembic_config, create_registry_engine

    registry = Registry.open(registry_url)
    with registry.write() as session:
        boss = resolve_actor(session, "coordinator")
        add_user(session, "rad1", "Dr One", {Role.READER}, by=boss, site="NL-AMS")
    registry.close()
    engine = create_registry_engine(registry_url)
    with engine.connect() as conn:
        command.downgrade(_alembic_config(conn), "0007")
        conn.commit()
    engine.dispose()
    registry = Registry.open(registry_url)  # upgrades again
    try:
        users = {u.username: u.site for u in admin.list_users(registry, boss)}
        assert users == {"coordinator": None, "rad1": None}  # the site went with the column
        assert admin.verify_audit(registry).clean
    finally:
        registry.close()
