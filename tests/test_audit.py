"""The hash-chained audit trail."""

from __future__ import annotations

import itertools

from sqlalchemy import delete, select, text, update

from adjudication.audit import GENESIS_HASH, event_hash
from tests.tamper import out_of_band
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


def test_edited_deleted_and_inserted_rows_are_found(
    registry: Registry, registry_url: str, coordinator: Actor
) -> None:
    _three_cases(registry, coordinator)
    with out_of_band(registry_url) as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.id == 3).values(reason="hidden"))
    with registry.read() as session:
        broken = audit.verify(session)
        assert broken is not None
        assert broken.event_id == 3
        assert "edited" in broken.reason
    with out_of_band(registry_url) as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.id == 3).values(reason=None))
        conn.execute(delete(AuditEvent).where(AuditEvent.id == 2))
    with registry.read() as session:
        broken = audit.verify(session)
        assert broken is not None
        assert broken.event_id == 3
        assert "deleted or inserted" in broken.reason
    # INSERT is allowed: a forged event in the gap, hashed correctly after event 1, still breaks
    # the link to event 3.
    with registry.write() as session:
        first = session.get_one(AuditEvent, 1)
        forged = AuditEvent(
            id=2,
            occurred_at=first.occurred_at,
            actor="mallory",
            role="coordinator",
            action="case.create",
            entity_type="case",
            entity_id="PML-9",
            prev_hash=first.hash,
        )
        forged.hash = event_hash(forged.prev_hash, audit._fields(forged))
        session.add(forged)
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
