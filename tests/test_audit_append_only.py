"""The database itself keeps the audit trail append-only (migration 0003)."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Connection, delete, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from workbench.cases import NewCase, create_case, update_case
from workbench.domain import Condition, Sex
from workbench.errors import DatabaseError
from workbench.registry import audit
from workbench.registry.db import Registry, _alembic_config, upgrade
from workbench.registry.models import AuditEvent
from workbench.users import Actor, resolve_actor

APP_ROLE = "pml_workbench_app"


def _new_case(registry_id: str = "PML-0001") -> NewCase:
    return NewCase(registry_id, "NL-AMS", Sex.FEMALE, "40-49", Condition.MS_NATALIZUMAB)


def _as_app_role(url: str) -> str:
    """``url`` with every connection acting as the application's role (as SET ROLE does)."""
    parsed = make_url(url)
    options = f"{parsed.query.get('options', '')} -crole={APP_ROLE}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def _snapshot(registry: Registry) -> list[tuple[int, str | None, str]]:
    with registry.read() as session:
        rows = session.execute(
            select(AuditEvent.id, AuditEvent.reason, AuditEvent.hash).order_by(AuditEvent.id)
        )
        return [(event_id, reason, hash_) for event_id, reason, hash_ in rows]


@pytest.mark.parametrize(
    ("operation", "statement"),
    [
        ("UPDATE", update(AuditEvent).where(AuditEvent.id == 1).values(reason="hidden")),
        ("DELETE", delete(AuditEvent).where(AuditEvent.id == 1)),
    ],
)
def test_changing_an_audit_event_is_refused(
    registry: Registry, coordinator: Actor, operation: str, statement: object
) -> None:
    before = _snapshot(registry)
    assert before
    with (
        pytest.raises(DatabaseError, match=f"audit_events is append-only: {operation} is refused"),
        registry.write() as session,
    ):
        session.execute(statement)  # type: ignore[call-overload]
    assert _snapshot(registry) == before
    with registry.read() as session:
        assert audit.verify(session) is None


def test_appending_still_works(registry: Registry, coordinator: Actor) -> None:
    with registry.write() as session:
        create_case(session, coordinator, _new_case())
    with registry.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 2
        assert audit.verify(session) is None


@pytest.mark.postgres
def test_truncating_the_audit_table_is_refused_on_postgres(postgres_url: str) -> None:
    registry = Registry.open(postgres_url)
    with registry.write() as session:
        resolve_actor(session, "coordinator")
    before = _snapshot(registry)
    with (
        pytest.raises(DatabaseError, match="audit_events is append-only: TRUNCATE is refused"),
        registry.write() as session,
    ):
        session.execute(text("TRUNCATE audit_events"))
    assert _snapshot(registry) == before
    registry.close()


@pytest.mark.postgres
def test_the_application_role_appends_but_cannot_rewrite_on_postgres(postgres_url: str) -> None:
    """As ``pml_workbench_app`` the workbench works, and the audit table is closed to it.

    Privileges are checked before triggers fire, so the refusals here are the grants' own
    ("permission denied"), not the triggers' ("append-only").
    """
    Registry.open(postgres_url).close()  # migrated by the owner, as 'db upgrade' does
    app = Registry.open(_as_app_role(postgres_url))
    with app.write() as session:
        assert session.scalar(text("SELECT current_user")) == APP_ROLE
        actor = resolve_actor(session, "coordinator")
        create_case(session, actor, _new_case())
    with app.write() as session:
        update_case(session, actor, "PML-0001", 1, {"age_band": "50-59"})
    with app.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 3
        assert audit.verify(session) is None
    before = _snapshot(app)
    for statement in (
        "UPDATE audit_events SET reason = 'hidden' WHERE id = 1",
        "DELETE FROM audit_events WHERE id = 1",
        "TRUNCATE audit_events",
    ):
        with (
            pytest.raises(DatabaseError, match="permission denied for table audit_events"),
            app.write() as session,
        ):
            session.execute(text(statement))
    with (
        pytest.raises(DatabaseError, match="must be owner of table audit_events"),
        app.write() as session,
    ):
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
    assert _snapshot(app) == before
    app.close()


def _update_error(conn: Connection) -> str:
    """The error an UPDATE of audit events meets ("" if none; tried in a rolled-back savepoint)."""
    try:
        with conn.begin_nested() as savepoint:
            conn.execute(update(AuditEvent).values(reason="hidden"))
            savepoint.rollback()
    except DBAPIError as exc:
        return str(exc.orig)
    return ""


def _app_privileges(conn: Connection) -> tuple[bool, bool, bool]:
    """May the application's role insert and update audit events, and update cases?"""
    row = conn.execute(
        text(
            "SELECT has_table_privilege(:role, 'audit_events', 'INSERT'), "
            "has_table_privilege(:role, 'audit_events', 'UPDATE'), "
            "has_table_privilege(:role, 'cases', 'UPDATE')"
        ),
        {"role": APP_ROLE},
    ).one()
    return (row[0], row[1], row[2])


def test_downgrade_lifts_the_protection_and_upgrade_restores_it(
    registry: Registry, coordinator: Actor
) -> None:
    postgres = registry.engine.dialect.name == "postgresql"
    with registry.engine.connect() as conn:
        assert "append-only: UPDATE is refused" in _update_error(conn)
        if postgres:
            assert _app_privileges(conn) == (True, False, True)
        command.downgrade(_alembic_config(conn), "0002")
        conn.commit()
        assert _update_error(conn) == ""
        if postgres:
            assert _app_privileges(conn) == (False, False, False)
        conn.rollback()
    assert upgrade(registry.engine) is True
    with registry.engine.connect() as conn:
        assert "append-only: UPDATE is refused" in _update_error(conn)
        if postgres:
            assert _app_privileges(conn) == (True, False, True)
    with registry.read() as session:
        assert audit.verify(session) is None
