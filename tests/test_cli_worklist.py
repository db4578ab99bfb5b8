"""``queue``, ``dashboard``, ``case assign --suggest/--apply/--due-days`` and users' sites, end
to end on a real SQLite file."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from adjudication.vocabulary import Role
from tests.signin import TEST_PASSWORD
from tests.test_cli import run
from workbench.cases import get_case, update_case
from workbench.registry.db import Registry
from workbench.registry.models import Case, CaseAssignment, User
from workbench.users import add_user, resolve_actor

READERS = {"rad1": "NL-AMS", "rad2": "DE-BER", "rad3": None}


def _days(start: dt.datetime, end: dt.datetime | None) -> float:
    """Days from ``start`` to ``end`` (a due date is always set here)."""
    assert end is not None
    return (end - start).total_seconds() / 86400


def _case(capsys: pytest.CaptureFixture[str], url: str, registry_id: str, site: str) -> None:
    code, _, err = run(
        capsys, "--db", url, "case", "add", "--id", registry_id, "--site", site,
        "--sex", "female", "--age-band", "40-49", "--condition", "hiv",
    )  # fmt: skip
    assert code == 0, err
    registry = Registry.open(url)
    try:
        with registry.write() as session:
            version = get_case(session, registry_id).version
            boss = resolve_actor(session, "coordinator")
            update_case(session, boss, registry_id, version, {"status": "ready"})
    finally:
        registry.close()


@pytest.fixture
def url(capsys: pytest.CaptureFixture[str], sqlite_url: str) -> str:
    """Readers of :data:`READERS` (with their own passwords), PML-0001 (NL-AMS) and PML-0002
    (DE-BER), both ready."""
    _case(capsys, sqlite_url, "PML-0001", "NL-AMS")
    _case(capsys, sqlite_url, "PML-0002", "DE-BER")
    registry = Registry.open(sqlite_url)
    try:
        with registry.write() as session:
            boss = resolve_actor(session, "coordinator")
            for name, site in READERS.items():
                add_user(
                    session, name, name, {Role.READER}, by=boss, site=site, password=TEST_PASSWORD
                )
    finally:
        registry.close()
    return sqlite_url


def _due_days(url: str, registry_id: str) -> dict[str, int]:
    registry = Registry.open(url)
    try:
        with registry.read() as session:
            rows = session.execute(
                select(User.username, CaseAssignment.assigned_at, CaseAssignment.due_at)
                .join(User, User.id == CaseAssignment.user_id)
                .join(Case, Case.id == CaseAssignment.case_id)
                .where(Case.registry_id == registry_id)
            ).all()
    finally:
        registry.close()
    return {name: round(_days(at, due)) for name, at, due in rows}


def test_users_get_a_site_when_added_and_later(
    capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    db = ("--db", sqlite_url)
    code, out, err = run(
        capsys, *db, "user", "add", "rad9", "--name", "Dr Nine", "--role", "reader",
        "--site", "NL-AMS",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out == "added user rad9 at site NL-AMS\n"
    assert "site NL-AMS" in run(capsys, *db, "user", "list")[1]
    assert run(capsys, *db, "user", "edit", "rad9", "--site", "DE-BER")[1] == "rad9: site DE-BER\n"
    assert "rad9\tDr Nine\treader\tsite DE-BER" in run(capsys, *db, "user", "list")[1]
    assert run(capsys, *db, "user", "edit", "rad9", "--no-site")[1] == "rad9: no site\n"
    assert "site" not in run(capsys, *db, "user", "list")[1].split("rad9")[1].splitlines()[0]
    code, _, err = run(capsys, *db, "user", "edit", "rad9", "--site", "de ber")
    assert code == 1
    assert err == "error: site: 'de ber' is not a site code (capital letters, digits, '-')\n"
    code, _, err = run(capsys, *db, "user", "edit", "ghost", "--site", "DE-BER")
    assert (code, err) == (1, "error: user 'ghost' is not known to this registry\n")


def test_a_reader_may_not_set_sites(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, _, err = run(capsys, "--db", url, "--user", "rad1", "user", "edit", "rad1", "--no-site")
    assert code == 1
    assert "may not change users' details" in err


def test_suggest_then_apply_then_the_queue_and_dashboard(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    db = ("--db", url)
    code, out, err = run(capsys, *db, "case", "assign", "PML-0001", "--suggest")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "PML-0001 (site NL-AMS, ready): 0 of 2 reader(s) assigned, 2 needed"
    assert lines[1] == "suggested: rad2, rad3"
    assert any("rad1" in line and "excluded: works at NL-AMS" in line for line in lines)
    assert lines[-1] == "assign them with: pml-workbench case assign PML-0001 --suggest --apply"
    assert _due_days(url, "PML-0001") == {}  # a suggestion writes nothing

    code, out, err = run(
        capsys, *db, "case", "assign", "PML-0001", "--suggest", "--apply", "--due-days", "3"
    )
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "PML-0001: assigned rad2, rad3; status in_reading"
    assert _due_days(url, "PML-0001") == {"rad2": 3, "rad3": 3}
    code, _, err = run(capsys, *db, "case", "assign", "PML-0002", "--reader", "rad3")
    assert code == 0, err
    assert _due_days(url, "PML-0002") == {"rad3": 14}  # the default of review.toml

    code, out, err = run(capsys, *db, "--user", "rad3", "queue")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "My queue (rad3): 2 open · 0 overdue · assigned 2"
    assert out.splitlines()[2].split()[:5] == ["PML-0001", "NL-AMS", "reader", "assigned", "in"]
    assert "in 3 d" in out.splitlines()[2]
    code, out, _ = run(capsys, *db, "--user", "rad3", "queue", "--json")
    queue = json.loads(out)
    assert [i["registry_id"] for i in queue["items"]] == ["PML-0001", "PML-0002"]
    assert queue["counts"]["assigned"] == 2
    assert queue["overdue"] == 0

    code, out, err = run(capsys, *db, "--user", "rad3", "dashboard")
    assert code == 1
    assert "may not see the review dashboard" in err
    assert out == ""

    code, out, err = run(capsys, *db, "--user", "rad3", "logout")
    code, out, err = run(capsys, *db, "dashboard", "--json")
    assert (code, err) == (0, "")
    board = json.loads(out)
    assert board["total"] == 2
    assert board["by_status"]["in_reading"] == 1
    assert board["by_status"]["ready"] == 1
    readers = {r["username"]: r for r in board["readers"]}
    assert (readers["rad3"]["open_reads"], readers["rad2"]["open_reads"]) == (2, 1)
    assert readers["rad1"]["open_reads"] == 0
    code, out, _ = run(capsys, *db, "dashboard")
    assert "2 case(s), 3 open read(s), 0 overdue" in out
    assert "rad3" in out
    assert "NL-AMS" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("--apply",),
            "error: case assign: --apply assigns what --suggest suggests; add --suggest",
        ),
        (("--suggest", "--reader", "rad2"), "error: case assign: --suggest chooses the readers"),
        (("--suggest", "--apply", "--due-days", "0"), "error: due days: 0 — give 1 to 365"),
        (("--reader", "rad2", "--due-days", "400"), "error: due days: 400 — give 1 to 365"),
        ((), "error: case assign: name at least one --reader or --panel, or --suggest"),
    ],
)
def test_bad_assignments_are_refused_and_write_nothing(
    capsys: pytest.CaptureFixture[str], url: str, argv: tuple[str, ...], message: str
) -> None:
    code, _out, err = run(capsys, "--db", url, "case", "assign", "PML-0001", *argv)
    assert code == 1
    assert err.startswith(message)
    assert err.count("\n") == 1
    assert _due_days(url, "PML-0001") == {}


def test_a_suggestion_for_a_reader_is_refused(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, _, err = run(
        capsys, "--db", url, "--user", "rad1", "case", "assign", "PML-0001", "--suggest"
    )
    assert code == 1
    assert "may not assign readers and panel members" in err
