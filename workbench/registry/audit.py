"""Appending audit events to the registry, chained by hash (see :mod:`adjudication.audit`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from adjudication.audit import GENESIS_HASH, ChainBreak, canonical_time, event_hash, verify_chain
from workbench.registry.models import AuditEvent, utcnow

_AUDIT_LOCK_ID = 0x415544  # serialises appends on PostgreSQL; SQLite writers are serial already


def _fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "occurred_at": canonical_time(event.occurred_at),
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
    }


def record(
    session: Session,
    *,
    actor: str,
    role: str | None,
    action: str,
    entity_type: str,
    entity_id: object = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (it commits or rolls back with the change)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _AUDIT_LOCK_ID})
    last = session.scalars(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    event = AuditEvent(
        occurred_at=utcnow(),
        actor=actor,
        role=role,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        reason=reason,
        prev_hash=last or GENESIS_HASH,
    )
    event.hash = event_hash(event.prev_hash, _fields(event))
    session.add(event)
    session.flush()
    return event


def verify(session: Session) -> ChainBreak | None:
    """Check the whole chain; return the first broken event, or None when it holds."""

    def rows() -> Iterator[tuple[int, str, str, dict[str, Any]]]:
        for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
            yield event.id, event.prev_hash, event.hash, _fields(event)

    return verify_chain(rows())
