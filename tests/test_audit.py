"""The hash-chained audit trail."""

from __future__ import annotations

import itertools

from sqlalchemy import delete, select, text, update

from adjudication.audit import GENESIS_HASH
from workbench.cases import NewCase, create_case
from workbench.domain import Condition, Sex
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent
from workbench.users import Actor


def _three_cases(registry: Registry, actor: Actor) -> None:
    with registry.write() as session:
        for n in range(3):
            create_case(session, actor, NewCase(f"PML-{n}", "S1", Sex.MALE, "20-29", Condition.HIV))


def test_chain_links_every_event(registry: Registry, coordinator: Actor) -> None:
    _three_cases(registry, coordinator)
    with registry.read() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert events[0].prev_hash == GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
        assert audit.verify(session) is None


def test_edited_deleted_and_inserted_rows_are_found(registry: Registry, coordinator: Actor):
    _three_cases(registry, coordinator)
    with registry.write() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == 3).values(reason="hidden"))
    with registry.read() as session:
        broken = audit.verify(session)
        assert broken is not None
        assert broken.event_id == 3
        assert "edited" in broken.reason
    with registry.write() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == 3).values(reason=None))
        session.execute(delete(AuditEvent).where(AuditEvent.id == 2))
    with registry.read() as session:
        broken = audit.verify(session)
        assert broken is not None
        assert broken.event_id == 3
        assert "deleted or inserted" in broken.reason


def test_time_survives_the_round_trip(registry: Registry, coordinator: Actor) -> None:
    """The hash covers the time; the backend must give it back exactly as hashed."""
    _three_cases(registry, coordinator)
    registry.engine.dispose()
    with registry.read() as session:
        session.execute(text("SELECT 1"))
        assert audit.verify(session) is None
