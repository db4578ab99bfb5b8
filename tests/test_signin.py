"""Who acts is proven: sign-in, sessions, one-time passwords and backoff, on both backends.

Everything a user does here goes through the real command line (``login``, ``logout``,
``whoami`` and the commands they gate) or the sign-in service the window calls.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.signin import TEST_PASSWORD, login
from workbench import auth
from workbench.cli import main
from workbench.registry.db import Registry
from workbench.registry.models import AuditEvent, AuthFailure, SignInSession, utcnow
from workbench.services import signin


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *argv: str,
    stdin: str | None = None,
) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _add_reader(url: str, name: str, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    code, _, err = run(
        capsys, monkeypatch, "--db", url, "user", "add", name, "--name", f"Dr {name}",
        "--role", "reader", "--password-stdin", stdin=f"one-time-{name}\n",
    )  # fmt: skip
    assert code == 0, err
    login(url, name, f"one-time-{name}", new_password=TEST_PASSWORD)


def test_an_empty_registry_is_set_up_by_its_first_sign_in(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    db = ("--db", registry_url)
    code, _, err = run(capsys, monkeypatch, *db, "cases")
    assert code == 1
    assert "this registry has no users yet" in err
    code, out, err = run(
        capsys, monkeypatch, *db, "login", "alice", "--password-stdin", stdin="short\n"
    )
    assert code == 1
    assert "shorter than 8 characters" in err
    code, out, err = run(
        capsys, monkeypatch, *db, "login", "alice", "--name", "Dr Alice", "--password-stdin",
        stdin=f"{TEST_PASSWORD}\n",
    )  # fmt: skip
    assert code == 0, err
    assert "created alice, the registry's first user (administrator, coordinator)" in out
    shown = json.loads(run(capsys, monkeypatch, *db, "whoami", "--json")[1])
    assert shown["username"] == "alice"
    assert shown["name"] == "Dr Alice"
    assert shown["roles"] == ["admin", "coordinator"]
    assert shown["signed_in_by"] == "password"
    # Nobody else becomes a first user once there is one.
    code, _, err = run(
        capsys, monkeypatch, *db, "login", "bob", "--password-stdin", stdin=f"{TEST_PASSWORD}\n"
    )
    assert code == 1
    assert err.strip() == f"error: {auth.REFUSED}"


def test_commands_act_as_the_signed_in_person_and_not_as_whoever_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    db = ("--db", registry_url)
    login(registry_url, "coordinator")
    _add_reader(registry_url, "rad1", capsys, monkeypatch)
    assert json.loads(run(capsys, monkeypatch, *db, "whoami", "--json")[1])["username"] == "rad1"
    # The reader cannot become the coordinator by naming them.
    code, _, err = run(capsys, monkeypatch, *db, "--user", "coordinator", "user", "list")
    assert code == 1
    assert "--user does not choose who acts: you are signed in as 'rad1'" in err
    code, _, err = run(
        capsys, monkeypatch, *db, "user", "add", "eve", "--name", "Eve", "--role", "admin"
    )
    assert code == 1
    assert "coordinator or admin role" in err
    # Signed out, nothing acts.
    assert run(capsys, monkeypatch, *db, "logout")[1].strip() == "signed out rad1"
    code, _, err = run(capsys, monkeypatch, *db, "cases")
    assert code == 1
    assert "not signed in to this registry" in err


def test_the_token_is_private_and_only_its_hash_is_stored(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    login(registry_url, "coordinator")
    path = signin.token_path(registry_url)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    token = json.loads(path.read_text())["token"]
    assert len(token) >= 40
    registry = Registry.open(registry_url)
    try:
        with registry.read() as session:
            (row,) = session.scalars(select(SignInSession))
            assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
            assert token not in json.dumps([row.token_sha256, row.source, row.client])
        # A token file others can read is refused, not used.
        os.chmod(path, 0o644)
        code, _, err = run(capsys, monkeypatch, "--db", registry_url, "cases")
        assert code == 1
        assert "readable by others (mode 644)" in err
        os.chmod(path, 0o600)
        # A forged token is no sign-in.
        path.write_text(path.read_text().replace(token, "forged" + token[6:]))
        code, _, err = run(capsys, monkeypatch, "--db", registry_url, "cases")
        assert code == 1
        assert "this sign-in is not known to the registry" in err
        assert not path.exists()  # a dead token is forgotten
    finally:
        registry.close()


def test_sessions_expire_idle_out_and_end_at_sign_out(
    monkeypatch: pytest.MonkeyPatch, registry_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "review.toml"
    config.write_text("[sessions]\nlifetime_hours = 2\nidle_minutes = 10\n")
    monkeypatch.setenv("PML_WORKBENCH_REVIEW_CONFIG", str(config))
    registry = Registry.open(registry_url)
    try:
        first = signin.create_first_user(registry, "coordinator", TEST_PASSWORD, client="cli")
        assert first.expires_at - utcnow().replace(tzinfo=None) <= dt.timedelta(hours=2)
        start = utcnow().replace(tzinfo=None)
        monkeypatch.setattr(auth, "utcnow", lambda: start + dt.timedelta(minutes=9))
        assert signin.resume(registry, first.token).actor.username == "coordinator"
        monkeypatch.setattr(auth, "utcnow", lambda: start + dt.timedelta(minutes=18))
        assert signin.resume(registry, first.token).idle_until > start  # used: still on
        monkeypatch.setattr(auth, "utcnow", lambda: start + dt.timedelta(minutes=29))
        with pytest.raises(signin.SessionEndedError, match="unused for more than 10 minutes"):
            signin.resume(registry, first.token)

        monkeypatch.setattr(auth, "utcnow", lambda: start)
        second = signin.sign_in(registry, "coordinator", TEST_PASSWORD, client="window")
        for minutes in range(9, 120, 9):  # used every 9 minutes, it still ends at 2 hours
            monkeypatch.setattr(auth, "utcnow", lambda m=minutes: start + dt.timedelta(minutes=m))
            signin.resume(registry, second.token)
        monkeypatch.setattr(auth, "utcnow", lambda: start + dt.timedelta(minutes=126))
        with pytest.raises(signin.SessionEndedError, match="expired"):
            signin.resume(registry, second.token)

        monkeypatch.setattr(auth, "utcnow", lambda: start)
        third = signin.sign_in(registry, "coordinator", TEST_PASSWORD, client="cli")
        assert signin.sign_out(registry, third.token) == "coordinator"
        with pytest.raises(signin.SessionEndedError, match=r"has ended \(signed out\)"):
            signin.resume(registry, third.token)
        with registry.read() as session:
            actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        assert actions.count("user.sign_in") == 3
        assert actions[-1] == "user.sign_out"
    finally:
        registry.close()


def test_refusals_look_alike_and_slow_down_one_source_at_one_account(
    monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    registry = Registry.open(registry_url)
    try:
        signin.create_first_user(registry, "coordinator", TEST_PASSWORD, client="cli")
        with registry.write() as session:
            from workbench.users import add_user, resolve_actor

            coordinator = resolve_actor(session, "coordinator")
            add_user(session, "nopass", "No Password", set(), by=coordinator)
        here = "mallory@ws-9"
        messages = set()
        for name, password in (
            ("coordinator", "wrong-password"),
            ("ghost", TEST_PASSWORD),
            ("nopass", TEST_PASSWORD),
        ):
            with pytest.raises(signin.PermissionDeniedError) as refused:
                signin.sign_in(registry, name, password, client="cli", source=here)
            messages.add(str(refused.value))
        assert messages == {auth.REFUSED}
        # Wrong guesses at one account from one source slow that source down...
        for _ in range(auth.FREE_ATTEMPTS - 1):
            with pytest.raises(signin.PermissionDeniedError, match="unknown user or wrong"):
                signin.sign_in(registry, "coordinator", "guess", client="cli", source=here)
        with pytest.raises(signin.TooManyAttemptsError, match="try again in 1 s"):
            signin.sign_in(registry, "coordinator", TEST_PASSWORD, client="cli", source=here)
        # ...and nobody else: the coordinator at their own workstation signs in.
        signin.sign_in(registry, "coordinator", TEST_PASSWORD, client="cli", source="c@ws-1")
        with registry.read() as session:
            failures = session.execute(
                select(AuthFailure.username, AuthFailure.source, AuthFailure.purpose)
            ).all()
        assert failures.count(("coordinator", here, "sign_in")) == auth.FREE_ATTEMPTS
        assert ("ghost", here, "sign_in") in failures
        # The administrator sees the attempts.
        from workbench.services import admin

        users = {u.username: u for u in admin.list_users(registry, coordinator)}
        assert users["coordinator"].recent_failures == auth.FREE_ATTEMPTS
        assert users["nopass"].recent_failures == 1
        # The slowdown ends with its window.
        later = utcnow() + auth.BACKOFF_WINDOW + dt.timedelta(seconds=1)
        monkeypatch.setattr(auth, "utcnow", lambda: later)
        signin.sign_in(registry, "coordinator", TEST_PASSWORD, client="cli", source=here)
    finally:
        registry.close()


def test_a_reset_password_cannot_be_used_to_act_as_someone_unseen(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, registry_url: str
) -> None:
    """The attack from the issue: set a colleague's password, then sign as them."""
    db = ("--db", registry_url)
    login(registry_url, "coordinator")
    _add_reader(registry_url, "panel.dubois", capsys, monkeypatch)
    login(registry_url, "coordinator")
    code, _, err = run(
        capsys, monkeypatch, *db, "user", "passwd", "panel.dubois", "--password-stdin",
        stdin="chosen-by-mallory\n",
    )  # fmt: skip
    assert code == 0, err
    # Signing in with it forces a new password...
    code, _, err = run(
        capsys, monkeypatch, *db, "login", "panel.dubois", "--password-stdin",
        stdin="chosen-by-mallory\n",
    )  # fmt: skip
    assert code == 1
    assert "one-time password" in err
    login(registry_url, "panel.dubois", "chosen-by-mallory", new_password="mallorys-own")
    # ...so the colleague's own password stops working, and the trail says who did what.
    with pytest.raises(AssertionError, match="unknown user or wrong password"):
        login(registry_url, "panel.dubois", TEST_PASSWORD)
    registry = Registry.open(registry_url)
    try:
        with registry.read() as session:
            trail = [
                (e.actor, e.action)
                for e in session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.entity_id == "panel.dubois")
                    .order_by(AuditEvent.id)
                )
            ]
    finally:
        registry.close()
    reset = trail.index(("coordinator", "user.password_reset"))
    assert trail[reset + 1 :][:2] == [
        ("panel.dubois", "user.password_set"),
        ("panel.dubois", "user.sign_in"),
    ]


def test_login_reads_the_password_from_the_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    answers = iter([TEST_PASSWORD, TEST_PASSWORD])
    prompts: list[str] = []

    def typed(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", typed)
    code, out, err = run(capsys, monkeypatch, "--db", sqlite_url, "login", "alice")
    assert code == 0, err
    assert prompts == ["Choose a password for alice: ", "Type it again: "]
    assert "signed in as alice" in out
    assert TEST_PASSWORD not in out + err
