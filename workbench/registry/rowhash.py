"""Hashes of the registry's *guarded* rows, the ones whose change must show in the audit trail.

An audit event that creates, changes or deletes a guarded row carries that row's hash in its
``rows`` (see :mod:`workbench.registry.audit`), so ``audit verify`` can fold the trail to the
latest hash of every row and compare it with the live tables
(:mod:`workbench.registry.reconcile`): a decision set final, a signature or an administrator
role inserted, a submitted read edited by someone typing SQL shows, although the trail itself
is intact.

:data:`GUARDED` is the one place that says which tables are guarded and which of their
columns a hash covers. A column is covered when it carries what the registry attests (who
decided what, who signed, who may do what, what a reader submitted); bookkeeping that the
workbench rewrites on its own (``version``, ``updated_at``) is not, so saving a row unchanged
never makes it differ from the trail. Everything here reads with Core statements on a
SQLAlchemy ``Connection`` or ``Session`` and builds no ORM object, so a migration can use it
and ``audit verify`` can stream a large registry.

A row's hash is the SHA-256 of the canonical JSON of ``{"table", "id", "values"}`` (the
covered columns by name): keys sorted, no spaces, UTF-8, enums as their value, times as
:func:`adjudication.audit.canonical_time` (UTC, microseconds, no offset), JSON documents as
stored, floats as Python's shortest round-trip ``repr`` (what :mod:`json` writes), so the
same row read back from SQLite or PostgreSQL hashes the same. Values are always read back
from the database, never taken from an object in memory. A user's ``password_hash`` is
covered by its SHA-256 (:func:`password_hash_digest`), which every user may read.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from adjudication.audit import canonical_time

RowId = int | str
"""A guarded row's id in the trail: its integer primary key, or for ``user_roles`` (whose key
is ``user_id`` and ``role``) the text ``"<user_id>:<role>"``, e.g. ``"3:panel"``."""


class Kind(enum.StrEnum):
    """How a covered column's value is put into canonical form."""

    TEXT = "text"
    """Text or an enum's value."""
    INT = "int"
    BOOL = "bool"
    TIME = "time"
    """A UTC timestamp (:func:`adjudication.audit.canonical_time`)."""
    JSON = "json"
    """A JSON document, hashed as stored."""


def _text(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _bool(value: Any) -> Any:
    return None if value is None else bool(value)


def _time(value: Any) -> Any:
    return None if value is None else canonical_time(value)


def _as_is(value: Any) -> Any:
    return value


_CANONICAL: dict[Kind, Callable[[Any], Any]] = {
    Kind.TEXT: _text,
    Kind.INT: _as_is,
    Kind.BOOL: _bool,
    Kind.TIME: _time,
    Kind.JSON: _as_is,
}
_TYPES: dict[Kind, sa.types.TypeEngine[Any]] = {
    Kind.TEXT: sa.String(),
    Kind.INT: sa.Integer(),
    Kind.BOOL: sa.Boolean(),
    Kind.TIME: sa.DateTime(timezone=True),
    Kind.JSON: sa.JSON(),
}


@dataclass(frozen=True, slots=True)
class GuardedTable:
    """One guarded table: its key columns and the columns its rows' hashes cover."""

    name: str
    key: tuple[str, ...]
    """``("id",)``, or the composite key joined with ``:`` into the row's id."""
    columns: Mapping[str, Kind]
    """The covered columns, each with how its value is made canonical."""
    only_when: tuple[str, str] | None = None
    """``(column, value)``: rows where ``column`` (a covered one) holds ``value`` are not
    guarded (yet)."""

    def __post_init__(self) -> None:
        if not self.key or any(k != "id" and k not in self.columns for k in self.key):
            raise ValueError(f"{self.name}: key {self.key!r}: 'id' or covered columns only")
        if self.only_when is not None and self.only_when[0] not in self.columns:
            raise ValueError(f"{self.name}: only_when names {self.only_when[0]!r}, not covered")

    def guards(self, values: Mapping[str, Any]) -> bool:
        """Whether a row with these column values is guarded now."""
        if self.only_when is None:
            return True
        column, excluded = self.only_when
        return _text(values[column]) != excluded

    def row_id(self, values: Mapping[str, Any]) -> RowId:
        """The id the trail knows the row by."""
        if self.key == ("id",):
            return int(values["id"])
        return ":".join(str(_text(values[column])) for column in self.key)

    def table(self) -> sa.TableClause:
        """A Core table of the key and covered columns, typed so values read back canonical."""
        kinds = {**({"id": Kind.INT} if "id" in self.key else {}), **self.columns}
        return sa.table(self.name, *(sa.column(n, _TYPES[k]) for n, k in kinds.items()))


GUARDED: dict[str, GuardedTable] = {
    table.name: table
    for table in (
        # The panel's decision and the engine result it was made against; not ``version`` or
        # ``created_at`` (the decision's time is its signatures' and events' business).
        GuardedTable(
            "adjudications",
            ("id",),
            {
                "case_id": Kind.INT,
                "certainty": Kind.TEXT,
                "pathway": Kind.TEXT,
                "is_final": Kind.BOOL,
                "supersedes_id": Kind.INT,
                "change_reason": Kind.TEXT,
                "created_by_id": Kind.INT,
                "rationale": Kind.TEXT,
                "alternative_diagnosis": Kind.TEXT,
                "engine_version": Kind.TEXT,
                "engine_result": Kind.JSON,
            },
        ),
        # An electronic signature: every column that 21 CFR 11.50 asks it to show.
        GuardedTable(
            "signatures",
            ("id",),
            {
                "adjudication_id": Kind.INT,
                "user_id": Kind.INT,
                "printed_name": Kind.TEXT,
                "meaning": Kind.TEXT,
                "signed_at": Kind.TIME,
            },
        ),
        # A read once submitted (a draft is the reader's own until then, saved without events);
        # its lesion masks are not covered.
        GuardedTable(
            "reads",
            ("id",),
            {
                "case_id": Kind.INT,
                "reader_id": Kind.INT,
                "revision": Kind.INT,
                "supersedes_id": Kind.INT,
                "status": Kind.TEXT,
                "imaging_judgement": Kind.TEXT,
                "confidence": Kind.INT,
                "features": Kind.JSON,
                "comment": Kind.TEXT,
                "submitted_at": Kind.TIME,
                "correction_reason": Kind.TEXT,
            },
            only_when=("status", "draft"),
        ),
        # Who reads or decides a case, and who assigned them; not ``due_at`` (a reminder).
        GuardedTable(
            "reader_assignments",
            ("id",),
            {
                "case_id": Kind.INT,
                "user_id": Kind.INT,
                "role": Kind.TEXT,
                "assigned_by_id": Kind.INT,
            },
        ),
        # A case's identity and where it stands in the review; its clinical record is not.
        GuardedTable("cases", ("id",), {"registry_id": Kind.TEXT, "status": Kind.TEXT}),
        # Who holds which role: an inserted ``admin`` row is the classic privilege escalation.
        GuardedTable("user_roles", ("user_id", "role"), {"user_id": Kind.INT, "role": Kind.TEXT}),
        # Who a user is and how they authenticate; not ``created_at``. ``password_hash`` is
        # covered through its digest (:func:`password_hash_digest`).
        GuardedTable(
            "users",
            ("id",),
            {
                "username": Kind.TEXT,
                "display_name": Kind.TEXT,
                "active": Kind.BOOL,
                "password_hash": Kind.TEXT,
                "must_change_password": Kind.BOOL,
                "db_role": Kind.TEXT,
            },
        ),
    )
}
"""The guarded tables by name, and what a hash of each of their rows covers."""

_SECRET_COLUMNS = {("users", "password_hash")}
"""Covered columns not read with the others: their digest is (:func:`password_hash_digest`)."""


_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical_values(table: GuardedTable, values: Mapping[str, Any]) -> dict[str, Any]:
    """The covered columns of one row in canonical form (extra keys are ignored)."""
    return {column: _CANONICAL[kind](values[column]) for column, kind in table.columns.items()}


def _hash(table: str, row_id: RowId, canonical: Mapping[str, Any]) -> str:
    payload = _ENCODE({"table": table, "id": row_id, "values": canonical})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def row_hash(table: str, row_id: RowId, values: Mapping[str, Any]) -> str:
    """The hash of one guarded row, from its covered columns (extra keys are ignored).

    For ``users``, ``password_hash`` is the digest :func:`password_hash_digest` gives.
    """
    return _hash(table, row_id, canonical_values(GUARDED[table], values))


def password_hash_digest(connection: sa.Connection | Any, username: str) -> str | None:
    """What a row hash covers of ``username``'s password: the SHA-256 of the stored hash.

    The one place row hashing reaches ``users.password_hash``. The column is deferred on the
    model, and on PostgreSQL closed to the people using the workbench, who may each read
    only their own hash; every one of them may read this digest
    (:func:`workbench.registry.pg_security.password_hash_digest`), which shows a replaced
    hash as surely as the hash itself and gives nothing to guess passwords with.
    """
    from workbench.registry.pg_security import password_hash_digest as digest

    return digest(connection, username)


def live_rows(
    connection: sa.Connection | Any,
    table: str,
    ids: Iterable[RowId] | None = None,
    *,
    batch: int = 2000,
) -> Iterator[tuple[RowId, str | None]]:
    """``(row id, hash)`` of the live rows of ``table`` (all, or those of ``ids``), streamed
    in key order.

    ``connection`` is a Core ``Connection`` or an ORM ``Session``. The hash is ``None`` for a
    row that exists but is not guarded now (a draft read). Rows of ``ids`` that do not exist
    are left out.
    """
    guarded = GUARDED[table]
    core = guarded.table()
    selected = [c for c in core.c if (table, c.name) not in _SECRET_COLUMNS]
    order = [core.c[k] for k in guarded.key]
    if ids is None:
        statement = sa.select(*selected).order_by(*order).execution_options(yield_per=batch)
        yield from _hashed(connection, guarded, selected, connection.execute(statement))
        return
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), batch):
        chunk = wanted[start : start + batch]
        where: sa.ColumnElement[bool]
        if guarded.key == ("id",):
            where = core.c.id.in_([int(i) for i in chunk])
        else:
            pairs = [str(i).split(":", 1) for i in chunk]
            where = sa.or_(
                *(
                    sa.and_(core.c[guarded.key[0]] == int(a), core.c[guarded.key[1]] == b)
                    for a, b in pairs
                )
            )
        statement = sa.select(*selected).where(where).order_by(*order)
        yield from _hashed(connection, guarded, selected, connection.execute(statement))


def _hashed(
    connection: Any, guarded: GuardedTable, selected: list[Any], result: Iterable[Any]
) -> Iterator[tuple[RowId, str | None]]:
    """Hash each row of ``result`` (the columns of ``selected``, positionally)."""
    position = {column.name: i for i, column in enumerate(selected)}
    convert = [
        (name, position.get(name), _CANONICAL[kind]) for name, kind in guarded.columns.items()
    ]
    secret = [name for name, at, _ in convert if at is None]
    keys = [position[name] for name in guarded.key]
    simple = guarded.key == ("id",)
    excluded = None
    if guarded.only_when is not None:
        excluded = (position[guarded.only_when[0]], guarded.only_when[1])
    username = position.get("username")
    for row in result:
        if excluded is not None and _text(row[excluded[0]]) == excluded[1]:
            yield (int(row[keys[0]]) if simple else _joined(row, keys)), None
            continue
        canonical = {name: canon(row[at]) for name, at, canon in convert if at is not None}
        for name in secret:  # users.password_hash, through its digest
            canonical[name] = password_hash_digest(connection, row[username])
        row_id = int(row[keys[0]]) if simple else _joined(row, keys)
        yield row_id, _hash(guarded.name, row_id, canonical)


def _joined(row: Any, keys: list[int]) -> str:
    return ":".join(str(_text(row[i])) for i in keys)
