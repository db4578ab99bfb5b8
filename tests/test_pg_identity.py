"""On PostgreSQL the database names who acts, and refuses edits made behind the workbench.

A person logs in as a database role of their own, a member of ``pml_workbench_app`` mapped to
their registry user (``pml-workbench db-role grant``). Connected so, the workbench acts as
that user; in psql the same person can read what the workbench reads but cannot set a
decision final, change a case's status, sign, make themselves administrator, read password
hashes, delete failed password attempts or record an event in someone else's name
(:mod:`workbench.registry.pg_security`).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from adjudication.consensus import Proposal
from adjudication.discordance import DiscordanceRules
from adjudication.vocabulary import ImagingJudgement, Role
from tests.conftest import POSTGRES_URL
from workbench.cases import NewCase, create_case
from workbench.domain import CaseStatus, Condition, Sex
from workbench.errors import NotFoundError, PermissionDeniedError, ValidationError
from workbench.panel import engine_now, propose_decision, sign_decision
from workbench.reading_flow import assign, submit
from workbench.reads import save_draft, start_or_resume_draft
from workbench.registry import audit, pg_security
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, Case, Decision, User
from workbench.review_config import ReviewConfig
from workbench.services import identity
from workbench.users import Actor, add_user, read_password_hash, resolve_actor, set_password

pytestmark = pytest.mark.postgres

CASE = "PML-0001"
CONFIG = ReviewConfig(
    discordance=DiscordanceRules(min_lesion_ml=0.01, volume_fraction=0.5, min_dice=0.5),
    signatures_required=1,
)
PANEL_PASSWORD = "panel-one-secret"


def _as_role(url: str, role: str) -> str:
    """``url`` logging in as ``role`` (the schema stays the same)."""
    parsed = make_url(url).set(username=role, password=f"pw-{role}")
    return parsed.render_as_string(hide_password=False)


def _schema(url: str) -> str:
    return str(make_url(url).query["options"]).split("=", 1)[1]


@pytest.fixture
def login_role() -> Iterator[Callable[[], str]]:
    """Makes LOGIN roles with unique names; drops them at the end, whatever happened."""
    made: list[str] = []

    def make() -> str:
        name = f"pmlt_{uuid.uuid4().hex[:12]}"
        with admin.begin() as conn:
            conn.execute(text(f"CREATE ROLE {name} LOGIN PASSWORD 'pw-{name}'"))
        made.append(name)
        return name

    admin = create_engine(POSTGRES_URL)
    try:
        yield make
    finally:
        with admin.begin() as conn:
            for name in made:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"
                    ),
                    {"r": name},
                )
                conn.execute(text(f"DROP OWNED BY {name}"))
                conn.execute(text(f"DROP ROLE {name}"))
        admin.dispose()


@dataclass(frozen=True)
class World:
    url: str
    """The owner's URL (the postgres superuser, who migrated the schema)."""
    owner: Registry
    coordinator: Actor
    role: str
    """The login role mapped to ``panel1``."""

    @property
    def member_url(self) -> str:
        return _as_role(self.url, self.role)


def _read(registry: Registry, actor: Actor) -> None:
    with registry.write() as session:
        read = start_or_resume_draft(session, actor, CASE)
        read = save_draft(
            session, actor, read.id, read.version, lesions=[], judgement=ImagingJudgement.YES
        )
        submit(session, actor, read.id, read.version, config=CONFIG)


@pytest.fixture
def world(postgres_url: str, login_role: Callable[[], str]) -> Iterator[World]:
    """Case PML-0001 read by two readers (concordant), panel1 on its panel with a password,
    and a login role mapped to panel1 by the coordinator."""
    owner = Registry.open(postgres_url)
    try:
        with owner.write() as session:
            coordinator = resolve_actor(session, "coordinator")
            create_case(
                session, coordinator, NewCase(CASE, "NL-AMS", Sex.FEMALE, "40-49", Condition.HIV)
            )
            add_user(session, "reader1", "Reader One", {Role.READER}, by=coordinator)
            add_user(session, "reader2", "Reader Two", {Role.READER}, by=coordinator)
            add_user(session, "panel1", "Dr Panel One", {Role.PANEL}, by=coordinator)
            add_user(session, "panel2", "Dr Panel Two", {Role.PANEL}, by=coordinator)
        with owner.write() as session:
            case = session.scalars(select(Case).where(Case.registry_id == CASE)).one()
            case.status = CaseStatus.READY
            assign(session, coordinator, CASE, ["reader1", "reader2"], Role.READER)
            assign(session, coordinator, CASE, ["panel1", "panel2"], Role.PANEL)
            panel1 = resolve_actor(session, "panel1")
            set_password(session, panel1, "panel1", PANEL_PASSWORD)
            readers = [resolve_actor(session, n) for n in ("reader1", "reader2")]
        for reader in readers:
            _read(owner, reader)
        role = login_role()
        identity.grant_db_role(owner, coordinator, role, "panel1")
        yield World(postgres_url, owner, coordinator, role)
    finally:
        owner.close()


def _psql(url: str, role: str, sql: str) -> subprocess.CompletedProcess[str]:
    parsed = make_url(url)
    conninfo = (
        f"host={parsed.host} port={parsed.port or 5432} dbname={parsed.database} user={role} "
        f"options=-csearch_path={_schema(url)}"
    )
    return subprocess.run(
        ["psql", conninfo, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PGPASSWORD": f"pw-{role}", "PGCONNECT_TIMEOUT": "5"},
        check=False,
    )


def _propose_as(registry: Registry) -> int:
    with registry.write() as session:
        actor = resolve_actor(session, "panel1")
        engine = engine_now(session, actor, CASE)
        proposal = Proposal(
            engine.result.certainty, engine.result.pathway, "The readers agree on the imaging."
        )
        return propose_decision(session, actor, CASE, proposal).id


# --- who acts --------------------------------------------------------------------------------


def test_the_connection_names_the_mapped_user_and_refuses_the_unmapped(
    world: World, login_role: Callable[[], str]
) -> None:
    with world.owner.read() as session:
        assert pg_security.connection_user(session) is None  # the owner signs in by password
    member = Registry.open(world.member_url)
    try:
        with member.read() as session:
            assert session.scalar(text("SELECT session_user")) == world.role
            assert pg_security.connection_user(session) == "panel1"
            assert session.scalar(text("SELECT pml_session_username()")) == "panel1"
    finally:
        member.close()

    stranger = login_role()
    with world.owner.engine.begin() as conn:
        conn.execute(text(f"GRANT {pg_security.APP_ROLE} TO {stranger}"))
    unmapped = Registry.open(_as_role(world.url, stranger))
    try:
        with (
            pytest.raises(
                PermissionDeniedError,
                match=f"database role '{stranger}' is not mapped to a registry user; an "
                f"administrator maps it with `pml-workbench db-role grant {stranger} USERNAME`",
            ),
            unmapped.read() as session,
        ):
            pg_security.connection_user(session)
    finally:
        unmapped.close()


def test_a_deactivated_user_is_refused_on_their_own_connection(world: World) -> None:
    with world.owner.write() as session:
        user = session.scalars(select(User).where(User.username == "panel1")).one()
        user.active = False
        session.flush()
        audit.record(
            session,
            actor="coordinator",
            role="coordinator",
            action="user.deactivate",
            entity_type="user",
            entity_id="panel1",
        )
    member = Registry.open(world.member_url)
    try:
        with (
            pytest.raises(PermissionDeniedError, match="who is deactivated"),
            member.read() as session,
        ):
            pg_security.connection_user(session)
    finally:
        member.close()


# --- the workbench as a member ---------------------------------------------------------------


def test_the_workbench_connected_as_a_member_proposes_and_signs(world: World) -> None:
    member = Registry.open(world.member_url)
    try:
        decision_id = _propose_as(member)
        with member.read() as session:
            assert read_password_hash(session, "panel1") is not None  # their own, via function
            assert read_password_hash(session, "coordinator") is None  # nobody else's
        with member.write() as session:
            actor = resolve_actor(session, "panel1")
            sign_decision(session, actor, decision_id, PANEL_PASSWORD, config=CONFIG)
    finally:
        member.close()
    with world.owner.read() as session:
        decision = session.get(Decision, decision_id)
        assert decision is not None
        assert decision.is_final
        case = session.scalars(select(Case).where(Case.registry_id == CASE)).one()
        assert case.status is CaseStatus.FINAL
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        assert all(e.txid is not None for e in events)  # stamped by the database
        by_member = [e for e in events if e.action.startswith("adjudication.")]
        assert [e.action for e in by_member] == [
            "adjudication.proposed",
            "adjudication.signed",
            "adjudication.final",
        ]
        assert {e.actor for e in by_member} == {"panel1"}
        assert audit.verify(session) is None


def test_a_member_changes_their_own_password_through_the_database_function(world: World) -> None:
    with world.owner.read() as session:
        version = session.scalars(select(User.version).where(User.username == "panel1")).one()
    member = Registry.open(world.member_url)
    try:
        with member.write() as session:
            actor = resolve_actor(session, "panel1")
            set_password(session, actor, "panel1", "a-new-secret", current=PANEL_PASSWORD)
        with member.read() as session:
            assert pg_security.has_password(session, "panel1") is True
            assert pg_security.has_password(session, "coordinator") is None  # not theirs to know
    finally:
        member.close()
    with world.owner.read() as session:
        user = session.scalars(select(User).where(User.username == "panel1")).one()
        assert (user.version, user.must_change_password) == (version + 1, False)
        assert pg_security.has_password(session, "coordinator") is False
        assert audit.verify(session) is None


def test_psql_as_a_member_reads_but_cannot_edit_behind_the_workbench(world: World) -> None:
    member = Registry.open(world.member_url)
    try:
        decision_id = _propose_as(member)
    finally:
        member.close()
    with world.owner.read() as session:
        panel1_id = session.scalar(select(User.id).where(User.username == "panel1"))
        events_before = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()))

    allowed = _psql(world.url, world.role, "SELECT username FROM users ORDER BY username")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.split() == ["coordinator", "panel1", "panel2", "reader1", "reader2"]

    refused = {
        f"UPDATE adjudications SET is_final = true WHERE id = {decision_id}": (
            f"update of adjudications row (id {decision_id}) refused: no audit event by "
            "'panel1' in the same transaction"
        ),
        f"UPDATE cases SET status = 'final' WHERE registry_id = '{CASE}'": (
            "update of cases row (id 1) refused: no audit event by 'panel1'"
        ),
        "INSERT INTO signatures (adjudication_id, user_id, printed_name, meaning, signed_at) "
        f"VALUES ({decision_id}, {panel1_id}, 'Dr Panel One', 'approved', now())": (
            "insert of signatures row (id "
        ),
        f"INSERT INTO user_roles (user_id, role) VALUES ({panel1_id}, 'admin')": (
            f"insert of user_roles row (user_id {panel1_id}, role admin) refused"
        ),
        "SELECT password_hash FROM users": "permission denied for table users",
        "DELETE FROM auth_failures": "permission denied for table auth_failures",
        "INSERT INTO audit_events (occurred_at, actor, role, action, entity_type, prev_hash, "
        "hash) VALUES (now(), 'coordinator', 'coordinator', 'adjudication.final', "
        "'adjudication', 'x', 'forged')": (
            "audit_events: event refused: database role "
            f"'{world.role}' acts as 'panel1' and may not record an event by 'coordinator'"
        ),
        "SELECT pml_write_password_hash('coordinator', 'scrypt$1$1$1$00$00', false)": (
            "user 'panel1' may not set the password of 'coordinator'"
        ),
        "INSERT INTO users (username, display_name, password_hash, active, "
        "must_change_password, created_at, version) "
        "VALUES ('mallory', 'Mallory', 'scrypt$1$1$1$00$00', true, false, now(), 1)": (
            "insert of users row ('mallory') refused: a password is set through "
            "pml_write_password_hash"
        ),
    }
    for sql, message in refused.items():
        result = _psql(world.url, world.role, sql)
        assert result.returncode != 0, f"{sql!r} was not refused"
        assert message in result.stderr, (sql, result.stderr)

    with world.owner.read() as session:
        decision = session.get(Decision, decision_id)
        assert decision is not None
        assert not decision.is_final
        assert session.scalar(select(Case.status)) is CaseStatus.IN_ADJUDICATION
        assert session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc())) == (
            events_before
        )


def test_an_event_in_ones_own_name_lets_a_member_change_a_row_and_the_trail_says_who(
    world: World,
) -> None:
    """What the guards prove is that the member's change is attributed to them, not that
    the event describes it: a hand-written event in one's own name passes."""
    result = _psql(
        world.url,
        world.role,
        "BEGIN; INSERT INTO audit_events (occurred_at, actor, role, action, entity_type, "
        "prev_hash, hash) VALUES (now(), 'panel1', 'panel', 'case.note', 'case', 'x', 'mine'); "
        f"UPDATE cases SET status = 'discordant' WHERE registry_id = '{CASE}'; COMMIT;",
    )
    assert result.returncode == 0, result.stderr
    with world.owner.read() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.hash == "mine")).one()
        assert (event.actor, event.txid is not None) == ("panel1", True)


# --- the owner and the installed guards ------------------------------------------------------


def test_the_owner_is_not_guarded(world: World) -> None:
    with world.owner.engine.begin() as conn:
        conn.execute(text(f"UPDATE cases SET status = 'ready' WHERE registry_id = '{CASE}'"))
        assert conn.scalar(text("SELECT pml_connection_is_guarded()")) is False


def _trigger_oids(registry: Registry) -> set[int]:
    with registry.engine.connect() as conn:
        return set(
            conn.scalars(
                text(
                    "SELECT t.oid FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE c.relnamespace = current_schema()::regnamespace "
                    "AND t.tgname LIKE 'pml_%'"
                )
            )
        )


def test_install_runs_again_only_when_what_it_installs_changed(world: World) -> None:
    installed = _trigger_oids(world.owner)
    assert len(installed) == 2 + len(pg_security.GUARDED_TABLES)  # + audit stamp, users insert
    Registry.open(world.url).close()
    assert _trigger_oids(world.owner) == installed  # at head and unchanged: nothing ran
    with world.owner.engine.begin() as conn:
        conn.execute(text("COMMENT ON FUNCTION pml_session_username() IS 'an older workbench'"))
    Registry.open(world.url).close()
    refreshed = _trigger_oids(world.owner)
    assert len(refreshed) == len(installed)
    assert not refreshed & installed


def test_a_member_opening_the_registry_installs_nothing(world: World) -> None:
    with world.owner.engine.begin() as conn:
        conn.execute(text("COMMENT ON FUNCTION pml_session_username() IS 'an older workbench'"))
    installed = _trigger_oids(world.owner)
    Registry.open(world.member_url).close()
    assert _trigger_oids(world.owner) == installed


# --- mapping roles ---------------------------------------------------------------------------


def test_mapping_roles_is_audited_and_refused_where_it_cannot_hold(
    world: World, login_role: Callable[[], str]
) -> None:
    records = identity.list_db_roles(world.owner, world.coordinator)
    assert [(r.role, r.username, r.member, r.can_login) for r in records] == [
        (world.role, "panel1", True, True)
    ]
    with pytest.raises(ValidationError, match="is mapped to 'panel1' already"):
        identity.grant_db_role(world.owner, world.coordinator, world.role, "panel2")
    with pytest.raises(ValidationError, match="superuser, the owner"):
        identity.grant_db_role(world.owner, world.coordinator, "postgres", "panel2")
    with pytest.raises(NotFoundError, match="does not exist"):
        identity.grant_db_role(world.owner, world.coordinator, "pmlt_nobody_here", "panel2")
    reader = Actor("reader1", "Reader One", frozenset({Role.READER}))
    with pytest.raises(PermissionDeniedError, match="may not add users"):
        identity.grant_db_role(world.owner, reader, login_role(), "panel2")

    revoked = identity.revoke_db_role(world.owner, world.coordinator, world.role)
    assert (revoked.username, revoked.member) == ("panel1", False)
    assert identity.list_db_roles(world.owner, world.coordinator) == []
    with world.owner.read() as session:
        changes = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "user.db_role")
                .order_by(AuditEvent.id)
            )
        )
        assert [(e.entity_id, e.before, e.after) for e in changes] == [
            ("panel1", {"db_role": None, "member": False}, {"db_role": world.role, "member": True}),
            ("panel1", {"db_role": world.role, "member": True}, {"db_role": None, "member": False}),
        ]
    # No longer a member: the connection is nobody's, and may not read the registry at all.
    revoked_registry = Registry.open(world.member_url, upgrade_schema=False)
    try:
        with revoked_registry.read() as session:
            assert pg_security.connection_user(session) is None
    finally:
        revoked_registry.close()


def test_mapping_a_database_role_is_refused_on_sqlite(sqlite_url: str) -> None:
    registry = Registry.open(sqlite_url)
    try:
        with registry.write() as session:
            coordinator = resolve_actor(session, "coordinator")
        with pytest.raises(ValidationError, match="database roles exist only on PostgreSQL"):
            identity.grant_db_role(registry, coordinator, "someone", "coordinator")
        with registry.read() as session:
            assert pg_security.connection_user(session) is None
    finally:
        registry.close()


def test_the_db_role_commands_map_list_and_revoke(
    world: World, login_role: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.signin import TEST_PASSWORD, login
    from workbench.cli import main

    with world.owner.write() as session:
        set_password(session, world.coordinator, "coordinator", TEST_PASSWORD)
    login(world.url, "coordinator")  # the owner's connection: sign-in by password
    role = login_role()
    capsys.readouterr()
    assert main(["--db", world.url, "db-role", "grant", role, "panel2"]) == 0
    assert capsys.readouterr().out == f"database role {role} now acts as registry user panel2\n"
    assert main(["--db", world.url, "db-role", "list"]) == 0
    listed = sorted(capsys.readouterr().out.splitlines())
    assert listed == sorted(
        [f"{world.role}\tpanel1\tDr Panel One\t", f"{role}\tpanel2\tDr Panel Two\t"]
    )
    assert main(["--db", world.url, "db-role", "revoke", role]) == 0
    assert capsys.readouterr().out == (
        f"database role {role} revoked from pml_workbench_app (was registry user panel2)\n"
    )
    assert main(["--db", world.url, "db-role", "grant", "postgres", "panel2"]) == 1
    assert capsys.readouterr().err.startswith("error: database role 'postgres' is a superuser")


def test_the_db_role_commands_refuse_sqlite_in_one_line(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.cli import main

    assert main(["--db", sqlite_url, "db-role", "list"]) == 1
    assert capsys.readouterr().err == (
        "error: database roles exist only on PostgreSQL: on this SQLite registry people sign "
        "in with their password ('pml-workbench login')\n"
    )


def test_the_command_line_acts_as_the_connections_own_role_and_no_other(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Connected as panel1's login role, nobody names who acts: not with --user, not with
    a password sign-in as someone else, not with another person's token."""
    import json

    from workbench.cli import main

    url = world.member_url
    assert main(["--db", url, "whoami", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["username"], shown["signed_in_by"]) == ("panel1", "database role")
    assert main(["--db", url, "--user", "coordinator", "cases"]) == 1
    err = capsys.readouterr().err
    assert "--user does not choose who acts: you are signed in as 'panel1'" in err
    assert main(["--db", url, "login", "coordinator"]) == 1
    assert "this connection's database role signs you in as 'panel1'" in capsys.readouterr().err
    assert main(["--db", url, "login"]) == 0
    assert "signed in by the database as panel1" in capsys.readouterr().out
