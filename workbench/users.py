"""Registry users, their roles, and who is acting in this invocation."""

from __future__ import annotations

import hashlib
import hmac
import os
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adjudication.text import describe_forbidden
from adjudication.vocabulary import Role
from workbench.actor import Actor, default_username
from workbench.errors import NotFoundError, PermissionDeniedError, ValidationError
from workbench.policy import Action, Facts, require
from workbench.registry import audit
from workbench.registry.models import Site, User, UserRole

__all__ = [
    "Actor",
    "add_user",
    "default_username",
    "list_users",
    "read_password_hash",
    "resolve_actor",
    "set_password",
    "set_site",
]

USERNAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_.-]{0,63}$")
MIN_PASSWORD_LENGTH = 8
"""Shortest password :func:`set_password` accepts (characters)."""
MAX_PASSWORD_LENGTH = 1024
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """A salted scrypt hash in ``scrypt$n$r$p$salt$hash`` form (hex)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password`."""
    if not stored:
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def actor_of(user: User) -> Actor:
    """The user as the acting person: name, printed name and roles."""
    return Actor(user.username, user.display_name, frozenset(r.role for r in user.roles))


def add_user(
    session: Session,
    username: str,
    display_name: str,
    roles: set[Role],
    *,
    by: Actor | None,
    password: str | None = None,
    site: str | None = None,
) -> User:
    """Create a user; ``by`` is None only when bootstrapping an empty registry.

    ``site`` is the code of the site they work at (created on first use, as a case's is).

    ``password`` is the person's own password, stored (hashed) as chosen, not as a one-time
    one: for building a registry whose people chose theirs (the demo, tests). The services
    never pass it; they set a password chosen by someone else with :func:`set_password`,
    which makes it one-time.
    """
    if not USERNAME_PATTERN.match(username):
        raise ValidationError(
            f"username {username!r}: use lower-case letters, digits, '.', '_' or '-'"
        )
    if by is not None:
        require(by, Action.ADD_USER)
    refused = (
        describe_forbidden("name", display_name)
        if display_name.strip()
        else ("name: a user has a printed name (it is what a signature shows)")
    )
    if refused is not None:
        raise ValidationError(refused, field="name")
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise ValidationError(f"username {username!r}: a user of that name exists already")
    site_id = _site_id(session, site)
    user = User(
        username=username,
        display_name=display_name,
        roles=[UserRole(role=r) for r in sorted(roles)],
        password_hash=hash_password(password) if password else None,
        site_id=site_id,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=by.username if by else username,
        role=by.main_role if by else "bootstrap",
        action="user.create",
        entity_type="user",
        entity_id=username,
        after={
            "display_name": display_name,
            "roles": sorted(r.value for r in roles),
            "password": "set" if password else "none",
            **({"site": site} if site is not None else {}),
        },
    )
    return user


def _site_id(session: Session, code: str | None) -> int | None:
    """The id of site ``code`` (created on first use), ``None`` for none; refuses a code
    that is not one (:class:`ValidationError` on the field ``site``)."""
    from workbench.cases import SITE_CODE_PATTERN, ensure_site

    if code is None:
        return None
    if not SITE_CODE_PATTERN.match(code):
        raise ValidationError(
            f"site: {code!r} is not a site code (capital letters, digits, '-')", field="site"
        )
    return ensure_site(session, code).id


def site_of(session: Session, user: User) -> str | None:
    """The code of the site ``user`` works at, if any."""
    if user.site_id is None:
        return None
    return session.scalar(select(Site.code).where(Site.id == user.site_id))


def set_site(session: Session, actor: Actor, username: str, site: str | None) -> User:
    """Record the site ``username`` works at (``None``: none); coordinators, administrators.

    The site decides which cases the balanced assignment suggests them for (never their own
    site's), so the change is audited as ``user.site`` with the site before and after.
    Setting the site a user already has changes nothing and records nothing.
    """
    require(actor, Action.EDIT_USER, Facts(target=username))
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"user {username!r} is not known to this registry")
    before = site_of(session, user)
    site_id = _site_id(session, site)
    if site_id == user.site_id:
        return user
    user.site_id = site_id
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="user.site",
        entity_type="user",
        entity_id=username,
        before={"site": before},
        after={"site": site},
    )
    return user


def read_password_hash(session: Session, username: str) -> str | None:
    """The stored hash of ``username``'s password (``None``: none set, or no such user).

    The one place that reads the column: on PostgreSQL the application role may not select
    it, and :mod:`workbench.registry.pg_security` reads it through the database's own
    function, which gives a member their own hash only.
    """
    if session.get_bind().dialect.name == "postgresql":
        from workbench.registry import pg_security

        return pg_security.read_password_hash(session, username)
    return session.scalars(select(User.password_hash).where(User.username == username)).first()


def _write_password_hash(
    session: Session, user: User, password_hash: str | None, *, must_change: bool
) -> None:
    """Store a new hash (the one place that writes the column; see :func:`read_password_hash`)."""
    if session.get_bind().dialect.name == "postgresql":
        from workbench.registry import pg_security

        session.flush()
        pg_security.write_password_hash(
            session, user.username, password_hash, must_change=must_change
        )
        session.expire(user)
        return
    user.password_hash = password_hash
    user.must_change_password = must_change
    session.flush()


def check_new_password(username: str, password: str) -> None:
    """Refuse (:class:`ValidationError`) a password too short, too long or only spaces."""
    if not password.strip():
        raise ValidationError(
            f"password of {username!r}: it is empty; nothing was changed", field="password"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"password of {username!r}: shorter than {MIN_PASSWORD_LENGTH} characters; choose "
            "a longer one (nothing was changed)",
            field="password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(
            f"password of {username!r}: longer than {MAX_PASSWORD_LENGTH} characters",
            field="password",
        )


def set_password(
    session: Session, actor: Actor, username: str, password: str, *, current: str | None = None
) -> User:
    """Set the password of ``username``, stored only as its salted scrypt hash.

    Anyone may change their own password, and doing so needs the ``current`` one (so nobody
    who merely names a colleague can change theirs); it clears a one-time password. An
    administrator or coordinator may *reset* another user's: the password they choose is for
    one use only (the person must choose their own at their next sign-in), every session of
    that user ends, and the reset is audited as ``user.password_reset`` by the one who did it
    — so nobody can set a colleague's password and then act as them without it showing: the
    colleague's own password no longer works, and the trail names who reset it.

    Refused (:class:`ValidationError`) when it is shorter than :data:`MIN_PASSWORD_LENGTH`
    characters, longer than :data:`MAX_PASSWORD_LENGTH`, or only spaces. The audit event
    records that it was set, changed or reset and by whom, never the password or its hash.
    """
    own = username == actor.username
    require(actor, Action.SET_PASSWORD, Facts(target_is_self=own, target=username))
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"user {username!r} is not known to this registry")
    stored = read_password_hash(session, username)
    if own and stored:
        if not current:
            raise ValidationError(
                f"current password of {username!r}: changing your password needs the current "
                "one; nothing was changed",
                field="current password",
            )
        if not check_password(current, stored):
            raise ValidationError(
                f"current password of {username!r}: it does not match; nothing was changed",
                field="current password",
            )
    check_new_password(username, password)
    if own and current is not None and password == current:
        raise ValidationError(
            f"password of {username!r}: the new password is the current one; choose another",
            field="password",
        )
    _write_password_hash(session, user, hash_password(password), must_change=not own)
    after: dict[str, object]
    if own:
        action, after = "user.password_set", {"password": "changed" if stored else "set"}
    else:
        from workbench.auth import end_sessions_of

        ended = end_sessions_of(session, user, "password reset")
        action = "user.password_reset"
        after = {
            "password": "one-time",
            "must_change": True,
            "sessions_ended": ended,
        }
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action=action,
        entity_type="user",
        entity_id=username,
        after=after,
    )
    return user


def resolve_actor(session: Session, username: str) -> Actor:
    """The registry user ``username``.

    On a registry that has no users yet, that user is created as its first administrator and
    coordinator (and the bootstrap is audited), so a new registry can be used at once.
    """
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is not None:
        if not user.active:
            raise PermissionDeniedError(f"user {username!r} is deactivated in this registry")
        return actor_of(user)
    if session.scalar(select(func.count()).select_from(User)) == 0:
        user = add_user(session, username, username, {Role.ADMIN, Role.COORDINATOR}, by=None)
        return actor_of(user)
    raise NotFoundError(
        f"user {username!r} is not known to this registry; ask a coordinator to add you "
        "('pml-workbench user add')"
    )


def list_users(session: Session) -> list[User]:
    """All users, by username."""
    return list(session.scalars(select(User).order_by(User.username)))
