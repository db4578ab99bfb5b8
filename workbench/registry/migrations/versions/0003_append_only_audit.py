"""append-only audit table, and the application's role on PostgreSQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:12:00.000000

The database itself refuses to change audit events, so a bug or a hand-typed statement cannot
rewrite the trail; the hash chain (``pml-workbench audit verify``) remains the check against
whoever can get past the database.

On both backends, triggers refuse UPDATE and DELETE of ``audit_events`` rows (and TRUNCATE on
PostgreSQL), whoever runs them. On PostgreSQL the table's owner or a superuser can still
disable or drop a trigger, so the people using the workbench must not log in as the owner:
they are members of the NOLOGIN group role ``pml_workbench_app``, which may read and write
every registry table but only read and append to ``audit_events`` (and only read
``alembic_version``: migrations are run by the owner, with ``pml-workbench db upgrade``).

Roles are cluster-wide, so the role is created only where it is missing, and not at all (with a
notice) when the migrating role may not create roles; a DBA can create it later and run the
grants below by hand. Everything else lives in the schema the migration runs in
(``current_schema()``), so registries in different schemas of one database do not collide, and
the downgrade revokes the grants of that schema but leaves the role to the others.

A later migration that rebuilds ``audit_events`` on SQLite (``batch_alter_table`` copies the
table) must create the SQLite triggers again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "pml_workbench_app"
_REFUSED = "audit_events is append-only: {op} is refused (record a new event instead)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
    else:
        _downgrade_sqlite()


def _upgrade_sqlite() -> None:
    for operation in ("UPDATE", "DELETE"):
        message = _REFUSED.format(op=operation)
        op.execute(
            f"CREATE TRIGGER audit_events_no_{operation.lower()} "
            f"BEFORE {operation} ON audit_events "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def _downgrade_sqlite() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")


def _schema() -> str:
    """The quoted name of the schema the migration runs in (first on the search path)."""
    bind = op.get_bind()
    name = bind.execute(sa.text("SELECT current_schema()")).scalar_one()
    return str(bind.dialect.identifier_preparer.quote_schema(name))


def _role_exists() -> bool:
    found = op.get_bind().execute(
        sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": APP_ROLE}
    )
    return found.first() is not None


def _upgrade_postgresql() -> None:
    schema = _schema()
    # TG_OP is concatenated in, not formatted with '%', which the driver reads as a parameter.
    message = "'" + _REFUSED.format(op="' || TG_OP || '") + "'"
    op.execute(
        f"CREATE FUNCTION {schema}.audit_events_append_only() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING MESSAGE = {message}; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_update_or_delete "
        f"BEFORE UPDATE OR DELETE ON {schema}.audit_events "
        f"FOR EACH ROW EXECUTE FUNCTION {schema}.audit_events_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate "
        f"BEFORE TRUNCATE ON {schema}.audit_events "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.audit_events_append_only()"
    )
    # Another schema's migration may create the role at the same moment: that is a success.
    op.execute(
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN "
        f"CREATE ROLE {APP_ROLE} NOLOGIN; "
        "END IF; "
        "EXCEPTION "
        "WHEN duplicate_object OR unique_violation THEN NULL; "
        "WHEN insufficient_privilege THEN "
        f"RAISE NOTICE 'role {APP_ROLE} not created (no CREATEROLE privilege): "
        "create it and grant it this registry''s tables by hand'; "
        "END $$"
    )
    if not _role_exists():
        return
    grants = [
        f"GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {APP_ROLE}",
        f"REVOKE UPDATE, DELETE ON {schema}.audit_events FROM {APP_ROLE}",
        f"REVOKE INSERT, UPDATE, DELETE ON {schema}.alembic_version FROM {APP_ROLE}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {APP_ROLE}",
        # Tables and sequences that later migrations create get the same grants.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}",
    ]
    for statement in grants:
        op.execute(statement)


def _downgrade_postgresql() -> None:
    schema = _schema()
    op.execute(f"DROP TRIGGER IF EXISTS audit_events_no_truncate ON {schema}.audit_events")
    op.execute(f"DROP TRIGGER IF EXISTS audit_events_no_update_or_delete ON {schema}.audit_events")
    op.execute(f"DROP FUNCTION IF EXISTS {schema}.audit_events_append_only()")
    if not _role_exists():
        return
    revokes = [
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON SEQUENCES FROM {APP_ROLE}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {APP_ROLE}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {APP_ROLE}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {APP_ROLE}",
        f"REVOKE USAGE ON SCHEMA {schema} FROM {APP_ROLE}",
    ]
    for statement in revokes:
        op.execute(statement)
