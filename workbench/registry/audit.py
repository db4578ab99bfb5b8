"""Appending audit events to the registry, chained by hash (see :mod:`adjudication.audit`).

Every event that creates, changes or deletes a *guarded row* (:data:`rowhash.GUARDED
<workbench.registry.rowhash.GUARDED>`: decisions, signatures, submitted reads, assignments,
cases, users and their roles) carries the row's hash in ``rows``, so the trail reaches the
data: ``audit verify`` folds it to the latest hash of each row and compares the live tables
(:mod:`workbench.registry.reconcile`).

No write path has to remember this. Listeners (:func:`install`, registered when this module
is imported, which :mod:`workbench.registry.db` does) on every mapped class note each guarded
row a flush inserts or deletes, or changes in a covered column, in its ``Session``'s ``info``;
:func:`record` flushes and attaches their hashes, read back from the database, to the event
it appends. At commit (listeners on every ``Session``):

- a row changed after the last event of a transaction gets one more event at commit,
  ``audit.rows``, by the same actor and role, carrying its hash;
- a transaction that changed guarded rows but recorded no event at all is a programming
  error: its commit raises :class:`RuntimeError` naming the rows, and nothing is written.

What the listeners see is the ORM's unit of work, ORM-enabled ``update()``/``delete()``
statements (their rows are selected first) and the database's own ``ON DELETE CASCADE`` from
cases and decisions. A guarded row changed any other way in the application (a database
function, a plain SQL text) must be named with :func:`mark_changed` before the next event.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import select, text
from sqlalchemy.orm import Mapper, ORMExecuteState, Session, SessionTransaction

from adjudication.audit import GENESIS_HASH, ChainBreak, canonical_time, event_hash, verify_chain
from workbench.registry.models import AuditEvent, Base, utcnow
from workbench.registry.rowhash import GUARDED, GuardedTable, RowId, live_rows

AUDIT_LOCK_ID = 0x415544
"""Serialises appends on PostgreSQL (``pg_advisory_xact_lock``); SQLite writers are serial
already. A migration that appends an event takes it too."""

ROWS_ACTION = "audit.rows"
"""The event appended at commit for guarded rows changed after the transaction's last event."""

_PENDING = "pml_audit_pending_rows"
"""``session.info`` key: the guarded rows written since the last event, ``{(table, id): None}``."""
_LAST = "pml_audit_last_event"
"""``session.info`` key: ``(actor, role)`` of the transaction's last recorded event."""

_DB_CASCADES: dict[str, tuple[tuple[str, str], ...]] = {
    "cases": (
        ("reads", "case_id"),
        ("adjudications", "case_id"),
        ("reader_assignments", "case_id"),
    ),
    "adjudications": (("signatures", "adjudication_id"),),
}
"""Guarded rows the database deletes on its own (``ON DELETE CASCADE``) with their parent:
parent table -> (child table, foreign key column)."""


def event_fields(event: Any) -> dict[str, Any]:
    """The fields an event's hash covers, from an :class:`AuditEvent` or a row of its table.

    ``rows`` is covered only when it is set, so every event recorded before events carried
    row hashes still verifies.
    """
    fields = {
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
    if event.rows is not None:
        fields["rows"] = event.rows
    return fields


_fields = event_fields  # the name the tests and the tampering helpers know


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
    """Append one event in the caller's transaction (it commits or rolls back with the change).

    The session is flushed first, and the event carries the hashes of every guarded row
    written since the transaction's previous event (``rows``; ``None`` when there are none).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": AUDIT_LOCK_ID})
    session.flush()
    return _append(
        session,
        _take_rows(session),
        actor=actor,
        role=role,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        reason=reason,
    )


def _append(session: Session, rows: list[dict[str, Any]], **values: Any) -> AuditEvent:
    last = session.scalars(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    event = AuditEvent(occurred_at=utcnow(), prev_hash=last or GENESIS_HASH, **values)
    if rows:
        event.rows = rows
    event.hash = event_hash(event.prev_hash, event_fields(event))
    session.add(event)
    session.flush()
    session.info[_LAST] = (event.actor, event.role)
    return event


def mark_changed(session: Session, table: str, row_id: RowId) -> None:
    """Note that guarded row ``row_id`` of ``table`` changed in a way the session cannot see
    (a database function, a SQL text), so the next event carries its hash."""
    if table not in GUARDED:
        raise ValueError(f"{table!r} is not a guarded table (see rowhash.GUARDED)")
    _pending(session)[(table, row_id)] = None


def verify(session: Session) -> ChainBreak | None:
    """Check the whole chain; return the first broken event, or None when it holds.

    The events are streamed as plain rows, so a long trail is not held in memory.
    """
    table = AuditEvent.__table__
    statement = select(table).order_by(table.c.id).execution_options(yield_per=1000)

    def rows() -> Iterator[tuple[int, str, str, dict[str, Any]]]:
        for event in session.execute(statement):
            yield event.id, event.prev_hash, event.hash, event_fields(event)

    return verify_chain(rows())


# --- The listeners ---------------------------------------------------------------------------


def _pending(session: Session) -> dict[tuple[str, RowId], None]:
    pending: dict[tuple[str, RowId], None] = session.info.setdefault(_PENDING, {})
    return pending


def _take_rows(session: Session) -> list[dict[str, Any]]:
    """The ``rows`` of an event: the hashes of the pending guarded rows, read back now.

    A row that is gone gets hash ``None``; a row that exists but is not guarded (a draft
    read) is left out. The pending rows are cleared.
    """
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return []
    by_table: dict[str, list[RowId]] = {}
    for table, row_id in pending:
        by_table.setdefault(table, []).append(row_id)
    entries: list[dict[str, Any]] = []
    for table in GUARDED:
        ids = by_table.get(table)
        if not ids:
            continue
        found = dict(live_rows(session, table, ids))
        for row_id in sorted(set(ids), key=_sort_key):
            if row_id not in found:
                entries.append({"table": table, "id": row_id, "hash": None})
            elif (digest := found[row_id]) is not None:
                entries.append({"table": table, "id": row_id, "hash": digest})
    return entries


def _sort_key(row_id: RowId) -> tuple[int, str]:
    return (int(row_id), "") if isinstance(row_id, int) else (0, row_id)


def _guarded(mapper: Mapper[Any]) -> GuardedTable | None:
    table = getattr(mapper.local_table, "name", None)
    return GUARDED.get(table) if isinstance(table, str) else None


def _note(mapper: Mapper[Any], target: object, *, deleted: bool = False) -> None:
    """Add ``target``'s row to its session's pending rows if its table is guarded."""
    guarded = _guarded(mapper)
    state = sa.inspect(target)
    session = state.session
    if guarded is None or session is None:
        return
    loaded = state.dict
    only_when = guarded.only_when
    if deleted and only_when is not None and only_when[0] in loaded and not guarded.guards(loaded):
        return  # a draft read discarded: the trail never knew it
    names = [mapper.get_property_by_column(column).key for column in mapper.primary_key]
    if state.identity is not None:
        key = dict(zip(names, state.identity, strict=True))
    else:
        key = {name: loaded.get(name) for name in names}
    _pending(session)[(guarded.name, guarded.row_id(key))] = None


def _after_insert(mapper: Mapper[Any], _connection: sa.Connection, target: object) -> None:
    _note(mapper, target)


def _after_update(mapper: Mapper[Any], _connection: sa.Connection, target: object) -> None:
    guarded = _guarded(mapper)
    if guarded is None:
        return
    # Only a change of a covered column: a case's clinical notes are saved without one.
    state = sa.inspect(target)
    columns = mapper.local_table.c
    for name in guarded.columns:
        attribute = mapper.get_property_by_column(columns[name]).key
        if state.attrs[attribute].history.has_changes():
            _note(mapper, target)
            return


def _before_delete(mapper: Mapper[Any], connection: sa.Connection, target: object) -> None:
    table = getattr(mapper.local_table, "name", None)
    session = sa.inspect(target).session
    if table in _DB_CASCADES and session is not None:
        parent = sa.table(str(table), sa.column("id", sa.Integer()))
        identity = sa.inspect(target).identity
        if identity is not None:
            ids = select(parent.c.id).where(parent.c.id == identity[0])
            _cascaded(session, connection, str(table), ids)


def _after_delete(mapper: Mapper[Any], _connection: sa.Connection, target: object) -> None:
    _note(mapper, target, deleted=True)


def _cascaded(session: Session, connection: Any, table: str, parents: sa.Select[Any]) -> None:
    """Mark the guarded rows the database will delete with the rows of ``parents`` (ids)."""
    pending = _pending(session)
    for child, column in _DB_CASCADES.get(table, ()):
        core = sa.table(child, sa.column("id", sa.Integer()), sa.column(column, sa.Integer()))
        children = select(core.c.id).where(core.c[column].in_(parents))
        for (row_id,) in connection.execute(children):
            pending[(child, int(row_id))] = None
        _cascaded(session, connection, child, children)


def _do_orm_execute(state: ORMExecuteState) -> None:
    """Select the rows an ORM-enabled ``update()`` or ``delete()`` of a guarded table hits."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    statement: Any = state.statement
    table = getattr(getattr(statement, "table", None), "name", None)
    if table not in GUARDED and table not in _DB_CASCADES:
        return
    if state.is_insert:
        raise RuntimeError(
            f"a bulk INSERT into the guarded table {table!r} cannot be audited row by row: "
            "add the rows as ORM objects (session.add) instead"
        )
    core = statement.table
    where = statement.whereclause
    session = state.session
    pending = _pending(session)
    guarded = GUARDED.get(str(table))
    if guarded is not None:
        keys = select(*(core.c[name] for name in guarded.key))
        if where is not None:
            keys = keys.where(where)
        for row in session.execute(keys):
            pending[(str(table), guarded.row_id(dict(row._mapping)))] = None
    if state.is_delete:
        ids = select(core.c.id)
        _cascaded(session, session, str(table), ids.where(where) if where is not None else ids)


def _before_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint: the transaction goes on
    session.flush()
    if not session.info.get(_PENDING):
        return
    rows = _take_rows(session)
    if not rows:
        return
    last = session.info.get(_LAST)
    if last is None:
        named = ", ".join(f"{row['table']} row {row['id']}" for row in rows[:10])
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        raise RuntimeError(
            f"guarded rows changed in a transaction that recorded no audit event: {named}"
            f"{more}; the write path must record what it did with workbench.registry.audit."
            "record() (nothing was written)"
        )
    actor, role = last
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": AUDIT_LOCK_ID})
    _append(
        session,
        rows,
        actor=actor,
        role=role,
        action=ROWS_ACTION,
        entity_type="audit",
        entity_id=None,
        before=None,
        after=None,
        reason=None,
    )


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_LAST, None)


_SESSION_LISTENERS: tuple[tuple[str, Any], ...] = (
    ("do_orm_execute", _do_orm_execute),
    ("before_commit", _before_commit),
    ("after_transaction_end", _after_transaction_end),
)
_MAPPER_LISTENERS: tuple[tuple[str, Any], ...] = (
    ("after_insert", _after_insert),
    ("after_update", _after_update),
    ("before_delete", _before_delete),
    ("after_delete", _after_delete),
)


def install() -> None:
    """Register the row-guarding listeners: on every ``Session``, and on every mapped class
    of the registry (the unit of work's inserts, updates and deletes). Idempotent."""
    for name, listener in _SESSION_LISTENERS:
        if not sa_event.contains(Session, name, listener):
            sa_event.listen(Session, name, listener)
    for name, listener in _MAPPER_LISTENERS:
        if not sa_event.contains(Base, name, listener):
            sa_event.listen(Base, name, listener, propagate=True)


install()
