"""Reconciling the live tables with the audit trail: what changed behind the application's back.

The trail is folded to the latest hash of every guarded row (the ``rows`` of its events,
:mod:`workbench.registry.audit`), then each guarded table is streamed and every row hashed
(:mod:`workbench.registry.rowhash`) and compared. A row the trail never saw, a row whose hash
differs from the last one recorded, and a row the trail still holds that is gone are each a
:class:`RowFinding`. Drafts of reads are not guarded and count only when the trail knew the
read as submitted.

Only plain selects, streamed: no ORM object is built for a row or an event.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.registry.models import AuditEvent
from workbench.registry.rowhash import GUARDED, RowId, live_rows

NOT_IN_TRAIL = "not in the audit trail"
CHANGED = "changed since audit event #{event}"
DELETED = "deleted behind the application's back"


@dataclass(frozen=True, slots=True)
class RowFinding:
    """One guarded row the live tables and the audit trail disagree on."""

    table: str
    row_id: RowId
    """The row's id as the trail names it (``"3:panel"`` for a role of user 3)."""
    problem: str
    """What is wrong, e.g. ``not in the audit trail`` or ``changed since audit event #12``."""
    event_id: int | None = None
    """The last audit event that recorded the row, if any."""

    def __post_init__(self) -> None:
        if self.table not in GUARDED:
            raise ValueError(f"table: {self.table!r} is not a guarded table")
        if not self.problem:
            raise ValueError("problem: a finding says what is wrong")


Folded = dict[str, dict[RowId, tuple[str | None, int]]]
"""Per guarded table, row id -> (latest hash, the event that recorded it)."""


def fold_trail(session: Session) -> Folded:
    """The latest hash the trail holds for every guarded row, and the event that holds it.

    Events are read in id order; entries of unknown tables (there are none unless the trail
    was forged, which :func:`~workbench.registry.audit.verify` reports) are skipped.
    """
    folded: Folded = {table: {} for table in GUARDED}
    statement = (
        select(AuditEvent.id, AuditEvent.rows)
        .where(AuditEvent.rows.is_not(None))
        .order_by(AuditEvent.id)
        .execution_options(yield_per=500)
    )
    for event_id, rows in session.execute(statement):
        for entry in rows or ():
            table = entry.get("table") if isinstance(entry, dict) else None
            latest = folded.get(table) if isinstance(table, str) else None
            if latest is None:
                continue
            latest[_trail_id(entry["table"], entry.get("id"))] = (entry.get("hash"), event_id)
    return folded


def _trail_id(table: str, row_id: Any) -> RowId:
    if GUARDED[table].key == ("id",):
        try:
            return int(row_id)
        except (TypeError, ValueError):
            return str(row_id)
    return str(row_id)


def reconcile(session: Session) -> Iterator[RowFinding]:
    """Every guarded row on which the live tables and the trail disagree, table by table.

    Run it in one transaction with a stable snapshot (:func:`snapshot`), or a change committed
    meanwhile shows as a finding.
    """
    folded = fold_trail(session)
    for table in GUARDED:
        latest = folded.pop(table)
        for row_id, digest in live_rows(session, table):
            recorded = latest.pop(row_id, None)
            if digest is None:  # exists but not guarded (a draft read)
                if recorded is not None and recorded[0] is not None:
                    yield RowFinding(table, row_id, CHANGED.format(event=recorded[1]), recorded[1])
                continue
            if recorded is None:
                yield RowFinding(table, row_id, NOT_IN_TRAIL)
            elif recorded[0] is None:
                yield RowFinding(
                    table,
                    row_id,
                    f"{NOT_IN_TRAIL} (it was deleted at audit event #{recorded[1]})",
                    recorded[1],
                )
            elif recorded[0] != digest:
                yield RowFinding(table, row_id, CHANGED.format(event=recorded[1]), recorded[1])
        for row_id, (digest, event_id) in latest.items():
            if digest is not None:
                yield RowFinding(
                    table, row_id, f"{DELETED} (last recorded at audit event #{event_id})", event_id
                )


def snapshot(session: Session) -> None:
    """Make the rest of ``session``'s transaction read one consistent snapshot.

    Call it first. On PostgreSQL the transaction becomes ``REPEATABLE READ``; SQLite's read
    transaction (WAL) reads one snapshot already.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
