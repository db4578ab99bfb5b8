"""a baseline audit event with the hash of every guarded row

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 09:30:00.000000

From this revision on, every audit event that creates, changes or deletes a guarded row
(decisions, signatures, submitted reads, assignments, cases, users and their roles; the
columns covered are listed in :data:`workbench.registry.rowhash.GUARDED`) carries the row's
hash in ``audit_events.rows``, and ``audit verify`` compares the live tables with the latest
hash the trail holds for each row. The rows a registry already has were never hashed, so they
would all show as "not in the audit trail".

The upgrade appends one event, ``audit.baseline`` by actor ``workbench`` in role
``migration``, carrying the hash of every guarded row that exists now (a draft read is not
guarded), chained after the trail's last event exactly as the workbench appends one
(:func:`adjudication.audit.event_hash` over the same fields, under the same advisory lock on
PostgreSQL). A registry without guarded rows gets no event. The baseline vouches for the rows
as they are at upgrade time: a change made behind the application's back before it cannot
be told apart from the rest, so verify the trail (``pml-workbench audit verify``) before
upgrading a registry whose tables may have been edited.

The downgrade has nothing to undo: audit events are append-only (the database refuses to
delete them, revision 0003), and a revision that does not know ``rows`` verifies the chain
over the fields it knows while the event stays.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from adjudication.audit import GENESIS_HASH, event_hash
from workbench.registry.audit import AUDIT_LOCK_ID, event_fields
from workbench.registry.rowhash import GUARDED, live_rows

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String()),
    sa.column("role", sa.String()),
    sa.column("action", sa.String()),
    sa.column("entity_type", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("reason", sa.String()),
    sa.column("rows", sa.JSON()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": AUDIT_LOCK_ID})
    rows: list[dict[str, Any]] = [
        {"table": table, "id": row_id, "hash": digest}
        for table in GUARDED
        for row_id, digest in live_rows(bind, table)
        if digest is not None
    ]
    if not rows:
        return
    last = bind.execute(sa.select(_EVENTS.c.hash).order_by(_EVENTS.c.id.desc()).limit(1)).scalar()
    values: dict[str, Any] = {
        "occurred_at": dt.datetime.now(dt.UTC),
        "actor": "workbench",
        "role": "migration",
        "action": "audit.baseline",
        "entity_type": "audit",
        "entity_id": None,
        "reason": None,
        "rows": rows,
        "prev_hash": last or GENESIS_HASH,
    }
    fields = event_fields(types.SimpleNamespace(before=None, after=None, **values))
    values["hash"] = event_hash(values["prev_hash"], fields)
    bind.execute(sa.insert(_EVENTS).values(**values))  # before and after stay NULL


def downgrade() -> None:
    """Nothing to undo: the baseline event stays (audit events are append-only)."""
