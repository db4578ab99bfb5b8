"""Signing in and out: who acts is proven, never named.

The window's sign-in dialog and ``pml-workbench login`` call :func:`sign_in`, which checks the
password and starts a session; every later command presents the session's token
(:func:`resume`) and acts as its user. On PostgreSQL, a person who connects as their own
database login role is already authenticated by the database: :func:`connection_actor`
names them, and no password sign-in is needed (or possible as anyone else).

The command line keeps the token in a file of the data directory readable by its owner only
(:func:`save_token`, :func:`load_token`, :func:`forget_token`), one file per registry; the
window keeps it in memory and signs out when it closes.

Exceptions, where nobody has to be signed in: building the demo registry (it creates its own
users), upgrading the schema and the checks of the audit trail (they read no record), and an
empty registry, whose first user is created by their first sign-in
(:func:`create_first_user`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workbench.actor import Actor
from workbench.auth import (
    FIRST_USER_ROLES,
    REFUSED,
    PasswordChangeRequiredError,
    SessionEndedError,
    SessionState,
    TooManyAttemptsError,
    default_source,
    end_session,
    has_users,
    resume_session,
    start_session,
    verify_password,
)
from workbench.config import data_dir
from workbench.errors import PermissionDeniedError, ValidationError
from workbench.registry.db import Registry
from workbench.review_config import ReviewConfig, load_review_config
from workbench.users import add_user, check_new_password, resolve_actor, set_password

__all__ = [
    "REFUSED",
    "PasswordChangeRequiredError",
    "SessionEndedError",
    "SessionState",
    "SignedIn",
    "TooManyAttemptsError",
    "connection_actor",
    "create_first_user",
    "forget_token",
    "has_users",
    "load_token",
    "resume",
    "save_token",
    "sign_in",
    "sign_out",
    "token_path",
]


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A session just started: who, the token to keep (secret), and until when."""

    actor: Actor
    token: str
    expires_at: dt.datetime


def _config(config: ReviewConfig | None) -> ReviewConfig:
    return config or load_review_config()


def _username(username: str) -> str:
    return username.strip().lower()


def sign_in(
    registry: Registry,
    username: str,
    password: str,
    *,
    client: str,
    new_password: str | None = None,
    source: str | None = None,
    config: ReviewConfig | None = None,
) -> SignedIn:
    """Check ``username``'s password and start a session (audited as ``user.sign_in``).

    Refused with :data:`REFUSED` (:class:`PermissionDeniedError`) alike for an unknown user, a
    user without a password and a wrong password; the failure is recorded first, and repeated
    ones from this ``source`` slow down the next attempts (:class:`TooManyAttemptsError`).
    When the password is a one-time one set by an administrator, the sign-in raises
    :class:`PasswordChangeRequiredError` unless ``new_password`` is given, which then replaces
    it in the same transaction as the session starts.
    """
    name = _username(username)
    origin = source or default_source()
    settings = _config(config)
    started: SignedIn | None = None
    with registry.write() as session:
        user = verify_password(session, name, password, source=origin, purpose="sign_in")
        if user is not None:
            if user.must_change_password:
                if new_password is None:
                    raise PasswordChangeRequiredError(
                        f"the password of {name!r} was set by an administrator for one use "
                        "only: choose a new one to sign in"
                    )
                set_password(
                    session, resolve_actor(session, name), name, new_password, current=password
                )
                session.refresh(user)
            actor, token, row = start_session(
                session, user, client=client, source=origin, lifetime=settings.session_lifetime
            )
            started = SignedIn(actor, token, row.expires_at)
    if started is None:
        raise PermissionDeniedError(REFUSED)
    return started


def create_first_user(
    registry: Registry,
    username: str,
    password: str,
    *,
    client: str,
    display_name: str | None = None,
    config: ReviewConfig | None = None,
) -> SignedIn:
    """On a registry without users: create ``username`` as its first administrator and
    coordinator, with the password they chose, and sign them in (audited as a bootstrap).

    Refused (:class:`ValidationError`) once the registry has a user: from then on users are
    added by an administrator or coordinator.
    """
    name = _username(username)
    check_new_password(name, password)
    settings = _config(config)
    with registry.write() as session:
        if has_users(session):
            raise ValidationError(
                "this registry has users already: sign in as one of them, or ask an "
                "administrator to add you"
            )
        user = add_user(session, name, display_name or name, set(FIRST_USER_ROLES), by=None)
        set_password(session, resolve_actor(session, name), name, password)
        actor, token, row = start_session(
            session,
            user,
            client=client,
            source=default_source(),
            lifetime=settings.session_lifetime,
        )
        return SignedIn(actor, token, row.expires_at)


def registry_has_users(registry: Registry) -> bool:
    """Whether anyone can sign in yet (an empty registry is set up by its first sign-in)."""
    with registry.read() as session:
        return has_users(session)


def resume(registry: Registry, token: str, *, config: ReviewConfig | None = None) -> SessionState:
    """The session in force for ``token`` (its idle clock restarts); raises
    :class:`SessionEndedError` saying why there is none."""
    settings = _config(config)
    with registry.write() as session:
        return resume_session(session, token, idle=settings.session_idle)


def sign_out(registry: Registry, token: str, *, reason: str = "signed out") -> str | None:
    """End the session of ``token`` (audited); the user's name, or ``None`` if none was in
    force."""
    with registry.write() as session:
        return end_session(session, token, reason)


def connection_actor(registry: Registry) -> Actor | None:
    """On PostgreSQL, the registry user the connection's own login role is mapped to (the
    database authenticated them); ``None`` where sign-in is by password (SQLite, or a
    connection as the schema's owner). Raises :class:`PermissionDeniedError` for a member of
    the application role that is mapped to nobody."""
    if registry.engine.dialect.name != "postgresql":
        return None
    from workbench.registry import pg_security

    with registry.read() as session:
        username = pg_security.connection_user(session)
        if username is None:
            return None
        return resolve_actor(session, username)


# --- the command line's token file -----------------------------------------------------------

TOKEN_FORMAT = "pml-workbench-session/1"


def token_path(registry_url: str) -> Path:
    """The file holding the command line's session token for the registry at this URL."""
    key = hashlib.sha256(registry_url.encode()).hexdigest()[:24]
    return data_dir() / "sessions" / f"{key}.json"


def save_token(registry_url: str, signed_in: SignedIn) -> Path:
    """Keep the token for later commands, in a file only its owner can read (0600)."""
    path = token_path(registry_url)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    body = {
        "format": TOKEN_FORMAT,
        "username": signed_in.actor.username,
        "token": signed_in.token,
        "expires_at": signed_in.expires_at.isoformat(timespec="seconds"),
    }
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".session-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_token(registry_url: str) -> str | None:
    """The kept token for this registry (``None`` when nobody signed in from here).

    A token file that others can read is refused rather than used.
    """
    path = token_path(registry_url)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & 0o077:
        raise PermissionDeniedError(
            f"{path}: the sign-in file is readable by others (mode {mode & 0o777:o}); it was "
            "not used. Delete it and sign in again ('pml-workbench login')"
        )
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        token = body["token"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return token if isinstance(token, str) and body.get("format") == TOKEN_FORMAT else None


def forget_token(registry_url: str) -> bool:
    """Delete the kept token for this registry; whether there was one."""
    path = token_path(registry_url)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
