"""Administration: who is acting, users and passwords, the schema, and the audit trail.

Each function takes the registry and the acting person, owns its transaction and returns
frozen values; the exceptions are opening the registry, signing in, and the two checks of
the database itself (:func:`upgrade_schema`, :func:`verify_audit`), which read no record.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from adjudication.vocabulary import Role
from workbench.actor import Actor
from workbench.errors import RegistryUnavailableError
from workbench.registry import audit
from workbench.registry.db import Registry, schema_revision, upgrade
from workbench.registry.models import AuditEvent
from workbench.users import add_user as _add_user
from workbench.users import list_users as _list_users
from workbench.users import resolve_actor
from workbench.users import set_password as _set_password


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A registry user as lists show them (never the password hash)."""

    username: str
    display_name: str
    roles: frozenset[Role]
    active: bool
    has_password: bool = False
    """Whether a password is set (never the password or its hash)."""


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """The outcome of :func:`verify_audit`: how many events, and the first broken one."""

    events: int
    broken_event: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        """Whether the whole chain holds."""
        return self.broken_event is None


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where the registry's schema stands after :func:`upgrade_schema`."""

    url: str
    revision: str | None
    upgraded: bool


def open_registry(url: str, *, upgrade_schema: bool = True) -> Registry:
    """Open the registry at ``url`` (upgrading its schema unless told not to).

    Raises :class:`~workbench.errors.RegistryUnavailableError` with one sentence for the user
    when that fails; nothing stays open then.
    """
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return Registry.open(url, upgrade_schema=upgrade_schema)
    except SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RegistryUnavailableError(f"cannot open the registry: {first}") from exc
    except CommandError as exc:
        raise RegistryUnavailableError(
            f"cannot open the registry {url}: its schema is not one this version of the "
            f"workbench knows ({exc}); it may need a newer workbench"
        ) from exc


def sign_in(registry: Registry, username: str) -> Actor:
    """The registry user ``username`` as the acting person.

    On a registry without users, that user becomes its first administrator and coordinator
    (audited), so a new registry can be used at once.
    """
    with registry.write() as session:
        return resolve_actor(session, username)


def list_users(registry: Registry, actor: Actor) -> list[UserRecord]:
    """Every user, by username."""
    with registry.read() as session:
        return [
            UserRecord(
                u.username,
                u.display_name,
                frozenset(r.role for r in u.roles),
                u.active,
                bool(u.password_hash),
            )
            for u in _list_users(session)
        ]


def add_user(
    registry: Registry,
    actor: Actor | None,
    username: str,
    display_name: str,
    roles: set[Role],
    *,
    password: str | None = None,
) -> UserRecord:
    """Create a user (``actor`` ``None`` only to bootstrap an empty registry).

    A password is set through :func:`workbench.users.set_password` in the same transaction,
    so its length rule holds and the setting is audited; a refused password leaves no user.
    """
    with registry.write() as session:
        user = _add_user(session, username, display_name, roles, by=actor)
        if password is not None:
            _set_password(session, actor or resolve_actor(session, username), username, password)
        return UserRecord(user.username, user.display_name, frozenset(roles), user.active)


def set_password(
    registry: Registry, actor: Actor, username: str, password: str, *, current: str | None = None
) -> None:
    """Set a password: one's own (with the ``current`` one, once set), or (coordinators,
    administrators) another user's."""
    with registry.write() as session:
        _set_password(session, actor, username, password, current=current)


def upgrade_schema(registry: Registry) -> SchemaState:
    """Run the schema migrations; say where the schema stands."""
    ran = upgrade(registry.engine)
    current, _ = schema_revision(registry.engine)
    return SchemaState(registry.url, current, ran)


def verify_audit(registry: Registry) -> AuditCheck:
    """Check the hash chain of the whole audit trail.

    Like :func:`upgrade_schema`, a check of the database itself: it reveals no record's
    content, and whoever can reach the database may run it, signed in or not.
    """
    with registry.read() as session:
        broken = audit.verify(session)
        count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    if broken is None:
        return AuditCheck(int(count))
    return AuditCheck(int(count), broken.event_id, broken.reason)
