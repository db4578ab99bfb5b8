"""Audit anchors: the trail's head kept outside the database catches what the chain cannot.

The hash chain alone passes a trail whose last events were deleted, or whose history was
rewritten with every later hash recomputed; the trail must still contain each anchored head.
"""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from tests.actors import actor_of
from tests.signin import login
from tests.tamper import out_of_band
from workbench.cases import NewCase, create_case
from workbench.cli import main
from workbench.domain import Condition, Sex
from workbench.errors import ValidationError
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent
from workbench.services import admin
from workbench.users import Actor


def _cases(registry: Registry, actor: Actor, *ids: str) -> None:
    with registry.write() as session:
        for registry_id in ids:
            create_case(
                session, actor, NewCase(registry_id, "S1", Sex.MALE, "20-29", Condition.HIV)
            )


def _delete_last_event(url: str) -> None:
    with out_of_band(url) as conn:
        last = conn.scalar(select(func.max(AuditEvent.id)))
        conn.execute(delete(AuditEvent).where(AuditEvent.id == last))


def _rewrite(url: str, event_id: int, reason: str) -> None:
    """Edit one event and recompute its hash and every later one, as a careful forger would."""
    with (
        out_of_band(url) as conn,
        Session(bind=conn, join_transaction_mode="create_savepoint") as session,
    ):
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.id >= event_id).order_by(AuditEvent.id)
        ).all()
        events[0].reason = reason
        prev = events[0].prev_hash
        for event in events:
            event.prev_hash = prev
            event.hash = prev = audit.event_hash(prev, audit._fields(event))
            session.flush()
        session.commit()


def test_anchor_then_more_events_is_contained(
    registry: Registry, coordinator: Actor, tmp_path: Path
) -> None:
    _cases(registry, coordinator, "PML-1")
    anchor = admin.anchor_audit(registry)
    assert anchor.events == 2  # the bootstrapped user, the case
    assert "password" not in anchor.registry
    assert "***" not in anchor.registry
    path = tmp_path / "anchor.json"
    admin.write_anchor(anchor, path)
    _cases(registry, coordinator, "PML-2", "PML-3")
    read = admin.read_anchor(path)
    assert read == dataclasses.replace(anchor, written_at=read.written_at)
    assert admin.verify_audit(registry).intact
    assert admin.check_anchor(registry, read).contained


def test_a_deleted_tail_is_caught_only_with_the_anchor(
    registry: Registry, registry_url: str, coordinator: Actor
) -> None:
    _cases(registry, coordinator, "PML-1", "PML-2")
    anchor = admin.anchor_audit(registry)
    _delete_last_event(registry_url)
    verified = admin.verify_audit(registry)
    assert verified.intact  # the chain alone is fooled
    assert verified.events == anchor.events - 1
    # The deleted event created case PML-2: its row is live but no longer in the trail.
    assert [(f.table, f.row_id, f.problem) for f in verified.findings] == [
        ("cases", 2, "not in the audit trail")
    ]
    check = admin.check_anchor(registry, anchor)
    assert not check.contained
    assert check.problem is not None
    assert f"audit event {anchor.head_id}" in check.problem
    assert "gone" in check.problem


def test_fewer_events_than_anchored_are_caught(registry: Registry, coordinator: Actor) -> None:
    _cases(registry, coordinator, "PML-1")
    anchor = admin.anchor_audit(registry)
    check = admin.check_anchor(registry, dataclasses.replace(anchor, events=anchor.events + 1))
    assert check.problem is not None
    assert "fewer than the" in check.problem


def test_rewritten_history_is_caught(
    registry: Registry, registry_url: str, coordinator: Actor
) -> None:
    _cases(registry, coordinator, "PML-1", "PML-2")
    anchor = admin.anchor_audit(registry)
    _cases(registry, coordinator, "PML-3")
    _rewrite(registry_url, anchor.head_id, "nothing to see")
    assert admin.verify_audit(registry).intact  # the chain alone is fooled
    check = admin.check_anchor(registry, anchor)
    assert check.problem is not None
    assert "different hash" in check.problem


def test_a_broken_or_empty_trail_is_not_anchored(
    sqlite_registry: Registry, sqlite_url: str
) -> None:
    with pytest.raises(ValidationError, match="empty"):
        admin.anchor_audit(sqlite_registry)
    _cases(sqlite_registry, actor_of(sqlite_registry, "coordinator"), "PML-1")
    with out_of_band(sqlite_url) as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.id == 1).values(actor="x"))
    with pytest.raises(ValidationError, match=r"audit event 1: .*not anchored"):
        admin.anchor_audit(sqlite_registry)


def test_anchor_file_is_private_and_never_silently_replaced(
    sqlite_registry: Registry, tmp_path: Path
) -> None:
    actor_of(sqlite_registry, "coordinator")
    anchor = admin.anchor_audit(sqlite_registry)
    folder = tmp_path / "anchors"
    folder.mkdir()
    path = folder / "anchor.json"
    admin.write_anchor(anchor, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ValidationError, match="exists; not overwritten"):
        admin.write_anchor(anchor, path)
    path.chmod(0o644)
    admin.write_anchor(anchor, path, force=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in folder.iterdir()] == ["anchor.json"]  # no temporary left


GOOD = {
    "format": admin.ANCHOR_FORMAT,
    "events": 3,
    "head_id": 3,
    "head_hash": "a" * 64,
    "written_at": "2026-01-31T17:00:00Z",
    "registry": "sqlite:///registry.sqlite3",
}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"events": None}, "events", "missing"),
        ({"events": 0}, "events", "at least 1"),
        ({"events": True}, "events", "whole number"),
        ({"head_id": "3"}, "head_id", "whole number"),
        ({"head_hash": "A" * 64}, "head_hash", "64 lowercase hex"),
        ({"head_hash": "a" * 63}, "head_hash", "64 lowercase hex"),
        ({"written_at": "yesterday"}, "written_at", "not a UTC time"),
        ({"written_at": "2026-01-31T17:00:00+01:00Z"}, "written_at", "not a UTC time"),
        ({"registry": 5}, "registry", "not a text"),
        ({"format": "something else"}, "format", "is not"),
        ({"extra": 1}, "extra", "unknown field"),
    ],
)
def test_a_malformed_anchor_names_the_file_and_the_field(
    tmp_path: Path, change: dict[str, object], field: str, message: str
) -> None:
    document = {**GOOD, **change}
    document = {k: v for k, v in document.items() if v is not None}
    path = tmp_path / "anchor.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        admin.read_anchor(path)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{path}: {field}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such audit anchor file"), ("{", "invalid JSON"), ("[]", "a JSON object")],
)
def test_a_missing_or_unparsable_anchor_names_the_file(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "anchor.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ValidationError, match=message) as caught:
        admin.read_anchor(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_good_anchor_round_trips() -> None:
    anchor = admin.AuditAnchor.from_json(json.dumps(GOOD))
    assert json.loads(anchor.to_json()) == GOOD


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_anchor_and_verify(
    capsys: pytest.CaptureFixture[str], sqlite_url: str, tmp_path: Path
) -> None:
    add = (
        *("case", "add", "--id", "PML-1", "--site", "S1", "--sex", "male"),
        *("--age-band", "20-29", "--condition", "hiv"),
    )
    login(sqlite_url, "coordinator")  # the sign-in's own events come first
    base = int(run(capsys, "--db", sqlite_url, "audit", "verify")[1].split()[3])
    assert run(capsys, "--db", sqlite_url, *add)[0] == 0
    first, second = tmp_path / "day1.json", tmp_path / "day2.json"
    code, out, err = run(capsys, "--db", sqlite_url, "audit", "anchor", str(first))
    assert (code, err) == (0, "")
    assert f"anchored the audit trail at event {base + 1} ({base + 1} events, " in out
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    code, _, err = run(capsys, "--db", sqlite_url, "audit", "anchor", str(first))
    assert code == 1
    assert err == f"error: {first}: exists; not overwritten (use --force to replace it)\n"
    assert run(capsys, "--db", sqlite_url, "audit", "anchor", str(first), "--force")[0] == 0

    add2 = tuple("PML-2" if a == "PML-1" else a for a in add)
    assert run(capsys, "--db", sqlite_url, *add2)[0] == 0
    assert run(capsys, "--db", sqlite_url, "audit", "anchor", str(second))[0] == 0
    verify = ("--db", sqlite_url, "audit", "verify", "--anchor", str(first), "--anchor")
    code, out, err = run(capsys, *verify, str(second))
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"audit chain intact: {base + 2} event(s)"
    assert out.splitlines()[1].startswith(f"anchor {first} ({base + 1} events at 20")
    assert out.splitlines()[1].endswith("Z): contained")

    _delete_last_event(sqlite_url)
    code, out, err = run(capsys, "--db", sqlite_url, "audit", "verify")
    assert out == f"audit chain intact: {base + 1} event(s)\n"  # the chain alone is fooled
    # ... but not the reconciliation: the deleted event created case PML-2.
    assert code == 1
    assert err.splitlines()[0] == "error: cases row 2: not in the audit trail"
    code, out, err = run(capsys, *verify, str(second))
    assert code == 1
    assert f"anchor {first} ({base + 1} events at " in out  # the older anchor still holds
    assert err.count("\n") == 3  # the anchor, the row, how many rows
    assert err.startswith(f"error: anchor {second} ({base + 2} events at ")
    assert f"not contained: audit event {base + 2}, the anchored head, is gone" in err

    code, out, err = run(capsys, *verify, str(tmp_path / "missing.json"))
    assert (code, out) == (2, "")
    assert err == f"error: {tmp_path / 'missing.json'}: no such audit anchor file\n"
    head = f'"head_id": {base + 2}'
    second.write_text(second.read_text().replace(head, f'"head_id": -{base + 2}'))
    code, out, err = run(capsys, *verify, str(second))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {second}: head_id: -{base + 2} is not a whole number")
