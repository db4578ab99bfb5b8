"""sign-in sessions, failed attempts per account and source, one-time passwords, database roles

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 13:20:00.000000

Who acts is proven, no longer named:

- ``sign_in_sessions``: one row per sign-in. The token handed to the signed-in person is never
  stored, only its SHA-256; a session ends at its expiry, after its idle timeout, or when it
  is signed out (``ended_at`` and ``ended_reason``).
- ``auth_failures``: one row per refused password, for sign-in and for signing alike, with the
  account it named (known or not) and the source it came from. Repeated failures slow down
  further attempts from that source at that account (the rule lives in
  :mod:`workbench.users`); nothing locks an account for everyone. It replaces
  ``signing_failures``, whose rows are carried over (source ``unrecorded``).
- ``users.must_change_password``: set by an administrator's reset; the person must choose a
  new password at their next sign-in before anything else.
- ``users.db_role``: on PostgreSQL, the login role that authenticates this person; the
  registry takes the acting user from the connection's role.
- ``audit_events.rows``: the hashes of the guarded rows an event created or changed, so that
  ``audit verify`` can reconcile the live tables with the trail; ``audit_events.txid``: on
  PostgreSQL, the transaction that appended the event, so database-side guards can tell a
  change the application recorded from one typed behind its back. Both are added in place
  (``ALTER TABLE ... ADD COLUMN``), so the append-only triggers stay.

The downgrade restores ``signing_failures`` from the signing failures of known users and
drops the rest, except ``audit_events.rows`` once an event carries row hashes: those events are
chained with them, so the column stays (and the upgrade then finds it in place).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _has_column(table: str, column: str) -> bool:
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    if not _has_column("audit_events", "rows"):  # a downgrade keeps it once events use it
        op.add_column("audit_events", sa.Column("rows", sa.JSON(), nullable=True))
    op.add_column("audit_events", sa.Column("txid", sa.BigInteger(), nullable=True))
    # Added in place (no batch copy of ``users``, which other tables reference), with a unique
    # index rather than a constraint, which SQLite could only add by copying the table.
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("users", sa.Column("db_role", sa.String(length=63), nullable=True))
    op.create_index("ix_users_db_role", "users", ["db_role"], unique=True)

    op.create_table(
        "sign_in_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sign_in_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_sign_in_sessions_token_sha256")),
    )
    with op.batch_alter_table("sign_in_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_sessions_user_id"), ["user_id"])

    failures = op.create_table(
        "auth_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_failures")),
    )
    with op.batch_alter_table("auth_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auth_failures_username_source"), ["username", "source"]
        )

    old = sa.table(
        "signing_failures",
        sa.column("user_id", sa.Integer()),
        sa.column("occurred_at", sa.DateTime(timezone=True)),
    )
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("username", sa.String()))
    carried = [
        {"username": name, "source": "unrecorded", "purpose": "signing", "occurred_at": at}
        for name, at in op.get_bind().execute(
            sa.select(users.c.username, old.c.occurred_at).select_from(
                old.join(users, users.c.id == old.c.user_id)
            )
        )
    ]
    if carried:
        op.bulk_insert(failures, carried)
    with op.batch_alter_table("signing_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_failures_user_id"))
    op.drop_table("signing_failures")


def downgrade() -> None:
    restored = op.create_table(
        "signing_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("adjudication_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["adjudication_id"],
            ["adjudications.id"],
            name=op.f("fk_signing_failures_adjudication_id_adjudications"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_signing_failures_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_failures")),
    )
    with op.batch_alter_table("signing_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_failures_user_id"), ["user_id"], unique=False)
    failures = sa.table(
        "auth_failures",
        sa.column("username", sa.String()),
        sa.column("purpose", sa.String()),
        sa.column("occurred_at", sa.DateTime(timezone=True)),
    )
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("username", sa.String()))
    rows = [
        {"user_id": user_id, "occurred_at": at}
        for user_id, at in op.get_bind().execute(
            sa.select(users.c.id, failures.c.occurred_at)
            .select_from(failures.join(users, users.c.username == failures.c.username))
            .where(failures.c.purpose == "signing")
        )
    ]
    if rows:
        op.bulk_insert(restored, rows)
    with op.batch_alter_table("auth_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_failures_username_source"))
    op.drop_table("auth_failures")
    with op.batch_alter_table("sign_in_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_sessions_user_id"))
    op.drop_table("sign_in_sessions")
    op.drop_index("ix_users_db_role", table_name="users")
    op.drop_column("users", "db_role")  # in place (SQLite 3.35 and later), as added
    op.drop_column("users", "must_change_password")
    op.drop_column("audit_events", "txid")
    # Events that carry row hashes are chained with them: dropping the column would break the
    # trail, so it stays where any event uses it (revision 0004's code ignores it).
    events = sa.table("audit_events", sa.column("rows", sa.JSON()))
    used = op.get_bind().execute(
        sa.select(sa.func.count()).select_from(events).where(events.c.rows.is_not(None))
    )
    if not used.scalar():
        op.drop_column("audit_events", "rows")
