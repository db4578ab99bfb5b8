"""Tamper evidence that reaches the data: audit events carry row hashes, verify reconciles.

A chain that holds proves only that the trail was not edited. Someone with access to the
database can still make a decision final, insert a signature or an administrator role, or
edit a submitted read without touching the trail; ``audit verify`` must name each such row.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, delete, func, inspect, select, text
from sqlalchemy.orm import Session

from adjudication.audit import GENESIS_HASH, event_hash
from adjudication.consensus import Proposal
from adjudication.discordance import DiscordanceRules
from adjudication.vocabulary import Certainty, ImagingJudgement, Role
from tests import test_pg_identity as members
from tests.tamper import out_of_band
from tests.test_reads import CASE, SHAPE_IJK, Setup, _setup
from tests.test_review_flow import sandbox  # noqa: F401 - the module-scoped parser fixture
from workbench.cases import NewCase, create_case
from workbench.cli import main
from workbench.domain import CaseStatus, Condition, Sex
from workbench.importer import ParserSandbox
from workbench.panel import propose_decision, sign_decision
from workbench.reading_flow import assign, submit
from workbench.reads import LesionDraft, save_draft, start_or_resume_draft
from workbench.registry import audit, reconcile, rowhash
from workbench.registry.db import Registry, _alembic_config, create_registry_engine
from workbench.registry.models import (
    AuditEvent,
    Base,
    Case,
    CaseAssignment,
    Signature,
    User,
)
from workbench.review_config import ReviewConfig
from workbench.services import admin
from workbench.users import Actor, add_user, resolve_actor, set_password

CONFIG = ReviewConfig(
    discordance=DiscordanceRules(min_lesion_ml=0.01, volume_fraction=0.5, min_dice=0.5),
    signatures_required=2,
)
PASSWORD = {"panel1": "first-secret", "panel2": "second-secret"}
OTHER_CASE = "PML-0002"
login_role = members.login_role  # the fixtures of the tests of database members, used here too
world = members.world


@dataclass(frozen=True)
class Reviewed:
    """A case read by two readers and decided by two panel members, and a change pending."""

    s: Setup
    panel1: Actor
    panel2: Actor
    reads: tuple[int, int]
    final: int
    """The final decision (two signatures)."""
    pending: int
    """A change of it, proposed and not yet signed."""

    @property
    def registry(self) -> Registry:
        return self.s.registry


def _read(registry: Registry, actor: Actor, series_id: int, judgement: ImagingJudgement) -> int:
    labels = np.zeros(SHAPE_IJK, dtype=np.uint8)
    labels[2:6, 3:7, 1:4] = 1
    with registry.write() as session:
        read = start_or_resume_draft(session, actor, CASE)
        read = save_draft(
            session,
            actor,
            read.id,
            read.version,
            lesions=[LesionDraft(series_id, labels)],
            judgement=judgement,
        )
        read, _ = submit(session, actor, read.id, read.version, config=CONFIG)
        return read.id


def _sign(registry: Registry, actor: Actor, decision_id: int) -> None:
    with registry.write() as session:
        sign_decision(session, actor, decision_id, PASSWORD[actor.username], config=CONFIG)


@pytest.fixture
def reviewed(registry: Registry, tmp_path: Path, sandbox: ParserSandbox) -> Reviewed:  # noqa: F811
    """Case PML-0001 through the whole review; PML-0002 only entered."""
    s = _setup(registry, tmp_path, sandbox, assign_readers=False)
    with registry.write() as session:
        for name, printed in (("panel1", "Dr Panel One"), ("panel2", "Dr Panel Two")):
            add_user(
                session, name, printed, {Role.PANEL}, by=s.coordinator, password=PASSWORD[name]
            )
        case = session.scalars(select(Case).where(Case.registry_id == CASE)).one()
        case.status = CaseStatus.READY  # flushed and hashed with the assignment's event
        assign(session, s.coordinator, CASE, ["reader1", "reader2"], Role.READER)
        assign(session, s.coordinator, CASE, ["panel1", "panel2"], Role.PANEL)
        panel1, panel2 = (resolve_actor(session, n) for n in ("panel1", "panel2"))
    reads = (
        _read(registry, s.reader, s.series_id, ImagingJudgement.YES),
        _read(registry, s.other_reader, s.series_id, ImagingJudgement.EQUIVOCAL),
    )
    why = "Reads disagree; need PCR."
    with registry.write() as session:
        final = propose_decision(
            session, panel1, CASE, Proposal(Certainty.NOT_CLASSIFIABLE, None, why)
        ).id
    _sign(registry, panel1, final)
    _sign(registry, panel2, final)
    with registry.write() as session:
        pending = propose_decision(
            session,
            panel2,
            CASE,
            Proposal(Certainty.NOT_CLASSIFIABLE, None, "Still no PCR; wording clarified."),
            change_reason="clearer rationale",
        ).id
    return Reviewed(s, panel1, panel2, reads, final, pending)


def _events(registry: Registry) -> list[Any]:
    """Every audit event, as plain rows (they outlive the session)."""
    table = AuditEvent.__table__
    with registry.read() as session:
        return list(session.execute(select(table).order_by(table.c.id)))


def _last_recording(registry: Registry, table: str, row_id: object) -> int:
    """The id of the last event whose rows name the row (computed here, not by the code)."""
    found = [
        e.id
        for e in _events(registry)
        for entry in e.rows or []
        if (entry["table"], entry["id"]) == (table, row_id)
    ]
    assert found, f"no event recorded {table} row {row_id}"
    return found[-1]


def _id(registry: Registry, statement: Any) -> int:
    with registry.read() as session:
        return int(session.scalars(statement).one())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- A normal workflow ------------------------------------------------------------------------


def test_a_normal_review_verifies_clean(
    reviewed: Reviewed, registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r = reviewed
    check = admin.verify_audit(r.registry)
    assert check.intact
    assert check.findings == ()
    assert check.clean
    # Every guarded row of the registry is in the trail with its live hash.
    with r.registry.read() as session:
        folded = reconcile.fold_trail(session)
        live = {t: dict(rowhash.live_rows(session, t)) for t in rowhash.GUARDED}
        signatures = session.scalar(select(func.count()).select_from(Signature))
    assert signatures == 2
    for table, rows in live.items():
        guarded = {row_id: digest for row_id, digest in rows.items() if digest is not None}
        assert guarded, f"the workflow wrote no {table} row"
        assert {k: v[0] for k, v in folded[table].items() if k in guarded} == guarded
    # The final decision's event carries the hashes of the decision and the case it made final.
    (final_event,) = [e for e in _events(r.registry) if e.action == "adjudication.final"]
    assert final_event.rows is not None
    named = {(entry["table"], entry["id"]) for entry in final_event.rows}
    assert ("adjudications", r.final) in named
    assert ("cases", _id(r.registry, select(Case.id).where(Case.registry_id == CASE))) in named
    code, out, err = _run(capsys, "--db", registry_url, "audit", "verify")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "guarded rows match the audit trail"


def test_draft_reads_are_not_guarded_until_submitted(reviewed: Reviewed, registry_url: str) -> None:
    """A draft is saved without an event; its row is in no event, and verify does not mind."""
    r = reviewed
    with r.registry.write() as session:
        add_user(session, "reader3", "Reader Three", {Role.READER}, by=r.s.coordinator)
        create_case(
            session,
            r.s.coordinator,
            NewCase("PML-0003", "NL-AMS", Sex.MALE, "30-39", Condition.HIV),
        )
        session.scalars(
            select(Case).where(Case.registry_id == "PML-0003")
        ).one().status = CaseStatus.READY
        assign(session, r.s.coordinator, "PML-0003", ["reader3"], Role.READER)
        reader3 = resolve_actor(session, "reader3")
    with r.registry.write() as session:
        draft = start_or_resume_draft(session, reader3, "PML-0003")
        save_draft(
            session, reader3, draft.id, draft.version, lesions=[], judgement=ImagingJudgement.NO
        )
    with r.registry.read() as session:
        folded = reconcile.fold_trail(session)
    assert draft.id not in folded["reads"]
    assert admin.verify_audit(r.registry).findings == ()
    # A draft edited behind the application's back is still nobody's business but its reader's.
    with out_of_band(registry_url) as conn:
        conn.execute(text("UPDATE reads SET comment = 'x' WHERE id = :id"), {"id": draft.id})
    assert admin.verify_audit(r.registry).findings == ()
    # A submitted read turned back into a draft is not.
    with out_of_band(registry_url) as conn:
        conn.execute(text("UPDATE reads SET status = 'draft' WHERE id = :id"), {"id": r.reads[0]})
    (finding,) = admin.verify_audit(r.registry).findings
    assert (finding.table, finding.row_id) == ("reads", r.reads[0])
    assert finding.problem.startswith("changed since audit event #")


# --- Tampering behind the application's back --------------------------------------------------


def _tamper(conn: Connection, r: Reviewed) -> dict[tuple[str, object], str]:
    """Tamper with each kind of guarded row as someone typing SQL would; return what verify
    must say of each row, ``{(table, row id): problem}``."""
    registry = r.registry
    user = {
        name: _id(registry, select(User.id).where(User.username == name))
        for name in ("coordinator", "reader1", "panel2")
    }
    other_case = _id(registry, select(Case.id).where(Case.registry_id == OTHER_CASE))
    first_signature = _id(
        registry,
        select(Signature.id)
        .where(Signature.adjudication_id == r.final)
        .order_by(Signature.id)
        .limit(1),
    )
    # A decision made final without its signatures.
    conn.execute(
        text("UPDATE adjudications SET is_final = :yes WHERE id = :id"),
        {"yes": True, "id": r.pending},
    )
    # A signature inserted for it.
    conn.execute(
        text(
            "INSERT INTO signatures (adjudication_id, user_id, printed_name, meaning, signed_at) "
            "VALUES (:decision, :user, 'Dr Panel Two', 'approved', :at)"
        ),
        {"decision": r.pending, "user": user["panel2"], "at": dt.datetime(2026, 1, 1)},
    )
    inserted_signature = conn.scalar(select(func.max(Signature.id)))
    # An administrator role given to a reader.
    conn.execute(
        text("INSERT INTO user_roles (user_id, role) VALUES (:user, 'admin')"),
        {"user": user["reader1"]},
    )
    # A submitted read's judgement edited.
    conn.execute(
        text("UPDATE reads SET imaging_judgement = 'no' WHERE id = :id"), {"id": r.reads[0]}
    )
    # A reader assigned to another case.
    conn.execute(
        text(
            "INSERT INTO reader_assignments (case_id, user_id, role, assigned_at, assigned_by_id) "
            "VALUES (:case, :user, 'reader', :at, :by)"
        ),
        {
            "case": other_case,
            "user": user["reader1"],
            "at": dt.datetime(2026, 1, 1),
            "by": user["coordinator"],
        },
    )
    inserted_assignment = conn.scalar(select(func.max(CaseAssignment.id)))
    # A case's status changed.
    conn.execute(text("UPDATE cases SET status = 'final' WHERE id = :id"), {"id": other_case})
    # A user's password hash replaced (whoever knows the new password can sign as them).
    conn.execute(
        text("UPDATE users SET password_hash = :hash WHERE id = :id"),
        {"hash": "scrypt$16384$8$1$" + "00" * 16 + "$" + "11" * 32, "id": user["panel2"]},
    )
    # A signature deleted.
    conn.execute(delete(Signature).where(Signature.id == first_signature))

    def changed(table: str, row_id: object) -> str:
        return f"changed since audit event #{_last_recording(registry, table, row_id)}"

    deleted_at = _last_recording(registry, "signatures", first_signature)
    return {
        ("adjudications", r.pending): changed("adjudications", r.pending),
        ("signatures", inserted_signature): "not in the audit trail",
        ("user_roles", f"{user['reader1']}:admin"): "not in the audit trail",
        ("reads", r.reads[0]): changed("reads", r.reads[0]),
        ("reader_assignments", inserted_assignment): "not in the audit trail",
        ("cases", other_case): changed("cases", other_case),
        ("users", user["panel2"]): changed("users", user["panel2"]),
        ("signatures", first_signature): (
            f"deleted behind the application's back (last recorded at audit event #{deleted_at})"
        ),
    }


def test_tampering_with_guarded_rows_is_reported_row_by_row(
    reviewed: Reviewed, registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r = reviewed
    events_before = len(_events(r.registry))
    with out_of_band(registry_url) as conn:
        expected = _tamper(conn, r)
    check = admin.verify_audit(r.registry)
    assert check.intact  # the trail itself was not touched: the chain alone is fooled
    assert check.events == events_before
    assert not check.clean
    assert {(f.table, f.row_id): f.problem for f in check.findings} == expected
    assert len(check.findings) == len(expected)  # each row once

    code, out, err = _run(capsys, "--db", registry_url, "audit", "verify")
    assert code == 1
    assert out.splitlines()[0] == f"audit chain intact: {events_before} event(s)"
    lines = err.splitlines()
    for (table, row_id), problem in expected.items():
        assert f"error: {table} row {row_id}: {problem}" in lines
    assert lines[-1].startswith(f"error: {len(expected)} row(s) do not match the audit trail")
    assert len(lines) == len(expected) + 1


def test_a_row_changed_and_changed_back_verifies_again(
    reviewed: Reviewed, registry_url: str
) -> None:
    r = reviewed
    with out_of_band(registry_url) as conn:
        conn.execute(
            text("UPDATE adjudications SET rationale = 'edited' WHERE id = :id"), {"id": r.final}
        )
    assert [(f.table, f.row_id) for f in admin.verify_audit(r.registry).findings] == [
        ("adjudications", r.final)
    ]
    with out_of_band(registry_url) as conn:
        conn.execute(
            text("UPDATE adjudications SET rationale = :why WHERE id = :id"),
            {"why": "Reads disagree; need PCR.", "id": r.final},
        )
    assert admin.verify_audit(r.registry).clean


@pytest.mark.postgres
def test_a_member_of_the_application_role_records_and_verifies_row_hashes(
    world: members.World,
) -> None:
    """Connected as a database role mapped to panel1, who may read no one's password hash but
    their own: the row hashes still cover every user's, through its digest, and a password
    written by the database's own function is hashed too (it is not the ORM's write)."""
    member = Registry.open(world.member_url)
    try:
        decision_id = members._propose_as(member)
        with member.write() as session:
            actor = resolve_actor(session, "panel1")
            sign_decision(
                session, actor, decision_id, members.PANEL_PASSWORD, config=members.CONFIG
            )
        with member.write() as session:
            actor = resolve_actor(session, "panel1")
            set_password(session, actor, "panel1", "a-new-secret", current=members.PANEL_PASSWORD)
        changed = _events(member)[-1]
        assert changed.action == "user.password_set"
        panel1 = _id(member, select(User.id).where(User.username == "panel1"))
        assert ("users", panel1) in {(e["table"], e["id"]) for e in changed.rows or []}
        assert admin.verify_audit(member).clean
        assert admin.verify_audit(world.owner).clean
        with out_of_band(world.url) as conn:
            conn.execute(
                text("UPDATE users SET password_hash = 'scrypt$forged' WHERE username = 'panel2'")
            )
        panel2 = _id(member, select(User.id).where(User.username == "panel2"))
        (finding,) = admin.verify_audit(member).findings
        assert (finding.table, finding.row_id) == ("users", panel2)
        assert finding.problem.startswith("changed since audit event #")
    finally:
        member.close()


# --- Every write path records what it wrote ---------------------------------------------------


def test_an_event_carries_the_hash_of_the_row_it_wrote(
    registry: Registry, coordinator: Actor
) -> None:
    with registry.write() as session:
        create_case(session, coordinator, NewCase("PML-1", "S1", Sex.MALE, "20-29", Condition.HIV))
    last = _events(registry)[-1]
    assert last.action == "case.create"
    with registry.read() as session:
        case_id = session.scalars(select(Case.id).where(Case.registry_id == "PML-1")).one()
        ((_, live),) = list(rowhash.live_rows(session, "cases", [case_id]))
    assert last.rows == [{"table": "cases", "id": case_id, "hash": live}]
    assert live == rowhash.row_hash(
        "cases", case_id, {"registry_id": "PML-1", "status": CaseStatus.INCOMPLETE}
    )


def test_a_change_after_the_last_event_gets_an_event_of_its_own(
    registry: Registry, coordinator: Actor
) -> None:
    with registry.write() as session:
        create_case(session, coordinator, NewCase("PML-1", "S1", Sex.MALE, "20-29", Condition.HIV))
        case = session.scalars(select(Case).where(Case.registry_id == "PML-1")).one()
        case.status = CaseStatus.READY  # after the event, never flushed before the commit
    *_, created, rows = _events(registry)
    assert (created.action, rows.action) == ("case.create", audit.ROWS_ACTION)
    assert (
        (rows.actor, rows.role) == (created.actor, created.role) == ("coordinator", "coordinator")
    )
    assert rows.entity_type == "audit"
    assert [(e["table"], e["id"]) for e in rows.rows or []] == [("cases", case.id)]
    assert admin.verify_audit(registry).clean


def test_a_transaction_that_audits_nothing_may_not_change_a_guarded_row(
    registry: Registry, coordinator: Actor
) -> None:
    with registry.write() as session:
        create_case(session, coordinator, NewCase("PML-1", "S1", Sex.MALE, "20-29", Condition.HIV))
    events = len(_events(registry))
    with (
        pytest.raises(RuntimeError, match=r"recorded no audit event: cases row \d+"),
        registry.write() as session,
    ):
        session.scalars(
            select(Case).where(Case.registry_id == "PML-1")
        ).one().status = CaseStatus.FINAL
    with registry.read() as session:
        status = session.scalars(select(Case.status).where(Case.registry_id == "PML-1")).one()
    assert status is CaseStatus.INCOMPLETE  # nothing was written
    assert len(_events(registry)) == events


def test_orm_bulk_deletes_and_database_cascades_are_recorded(
    registry: Registry, coordinator: Actor
) -> None:
    """Rows deleted by an ORM ``delete()`` or by ``ON DELETE CASCADE`` get hash ``None``."""
    with registry.write() as session:
        for name in ("reader1", "reader2"):
            add_user(session, name, name.title(), {Role.READER}, by=coordinator)
        for registry_id in ("PML-1", "PML-2"):
            create_case(
                session, coordinator, NewCase(registry_id, "S1", Sex.MALE, "20-29", Condition.HIV)
            )
            session.scalars(
                select(Case).where(Case.registry_id == registry_id)
            ).one().status = CaseStatus.READY
            assign(session, coordinator, registry_id, ["reader1", "reader2"], Role.READER)
    with registry.read() as session:
        assignments = dict(
            session.execute(
                select(CaseAssignment.id, Case.registry_id).join(
                    Case, Case.id == CaseAssignment.case_id
                )
            ).all()
        )
        second = session.scalars(select(Case.id).where(Case.registry_id == "PML-2")).one()
    assert len(assignments) == 4
    with registry.write() as session:
        session.execute(
            delete(CaseAssignment).where(
                CaseAssignment.id.in_([a for a, c in assignments.items() if c == "PML-1"])
            )
        )
        audit.record(
            session,
            actor="coordinator",
            role="coordinator",
            action="case.unassign",
            entity_type="case",
            entity_id="PML-1",
        )
    unassign = _events(registry)[-1]
    assert sorted(e["id"] for e in unassign.rows or [] if e["hash"] is None) == sorted(
        a for a, c in assignments.items() if c == "PML-1"
    )
    with registry.write() as session:
        audit.record(
            session,
            actor="coordinator",
            role="coordinator",
            action="case.delete",
            entity_type="case",
            entity_id="PML-2",
        )
        session.delete(session.scalars(select(Case).where(Case.registry_id == "PML-2")).one())
    rows = _events(registry)[-1]
    assert rows.action == audit.ROWS_ACTION
    assert {(e["table"], e["id"], e["hash"]) for e in rows.rows or []} == {
        ("cases", second, None),
        *(("reader_assignments", a, None) for a, c in assignments.items() if c == "PML-2"),
    }
    assert admin.verify_audit(registry).clean


# --- The hashes themselves ----------------------------------------------------------------


def _kind(column_type: sa.types.TypeEngine[Any]) -> rowhash.Kind:
    for python, kind in (
        (sa.Boolean, rowhash.Kind.BOOL),
        (sa.DateTime, rowhash.Kind.TIME),
        (sa.JSON, rowhash.Kind.JSON),
        (sa.Integer, rowhash.Kind.INT),
        (sa.String, rowhash.Kind.TEXT),  # Text and Enum too
    ):
        if isinstance(column_type, python):
            return kind
    raise AssertionError(f"no kind for {column_type!r}")


def test_the_guarded_columns_exist_with_the_kind_the_hash_expects() -> None:
    for name, guarded in rowhash.GUARDED.items():
        table = Base.metadata.tables[name]
        assert [c.name for c in table.primary_key.columns] == list(guarded.key)
        for column, kind in guarded.columns.items():
            assert _kind(table.c[column].type) is kind, (name, column)


def test_a_row_hash_is_canonical() -> None:
    values = {"registry_id": "PML-1", "status": CaseStatus.READY}
    same = {"registry_id": "PML-1", "status": "ready", "updated_at": dt.datetime.now()}
    assert rowhash.row_hash("cases", 1, values) == rowhash.row_hash("cases", 1, same)
    assert rowhash.row_hash("cases", 1, values) != rowhash.row_hash("cases", 2, values)
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 6)
    signature = {
        "adjudication_id": 1,
        "user_id": 2,
        "printed_name": "Dr X",
        "meaning": "approved",
        "signed_at": when,
    }
    aware = {**signature, "signed_at": when.replace(tzinfo=dt.UTC).astimezone(
        dt.timezone(dt.timedelta(hours=2))
    )}  # fmt: skip
    assert rowhash.row_hash("signatures", 1, signature) == rowhash.row_hash("signatures", 1, aware)
    assert re.fullmatch(r"[0-9a-f]{64}", rowhash.row_hash("signatures", 1, signature))


# --- Upgrading a registry that has data ---------------------------------------------------


def _registry_at_0005_with_data(url: str) -> dict[str, set[object]]:
    """A registry at revision 0005 with guarded rows and a trail that names none of them."""
    from alembic import command

    engine = create_registry_engine(url)
    with engine.connect() as conn:
        command.upgrade(_alembic_config(conn), "0005")
        conn.commit()
    at = {"at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "yes": True, "no": False}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, code, name, version) VALUES (1, 'S', 'S', 1)"))
        for user_id, name, role in ((1, "coord", "coordinator"), (2, "reader1", "reader")):
            conn.execute(
                text(
                    "INSERT INTO users (id, username, display_name, password_hash, active, "
                    "must_change_password, created_at, version) "
                    "VALUES (:id, :name, :name, 'scrypt$x', :yes, :no, :at, 1)"
                ),
                {"id": user_id, "name": name, **at},
            )
            conn.execute(
                text("INSERT INTO user_roles (user_id, role) VALUES (:id, :role)"),
                {"id": user_id, "role": role},
            )
        conn.execute(
            text(
                "INSERT INTO cases (id, registry_id, site_id, sex, age_band, condition, "
                "index_event, clinical_consistent, outcome, status, readers_required, "
                "created_at, updated_at, version) VALUES (1, 'PML-1', 1, 'male', '20-29', "
                "'hiv', 'x', 'present', 'unknown', 'in_reading', 2, :at, :at, 1)"
            ),
            at,
        )
        conn.execute(
            text(
                "INSERT INTO reader_assignments (id, case_id, user_id, role, assigned_at, "
                "assigned_by_id) VALUES (1, 1, 2, 'reader', :at, 1)"
            ),
            at,
        )
        for read_id, status, submitted in ((1, "submitted", at["at"]), (2, "draft", None)):
            conn.execute(
                text(
                    "INSERT INTO reads (id, case_id, reader_id, revision, status, "
                    "imaging_judgement, confidence, features, created_at, updated_at, "
                    "submitted_at, version) VALUES (:id, 1, 2, :id, :status, 'yes', 4, "
                    "'{\"x\": 0.1}', :at, :at, :submitted, 1)"
                ),
                {"id": read_id, "status": status, "submitted": submitted, **at},
            )
        conn.execute(
            text(
                "INSERT INTO adjudications (id, case_id, certainty, engine_version, "
                "engine_result, is_final, created_by_id, created_at, version) "
                "VALUES (7, 1, 'probable', 'aan2013', '{\"a\": [1, 2.5]}', :no, 1, :at, 1)"
            ),
            at,
        )
        conn.execute(
            text(
                "INSERT INTO signatures (id, adjudication_id, user_id, printed_name, meaning, "
                "signed_at) VALUES (3, 7, 1, 'coord', 'approved', :at)"
            ),
            at,
        )
    # Events as revision 0005 recorded them: without row hashes.
    with Session(engine) as session, session.begin():
        for n in range(2):
            audit.record(
                session,
                actor="coord",
                role="coordinator",
                action="case.note",
                entity_type="case",
                entity_id=f"PML-{n}",
            )
    engine.dispose()
    return {
        "users": {1, 2},
        "user_roles": {"1:coordinator", "2:reader"},
        "cases": {1},
        "reader_assignments": {1},
        "reads": {1},  # not the draft
        "adjudications": {7},
        "signatures": {3},
    }


def test_upgrading_appends_a_baseline_that_verifies_clean(
    registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = _registry_at_0005_with_data(registry_url)
    registry = Registry.open(registry_url)
    try:
        events = _events(registry)
        assert [e.action for e in events] == ["case.note", "case.note", "audit.baseline"]
        assert [e.rows for e in events[:2]] == [None, None]
        baseline = events[-1]
        assert (baseline.actor, baseline.role, baseline.entity_type) == (
            "workbench",
            "migration",
            "audit",
        )
        assert baseline.prev_hash == events[1].hash
        named: dict[str, set[object]] = {}
        for entry in baseline.rows or []:
            assert re.fullmatch(r"[0-9a-f]{64}", entry["hash"])
            named.setdefault(entry["table"], set()).add(entry["id"])
        assert named == expected
        check = admin.verify_audit(registry)
        assert (check.events, check.intact, check.findings) == (3, True, ())
        # The baseline's hashes are the application's: a change made through it verifies, one
        # made behind its back is named against the baseline.
        with out_of_band(registry_url) as conn:
            conn.execute(
                text("UPDATE adjudications SET is_final = :yes WHERE id = 7"), {"yes": True}
            )
        (finding,) = admin.verify_audit(registry).findings
        assert (finding.table, finding.row_id, finding.problem) == (
            "adjudications",
            7,
            f"changed since audit event #{baseline.id}",
        )
        code, _, err = _run(capsys, "--db", registry_url, "audit", "verify")
        assert code == 1
        assert f"error: adjudications row 7: changed since audit event #{baseline.id}\n" in err
    finally:
        registry.close()


def test_an_empty_registry_gets_no_baseline(registry: Registry) -> None:
    with registry.engine.connect() as conn:
        assert "audit_events" in inspect(conn).get_table_names()
    assert _events(registry) == []
    assert admin.verify_audit(registry) == admin.AuditCheck(0)


def test_events_without_rows_hash_as_before() -> None:
    """An event recorded before events carried rows: its hash covers the old fields only."""
    event = AuditEvent(
        occurred_at=dt.datetime(2026, 1, 1),
        actor="a",
        role=None,
        action="case.create",
        entity_type="case",
        entity_id="PML-1",
        before=None,
        after=None,
        reason=None,
    )
    fields = audit.event_fields(event)
    assert "rows" not in fields
    old = event_hash(GENESIS_HASH, fields)
    event.rows = [{"table": "cases", "id": 1, "hash": None}]
    assert event_hash(GENESIS_HASH, audit.event_fields(event)) != old
