"""Proving who acts: passwords checked with backoff, and sign-in sessions held by a token.

A sign-in checks the person's password and starts a :class:`SignInSession`; the person keeps
a random token, the registry only its SHA-256. Every later command presents the token and
acts as the session's user until the session expires, idles out or is signed out.

Wrong passwords slow down further attempts from the same *source* at the same *account*
(:func:`delay_after`); they never lock an account for everyone, so nobody can lock a
colleague out by typing wrong passwords in their name. Unknown accounts, accounts without a
password and wrong passwords are refused with the same message (:data:`REFUSED`) after the
same amount of work, and all count towards the backoff alike.

The functions here never raise for a refused password: they record the failure in the
caller's transaction and return ``None``, so that the failure is committed even though the
caller goes on to refuse (see :mod:`workbench.services.signin`).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import secrets
import socket
from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from adjudication.vocabulary import Role
from workbench.actor import Actor
from workbench.errors import PermissionDeniedError
from workbench.registry import audit
from workbench.registry.models import AuthFailure, SignInSession, User, utcnow
from workbench.users import actor_of, check_password, hash_password, read_password_hash

REFUSED = "sign-in refused: unknown user or wrong password"
"""What every refused sign-in says, whichever of user, password or both was wrong."""

FREE_ATTEMPTS = 3
"""Failed attempts (from one source at one account, within :data:`BACKOFF_WINDOW`) that cost
nothing; each one after that doubles the wait before the next is checked."""
BACKOFF_WINDOW = dt.timedelta(minutes=15)
MAX_DELAY = dt.timedelta(minutes=5)
CLIENTS = ("cli", "window")

_DUMMY_HASH = hash_password(secrets.token_hex(16))
"""Checked against when the account is unknown, so that costs what a wrong password costs."""


class TooManyAttemptsError(PermissionDeniedError):
    """Attempts from this source at this account are slowed down after failed ones."""


class PasswordChangeRequiredError(PermissionDeniedError):
    """The password was right, but it is a one-time password: a new one must be chosen."""


class SessionEndedError(PermissionDeniedError):
    """The token names no session in force (expired, idle, signed out, or never issued)."""


def default_source() -> str:
    """Where attempts come from on this workstation: the OS login and the host name."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return f"{login}@{socket.gethostname()}"[:200]


def source_of(session: Session) -> str:
    """Where attempts on this connection come from: the workstation, and on PostgreSQL the
    database login role too (which the database authenticated, so nobody can borrow it)."""
    here = default_source()
    if session.get_bind().dialect.name != "postgresql":
        return here
    role = session.scalar(text("SELECT session_user"))
    return f"{here} as {role}"[:200]


def token_digest(token: str) -> str:
    """What the registry stores of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def delay_after(failures: int) -> dt.timedelta:
    """The wait before the next attempt is checked, after ``failures`` recent failures."""
    if failures < FREE_ATTEMPTS:
        return dt.timedelta(0)
    return min(dt.timedelta(seconds=2 ** (failures - FREE_ATTEMPTS)), MAX_DELAY)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Recent failed attempts at one account from one source, and when the next may be made."""

    failures: int
    next_attempt_at: dt.datetime | None

    def wait(self, now: dt.datetime) -> dt.timedelta:
        """How long from ``now`` until an attempt is checked again (zero when it is now)."""
        if self.next_attempt_at is None:
            return dt.timedelta(0)
        return max(self.next_attempt_at - now, dt.timedelta(0))


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def backoff(session: Session, username: str, source: str) -> Backoff:
    """The backoff in force for attempts at ``username`` from ``source``."""
    since = _naive(utcnow()) - BACKOFF_WINDOW
    times = [
        _naive(at)
        for at in session.scalars(
            select(AuthFailure.occurred_at).where(
                AuthFailure.username == username,
                AuthFailure.source == source,
                AuthFailure.occurred_at >= since,
            )
        )
    ]
    if not times:
        return Backoff(0, None)
    delay = delay_after(len(times))
    return Backoff(len(times), max(times) + delay if delay else None)


def failures_by_user(session: Session) -> dict[str, tuple[int, dt.datetime]]:
    """Recent failed attempts per account (all sources), with the latest: what an
    administrator sees beside each user."""
    since = _naive(utcnow()) - BACKOFF_WINDOW
    rows = session.execute(
        select(AuthFailure.username, func.count(), func.max(AuthFailure.occurred_at))
        .where(AuthFailure.occurred_at >= since)
        .group_by(AuthFailure.username)
    )
    return {name: (int(count), _naive(last)) for name, count, last in rows}


def check_backoff(session: Session, username: str, source: str) -> None:
    """Refuse (:class:`TooManyAttemptsError`) an attempt made before the backoff allows it.

    Such an attempt is not checked and does not count as a failure.
    """
    state = backoff(session, username, source)
    wait = state.wait(_naive(utcnow()))
    if wait > dt.timedelta(0):
        seconds = max(1, round(wait.total_seconds()))
        raise TooManyAttemptsError(
            f"too many failed attempts at {username!r} from {source}; try again in {seconds} s "
            "(an administrator sees these attempts in 'pml-workbench user list')"
        )


def verify_password(
    session: Session, username: str, password: str, *, source: str, purpose: str
) -> User | None:
    """The active user ``username`` if ``password`` is theirs, else ``None`` with the failure
    recorded (``purpose``: ``sign_in`` or ``signing``).

    Raises :class:`TooManyAttemptsError` when the backoff does not allow an attempt yet.
    """
    check_backoff(session, username, source)
    user = session.scalars(select(User).where(User.username == username)).first()
    stored = read_password_hash(session, username) if user is not None else None
    matches = check_password(password, stored or _DUMMY_HASH) and stored is not None
    if user is not None and user.active and matches:
        return user
    session.add(AuthFailure(username=username[:64], source=source, purpose=purpose))
    session.flush()
    return None


def start_session(
    session: Session,
    user: User,
    *,
    client: str,
    source: str,
    lifetime: dt.timedelta,
) -> tuple[Actor, str, SignInSession]:
    """Start a session for ``user`` (whose password was just checked); return the actor, the
    token to hand to them (never stored) and the session row. Audited as ``user.sign_in``."""
    if client not in CLIENTS:
        raise ValueError(f"client must be one of {CLIENTS}, not {client!r}")
    if user.must_change_password:
        raise PasswordChangeRequiredError(
            f"the password of {user.username!r} was set by an administrator and is for one "
            "use only: choose a new one to sign in"
        )
    token = secrets.token_urlsafe(32)
    now = _naive(utcnow())
    row = SignInSession(
        user_id=user.id,
        token_sha256=token_digest(token),
        client=client,
        source=source[:200],
        created_at=now,
        expires_at=now + lifetime,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    actor = actor_of(user)
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="user.sign_in",
        entity_type="user",
        entity_id=actor.username,
        after={"session": row.id, "client": client, "source": row.source},
    )
    return actor, token, row


@dataclass(frozen=True, slots=True)
class SessionState:
    """A session in force: who, and until when."""

    actor: Actor
    session_id: int
    client: str
    started_at: dt.datetime
    expires_at: dt.datetime
    idle_until: dt.datetime


def resume_session(
    session: Session, token: str, *, idle: dt.timedelta, touch: bool = True
) -> SessionState:
    """The session ``token`` belongs to, if it is in force; its idle clock restarts (``touch``).

    Raises :class:`SessionEndedError` saying why it is not (signed out, expired, idle, user
    deactivated, or a password reset since).
    """
    row = session.scalars(
        select(SignInSession).where(SignInSession.token_sha256 == token_digest(token))
    ).first()
    again = "sign in again ('pml-workbench login')"
    if row is None:
        raise SessionEndedError(f"this sign-in is not known to the registry; {again}")
    now = _naive(utcnow())
    if row.ended_at is not None:
        why = row.ended_reason or "signed out"
        raise SessionEndedError(f"this sign-in of {row.user.username!r} has ended ({why}); {again}")
    if now >= _naive(row.expires_at):
        raise SessionEndedError(
            f"the sign-in of {row.user.username!r} expired at {_naive(row.expires_at):%H:%M} "
            f"UTC; {again}"
        )
    if now >= _naive(row.last_seen_at) + idle:
        minutes = round(idle.total_seconds() / 60)
        raise SessionEndedError(
            f"the sign-in of {row.user.username!r} was unused for more than {minutes} minutes; "
            f"{again}"
        )
    if not row.user.active:
        raise SessionEndedError(f"user {row.user.username!r} is deactivated in this registry")
    if touch:
        row.last_seen_at = now
        session.flush()
    return SessionState(
        actor_of(row.user),
        row.id,
        row.client,
        _naive(row.created_at),
        _naive(row.expires_at),
        _naive(row.last_seen_at) + idle,
    )


def end_session(session: Session, token: str, reason: str = "signed out") -> str | None:
    """End the session of ``token``; return its user's name (``None`` when none was in force)."""
    row = session.scalars(
        select(SignInSession).where(SignInSession.token_sha256 == token_digest(token))
    ).first()
    if row is None or row.ended_at is not None:
        return None
    row.ended_at = _naive(utcnow())
    row.ended_reason = reason
    session.flush()
    actor = actor_of(row.user)
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="user.sign_out",
        entity_type="user",
        entity_id=actor.username,
        after={"session": row.id, "reason": reason},
    )
    return actor.username


def end_sessions_of(session: Session, user: User, reason: str) -> int:
    """End every session of ``user`` in force (after a password reset or deactivation)."""
    result = session.execute(
        update(SignInSession)
        .where(SignInSession.user_id == user.id, SignInSession.ended_at.is_(None))
        .values(ended_at=_naive(utcnow()), ended_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def has_users(session: Session) -> bool:
    """Whether the registry has any user yet (an empty one is set up by its first sign-in)."""
    return bool(session.scalar(select(func.count()).select_from(User)))


FIRST_USER_ROLES = frozenset({Role.ADMIN, Role.COORDINATOR})
