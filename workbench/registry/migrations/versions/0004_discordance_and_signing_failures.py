"""discordance assessments and signing failures in tables of their own

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:03:00.000000

Until now two facts were read back out of the audit trail: a case's discordance assessment
(the ``case.discordance`` events) and the wrong passwords that lock signing (the
``adjudication.signature_refused`` events). They get tables of their own,
``discordance_assessments`` and ``signing_failures``, and the audit trail goes back to being
the history only.

The upgrade fills the new tables from the events already recorded, so an existing registry
keeps its assessments and its lockouts:

- each ``case.discordance`` event of a case that still exists becomes an assessment, at the
  event's time, by the user who triggered it (``None`` for the workbench itself, or for an
  actor who is not a registry user), with the reads, rules and findings the event recorded;
- each ``adjudication.signature_refused`` event of a registry user becomes a failure, at the
  event's time, for the decision it names while that decision exists.

The audit trail itself is only read. The downgrade drops both tables; the events stay, and the
code of revision 0003 reads them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("entity_type", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("after", sa.JSON()),
)
_CASES = sa.table("cases", sa.column("id", sa.Integer()), sa.column("registry_id", sa.String()))
_USERS = sa.table("users", sa.column("id", sa.Integer()), sa.column("username", sa.String()))
_DECISIONS = sa.table("adjudications", sa.column("id", sa.Integer()))


def upgrade() -> None:
    assessments = op.create_table(
        "discordance_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assessed_by_id", sa.Integer(), nullable=True),
        sa.Column("read_ids", sa.JSON(), nullable=False),
        sa.Column("discordant", sa.Boolean(), nullable=False),
        sa.Column("spatial", sa.Boolean(), nullable=False),
        sa.Column("fired", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessed_by_id"],
            ["users.id"],
            name=op.f("fk_discordance_assessments_assessed_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_discordance_assessments_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discordance_assessments")),
    )
    with op.batch_alter_table("discordance_assessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_discordance_assessments_case_id"), ["case_id"], unique=False
        )

    failures = op.create_table(
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

    _backfill_assessments(assessments)
    _backfill_failures(failures)


def downgrade() -> None:
    with op.batch_alter_table("signing_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_failures_user_id"))
    op.drop_table("signing_failures")
    with op.batch_alter_table("discordance_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_discordance_assessments_case_id"))
    op.drop_table("discordance_assessments")


def _backfill_assessments(assessments: sa.Table) -> None:
    """One assessment per ``case.discordance`` event of an existing case, oldest first."""
    found = op.get_bind().execute(
        sa.select(_EVENTS.c.occurred_at, _EVENTS.c.after, _CASES.c.id, _USERS.c.id)
        .select_from(
            _EVENTS.join(_CASES, _CASES.c.registry_id == _EVENTS.c.entity_id).outerjoin(
                _USERS, _USERS.c.username == _EVENTS.c.actor
            )
        )
        .where(_EVENTS.c.action == "case.discordance", _EVENTS.c.entity_type == "case")
        .order_by(_EVENTS.c.id)
    )
    rows: list[dict[str, Any]] = []
    for occurred_at, after, case_id, user_id in found:
        if not after:
            continue  # nothing was assessed that could be carried over
        rows.append(
            {
                "case_id": case_id,
                "assessed_at": occurred_at,
                "assessed_by_id": user_id,
                "read_ids": list(after.get("reads") or []),
                "discordant": bool(after.get("discordant")),
                "spatial": bool(after.get("spatial")),
                "fired": list(after.get("fired") or []),
                "rules": dict(after.get("rules") or {}),
                "findings": list(after.get("findings") or []),
            }
        )
    if rows:
        op.bulk_insert(assessments, rows)


def _backfill_failures(failures: sa.Table) -> None:
    """One failure per ``adjudication.signature_refused`` event of a registry user."""
    bind = op.get_bind()
    decisions = {str(i) for i in bind.scalars(sa.select(_DECISIONS.c.id))}
    found = bind.execute(
        sa.select(_EVENTS.c.occurred_at, _EVENTS.c.entity_id, _USERS.c.id)
        .select_from(_EVENTS.join(_USERS, _USERS.c.username == _EVENTS.c.actor))
        .where(_EVENTS.c.action == "adjudication.signature_refused")
        .order_by(_EVENTS.c.id)
    )
    rows = [
        {
            "user_id": user_id,
            "occurred_at": occurred_at,
            "adjudication_id": int(entity_id) if entity_id in decisions else None,
        }
        for occurred_at, entity_id, user_id in found
    ]
    if rows:
        op.bulk_insert(failures, rows)
