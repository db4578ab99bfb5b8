"""Signing in from tests, through the real ``pml-workbench login`` command."""

from __future__ import annotations

import contextlib
import io
import sys

from workbench.cli import main

TEST_PASSWORD = "tested-password-1"
"""The password tests give the people they sign in (longer than the minimum)."""


def login(
    url: str | None,
    username: str,
    password: str = TEST_PASSWORD,
    *,
    new_password: str | None = None,
) -> None:
    """Sign ``username`` in to ``url`` (the default registry when ``None``) with ``login
    --password-stdin``; on an empty registry this creates them as its first user. With
    ``new_password``, a one-time password is replaced at this sign-in."""
    argv = [*(("--db", url) if url else ()), "login", username, "--password-stdin"]
    lines = password + "\n" + (f"{new_password}\n" if new_password else "")
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(lines)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        sys.stdin = saved
    assert code == 0, f"login {username} failed: {err.getvalue().strip()}"


def signed_in_user(url: str | None) -> str | None:
    """Who the kept session token for ``url`` (the default registry when ``None``) names."""
    import json

    from workbench.config import Settings
    from workbench.services import signin

    path = signin.token_path(Settings.resolve(url).db_url)
    if not path.exists():
        return None
    return str(json.loads(path.read_text(encoding="utf-8"))["username"])


NO_SIGN_IN = frozenset({"demo", "db", "audit", "login", "logout", "deid-check", "convert"})
"""Commands that act as nobody (or sign in themselves)."""


def sign_in_for(argv: tuple[str, ...], default: str = "coordinator") -> None:
    """Before running ``argv``: sign in the person it names with ``--user`` (else
    ``default``) to its ``--db`` registry, unless they are signed in already or the command
    acts as nobody."""
    url = argv[argv.index("--db") + 1] if "--db" in argv else None
    user = argv[argv.index("--user") + 1] if "--user" in argv else default
    command = next((a for a in argv if not a.startswith("-") and a not in {url, user}), None)
    if command in NO_SIGN_IN or signed_in_user(url) == user:
        return
    login(url, user, "demo" if url == "demo" else TEST_PASSWORD)
