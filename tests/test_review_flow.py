"""The review flow on a real registry: assignment, blinding where data is read, discordance."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from adjudication.discordance import DiscordanceRules
from adjudication.vocabulary import ImagingJudgement, Role
from tests.actors import AUDITOR
from tests.test_reads import CASE, SHAPE_IJK, Setup, _setup
from workbench.domain import CaseStatus
from workbench.errors import NotFoundError, PermissionDeniedError, ValidationError
from workbench.importer import ParserSandbox
from workbench.reading_flow import after_submit, assign, fetch_read, reads_of_case
from workbench.reads import (
    LesionDraft,
    list_lesions,
    load_draft_labels,
    save_draft,
    start_or_resume_draft,
    submit_read,
)
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Case, Read
from workbench.users import Actor, add_user, resolve_actor

RULES = DiscordanceRules(min_lesion_ml=0.01, volume_fraction=0.5, min_dice=0.5)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ParserSandbox]:
    box = ParserSandbox()
    yield box
    box.close()


@dataclass(frozen=True)
class Flow:
    s: Setup
    outsider: Actor
    panel: Actor

    @property
    def registry(self) -> Registry:
        return self.s.registry


@pytest.fixture
def flow(registry: Registry, tmp_path: Path, sandbox: ParserSandbox) -> Flow:
    """A ready case with one series, readers 1 and 2, an unassigned reader 3, a panel member."""
    s = _setup(registry, tmp_path, sandbox, assign_readers=False)
    with registry.write() as session:
        add_user(session, "reader3", "Reader Three", {Role.READER}, by=s.coordinator)
        add_user(session, "panel1", "Panel One", {Role.PANEL}, by=s.coordinator)
        session.scalars(
            select(Case).where(Case.registry_id == CASE)
        ).one().status = CaseStatus.READY
        outsider, panel = resolve_actor(session, "reader3"), resolve_actor(session, "panel1")
    return Flow(s, outsider, panel)


def _status(registry: Registry) -> CaseStatus:
    with registry.read() as session:
        return session.scalars(select(Case.status).where(Case.registry_id == CASE)).one()


@dataclass(frozen=True)
class Event:
    actor: str
    after: dict[str, Any] | None


def _events(registry: Registry, action: str) -> list[Event]:
    with registry.read() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return [Event(row.actor, row.after) for row in rows]


def _assign_both(f: Flow) -> None:
    with f.registry.write() as session:
        assign(session, f.s.coordinator, CASE, ["reader1", "reader2"], Role.READER)
        assign(session, f.s.coordinator, CASE, ["panel1"], Role.PANEL)


def _box(lo: tuple[int, int, int], hi: tuple[int, int, int]) -> np.ndarray:
    labels = np.zeros(SHAPE_IJK, dtype=np.uint8)
    labels[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = 1
    return labels


def _read(
    f: Flow, actor: Actor, judgement: ImagingJudgement, labels: np.ndarray, *, submit: bool
) -> int:
    with f.registry.write() as session:
        read = start_or_resume_draft(session, actor, CASE)
        read = save_draft(
            session,
            actor,
            read.id,
            read.version,
            lesions=[LesionDraft(f.s.series_id, labels)],
            judgement=judgement,
        )
        if submit:
            read = submit_read(session, actor, read.id, read.version)
        return read.id


# --- assignment ----------------------------------------------------------------------------


def test_assignment_moves_a_ready_case_into_reading(flow: Flow) -> None:
    f = flow
    with f.registry.write() as session:
        assert len(assign(session, f.s.coordinator, CASE, ["reader1"], Role.READER)) == 1
    assert _status(f.registry) is CaseStatus.READY  # one reader of the two required
    with f.registry.write() as session:
        new = assign(session, f.s.coordinator, CASE, ["reader1", "reader2"], Role.READER)
        assert [a.user.username for a in new] == ["reader2"]  # reader1 was assigned already
    assert _status(f.registry) is CaseStatus.IN_READING
    assert [e.after for e in _events(f.registry, "case.assign")] == [
        {"user": "reader1", "role": "reader"},
        {"user": "reader2", "role": "reader"},
    ]
    (change,) = _events(f.registry, "case.status")
    assert change.after == {"status": "in_reading"}


def test_assignment_checks_roles(flow: Flow) -> None:
    f = flow
    with f.registry.write() as session:
        with pytest.raises(PermissionDeniedError, match="assign readers"):
            assign(session, f.s.reader, CASE, ["reader2"], Role.READER)
        with pytest.raises(ValidationError, match="panel role"):
            assign(session, f.s.coordinator, CASE, ["reader1"], Role.PANEL)
        with pytest.raises(ValidationError, match="reader role"):
            assign(session, f.s.coordinator, CASE, ["panel1"], Role.READER)
        with pytest.raises(ValidationError, match="reader or panel"):
            assign(session, f.s.coordinator, CASE, ["reader1"], Role.COORDINATOR)
        with pytest.raises(NotFoundError):
            assign(session, f.s.coordinator, CASE, ["nobody"], Role.READER)
        with pytest.raises(NotFoundError):
            assign(session, f.s.coordinator, "PML-9999", ["reader1"], Role.READER)
    assert _events(f.registry, "case.assign") == []


# --- blinding ------------------------------------------------------------------------------

Fetch = Callable[[Flow, Actor, int], Any]


def _fetch_read(f: Flow, actor: Actor, read_id: int) -> Any:
    with f.registry.read() as session:
        return fetch_read(session, actor, read_id)


def _reads_of_case(f: Flow, actor: Actor, read_id: int) -> Any:
    with f.registry.read() as session:
        return reads_of_case(session, actor, CASE)


def _list_lesions(f: Flow, actor: Actor, read_id: int) -> Any:
    with f.registry.read() as session:
        return list_lesions(session, actor, read_id)


def _load_labels(f: Flow, actor: Actor, read_id: int) -> Any:
    with f.registry.read() as session:
        return load_draft_labels(session, actor, read_id, f.s.series_id)


FETCHES: dict[str, Fetch] = {
    "fetch_read": _fetch_read,
    "reads_of_case": _reads_of_case,
    "list_lesions": _list_lesions,
    "load_draft_labels": _load_labels,
}


@pytest.mark.parametrize("how", sorted(FETCHES))
def test_blinding_for_every_way_a_read_is_fetched(flow: Flow, how: str) -> None:
    f = flow
    fetch = FETCHES[how]
    _assign_both(f)
    first = _read(f, f.s.reader, ImagingJudgement.YES, _box((2, 3, 1), (6, 7, 4)), submit=True)
    second = _read(
        f, f.s.other_reader, ImagingJudgement.NO, _box((2, 3, 1), (6, 7, 4)), submit=False
    )

    # Before reader 2 submits: nobody but reader 1 sees reader 1's read. Reader 2 may list
    # the case's reads, but the list holds only their own.
    for early in (f.s.other_reader, f.outsider, f.panel):
        if how == "reads_of_case" and early is f.s.other_reader:
            assert [v.id for v in fetch(f, early, first)] == [second]
            continue
        with pytest.raises(PermissionDeniedError):
            fetch(f, early, first)
    # Reader 1 has submitted, but may not peek at reader 2's draft either.
    with pytest.raises(PermissionDeniedError):
        _fetch_read(f, f.s.reader, second)
    # The coordinator sees status only: no judgement, no lesions, no masks.
    if how in ("list_lesions", "load_draft_labels"):
        with pytest.raises(PermissionDeniedError):
            fetch(f, f.s.coordinator, first)
    else:
        seen = fetch(f, f.s.coordinator, first)
        views = seen if isinstance(seen, list) else [seen]
        if how == "reads_of_case":
            assert [v.status.value for v in views] == ["submitted", "draft"]
        for view in views:
            assert view.blinded
            assert view.judgement is None
            assert view.lesions == ()
    # Everyone sees their own work.
    assert fetch(f, f.s.reader, first) is not None
    if how == "reads_of_case":  # reader 1's submitted read is in the list: refused as a whole
        with f.registry.read() as session:
            (mine,) = reads_of_case(session, f.s.reader, CASE)
            assert mine.id == first
    else:
        assert fetch(f, f.s.other_reader, second) is not None

    with f.registry.write() as session:
        read = fetch_read(session, f.s.other_reader, second)
        submit_read(session, f.s.other_reader, second, _version(session, second))
        assert read.judgement == "no"

    # All reads in: readers of the case, the panel and the coordinator see them in full.
    for late in (f.s.other_reader, f.s.reader, f.panel, f.s.coordinator):
        seen = fetch(f, late, first)
        if how == "fetch_read":
            assert seen.judgement == "yes"
            assert len(seen.lesions) == 1
        elif how == "reads_of_case":
            assert [v.judgement for v in seen] == ["yes", "no"]
        elif how == "list_lesions":
            assert len(seen) == 1
        else:
            assert int(np.count_nonzero(seen)) == 4 * 4 * 3
    # A reader who is not assigned to the case never sees it.
    with pytest.raises(PermissionDeniedError):
        fetch(f, f.outsider, first)


def _version(session: Session, read_id: int) -> int:
    read = session.get(Read, read_id)
    assert read is not None
    return read.version


def test_reads_of_case_refuses_an_unassigned_reader_even_with_nothing_submitted(
    flow: Flow,
) -> None:
    f = flow
    _assign_both(f)
    with f.registry.read() as session:
        with pytest.raises(PermissionDeniedError):
            reads_of_case(session, f.outsider, CASE)
        with pytest.raises(PermissionDeniedError):
            reads_of_case(session, f.panel, CASE)
        assert reads_of_case(session, f.s.reader, CASE) == []


# --- discordance ---------------------------------------------------------------------------


def test_different_judgements_make_the_case_discordant(flow: Flow) -> None:
    f = flow
    _assign_both(f)
    lesion = _box((2, 3, 1), (6, 7, 4))
    _read(f, f.s.reader, ImagingJudgement.YES, lesion, submit=True)
    with f.registry.write() as session:
        assert (
            after_submit(session, CASE, RULES, actor=f.s.coordinator) is None
        )  # reader 2 is still reading
    assert _status(f.registry) is CaseStatus.IN_READING
    _read(f, f.s.other_reader, ImagingJudgement.EQUIVOCAL, lesion, submit=True)
    with f.registry.write() as session:
        result = after_submit(session, CASE, RULES, actor=f.s.other_reader)
    assert result is not None
    assert result.discordant
    assert result.fired == ("judgement",)
    assert result.spatial
    assert _status(f.registry) is CaseStatus.DISCORDANT
    (event,) = _events(f.registry, "case.discordance")
    assert event.actor == "reader2"
    assert event.after is not None
    assert event.after["fired"] == ["judgement"]
    assert event.after["findings"][0]["values"] == {"reader1": "yes", "reader2": "equivocal"}
    with f.registry.write() as session:
        assert after_submit(session, CASE, RULES, actor=f.s.coordinator) is None  # assessed once


def test_concordant_reads_go_to_adjudication(flow: Flow) -> None:
    f = flow
    _assign_both(f)
    _read(f, f.s.reader, ImagingJudgement.YES, _box((2, 3, 1), (6, 7, 4)), submit=True)
    _read(f, f.s.other_reader, ImagingJudgement.YES, _box((2, 3, 1), (6, 7, 3)), submit=True)
    with f.registry.write() as session:
        result = after_submit(session, CASE, RULES, actor=f.s.coordinator)
    assert result is not None
    assert result.concordant
    assert _status(f.registry) is CaseStatus.IN_ADJUDICATION
    (event,) = _events(f.registry, "case.discordance")
    assert event.after is not None
    assert event.after["discordant"] is False
    assert event.actor == f.s.coordinator.username  # who triggered it, never anonymous


def test_a_case_with_one_required_reader_goes_to_the_panel_on_its_read(flow: Flow) -> None:
    f = flow
    with f.registry.write() as session:
        case = session.scalars(select(Case).where(Case.registry_id == CASE)).one()
        case.readers_required = 1
        audit.record(
            session,
            actor=f.s.coordinator.username,
            role="coordinator",
            action="case.edit",
            entity_type="case",
            entity_id=CASE,
            after={"readers_required": 1},
        )
    with f.registry.write() as session:
        assign(session, f.s.coordinator, CASE, ["reader1"], Role.READER)
    assert _status(f.registry) is CaseStatus.IN_READING
    _read(f, f.s.reader, ImagingJudgement.YES, _box((2, 3, 1), (6, 7, 4)), submit=True)
    with f.registry.write() as session:
        assert after_submit(session, CASE, RULES, actor=f.s.reader) is None
    assert _status(f.registry) is CaseStatus.IN_ADJUDICATION
    assert _events(f.registry, "case.discordance") == []  # nothing to compare a read with


def test_lesions_far_apart_are_discordant_by_mask(flow: Flow) -> None:
    f = flow
    _assign_both(f)
    _read(f, f.s.reader, ImagingJudgement.YES, _box((0, 0, 0), (4, 4, 3)), submit=True)
    _read(f, f.s.other_reader, ImagingJudgement.YES, _box((14, 18, 8), (18, 22, 11)), submit=True)
    with f.registry.write() as session:
        result = after_submit(session, CASE, RULES, actor=f.s.coordinator)
    assert result is not None
    assert result.fired == ("detection", "dice")
    assert _status(f.registry) is CaseStatus.DISCORDANT


def test_the_assessment_is_stored_as_a_row_with_what_the_audit_event_records(
    flow: Flow,
) -> None:
    from workbench.panel import latest_discordance
    from workbench.registry.models import DiscordanceAssessment, User

    f = flow
    _assign_both(f)
    first = _read(f, f.s.reader, ImagingJudgement.YES, _box((0, 0, 0), (4, 4, 3)), submit=True)
    with f.registry.read() as session:
        assert latest_discordance(session, AUDITOR, CASE) is None  # not assessed yet
    second = _read(
        f, f.s.other_reader, ImagingJudgement.NO, _box((14, 18, 8), (18, 22, 11)), submit=True
    )
    with f.registry.write() as session:
        after_submit(session, CASE, RULES, actor=f.s.other_reader)
    (event,) = _events(f.registry, "case.discordance")
    with f.registry.read() as session:
        (row,) = session.scalars(select(DiscordanceAssessment))
        reader2 = session.scalars(select(User.id).where(User.username == "reader2")).one()
        assert row.assessed_by_id == reader2
        assert row.read_ids == [first, second]
        assert (row.discordant, row.spatial) == (True, True)
        assert row.fired == ["judgement", "detection", "dice"]
        assert row.rules == RULES.as_dict()
        assert row.as_dict() == event.after
        assert latest_discordance(session, AUDITOR, CASE) == event.after
        assert (
            latest_discordance(session, AUDITOR, "PML-0002") is None
        )  # another case's is not this one


def test_the_newest_assessment_of_the_case_is_the_one_in_force(flow: Flow) -> None:
    """A correction adds a second row that wins; the rows, not the audit events, are read."""
    from workbench.panel import latest_discordance
    from workbench.reading_flow import start_correction, submit
    from workbench.registry.models import DiscordanceAssessment
    from workbench.review_config import ReviewConfig

    f = flow
    _assign_both(f)
    lesion = _box((2, 3, 1), (6, 7, 4))
    first = _read(f, f.s.reader, ImagingJudgement.YES, lesion, submit=True)
    draft = _read(f, f.s.other_reader, ImagingJudgement.EQUIVOCAL, lesion, submit=False)
    config = ReviewConfig(discordance=RULES)
    with f.registry.write() as session:
        submit(session, f.s.other_reader, draft, _version(session, draft), config=config)
    assert _status(f.registry) is CaseStatus.DISCORDANT
    with f.registry.write() as session:
        correction = start_correction(session, f.s.reader, first, "Misread the DWI; equivocal.")
        correction = save_draft(
            session,
            f.s.reader,
            correction.id,
            correction.version,
            lesions=[LesionDraft(f.s.series_id, lesion)],
            judgement=ImagingJudgement.EQUIVOCAL,
        )
        submit(session, f.s.reader, correction.id, correction.version, config=config)
    assert _status(f.registry) is CaseStatus.IN_ADJUDICATION
    events = _events(f.registry, "case.discordance")
    with f.registry.read() as session:
        rows = list(
            session.scalars(select(DiscordanceAssessment).order_by(DiscordanceAssessment.id))
        )
        assert [row.as_dict() for row in rows] == [event.after for event in events]
        assert [row.discordant for row in rows] == [True, False]
        assert latest_discordance(session, AUDITOR, CASE) == events[-1].after
    # A newer row with no audit event beside it: the row is what the workbench reads.
    with f.registry.write() as session:
        case_id = session.scalars(select(Case.id).where(Case.registry_id == CASE)).one()
        session.add(
            DiscordanceAssessment(
                case_id=case_id,
                read_ids=[9999],
                discordant=True,
                spatial=False,
                fired=["volume"],
                rules=RULES.as_dict(),
                findings=[],
            )
        )
    with f.registry.read() as session:
        latest = latest_discordance(session, AUDITOR, CASE)
    assert latest is not None
    assert (latest["reads"], latest["fired"], latest["spatial"]) == ([9999], ["volume"], False)


def test_a_reader_not_assigned_to_the_case_cannot_start_a_read(flow: Flow) -> None:
    f = flow
    _assign_both(f)
    with (
        f.registry.write() as session,
        pytest.raises(PermissionDeniedError, match="not assigned to read it"),
    ):
        start_or_resume_draft(session, f.outsider, CASE)
    with f.registry.read() as session:
        assert session.scalars(select(Read)).first() is None
