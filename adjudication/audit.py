"""The audit chain: each event carries the hash of the one before, so an edit shows.

Pure functions over plain values; the registry stores the events and calls
:func:`event_hash` when it appends and :func:`verify_chain` when asked to check.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first event of a registry."""


def canonical_time(when: dt.datetime) -> str:
    """UTC time as ISO 8601 with microseconds and no offset (what every backend round-trips)."""
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when.isoformat(timespec="microseconds")


def event_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 over the previous hash and the event's fields in canonical JSON."""
    payload = json.dumps(
        {"prev_hash": prev_hash, **fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first event at which the chain does not hold, and why."""

    event_id: int
    reason: str


def verify_chain(events: Iterable[tuple[int, str, str, Mapping[str, Any]]]) -> ChainBreak | None:
    """Check ``(id, prev_hash, hash, fields)`` events in id order; return the first break."""
    expected_prev = GENESIS_HASH
    for event_id, prev_hash, stored_hash, fields in events:
        if prev_hash != expected_prev:
            return ChainBreak(
                event_id,
                "its previous-hash does not match the event before it "
                "(an event was deleted or inserted out of band)",
            )
        if event_hash(prev_hash, fields) != stored_hash:
            return ChainBreak(event_id, "its content does not match its hash (the row was edited)")
        expected_prev = stored_hash
    return None
