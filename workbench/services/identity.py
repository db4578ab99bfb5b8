"""Who a database login role is: mapping PostgreSQL roles to registry users.

On PostgreSQL each person logs in as a database role of their own, a member of the group role
``pml_workbench_app``; the role is mapped to their registry user (``users.db_role``), and a
connection as that role acts as that user (:func:`workbench.registry.pg_security.connection_user`).
These functions make and end such mappings:

- :func:`grant_db_role` grants the group role to a login role and maps it to a user,
- :func:`revoke_db_role` revokes the group role and clears the mapping,
- :func:`list_db_roles` lists the mapped roles and the unmapped members of the group role.

Granting and revoking change the cluster's roles, so they run on a connection as the owner of
the registry's tables (the role that runs ``pml-workbench db upgrade``), by an acting user the
policy lets manage users (:attr:`~workbench.policy.Action.ADD_USER`: administrators and
coordinators); both are audited as ``user.db_role``. On SQLite there are no database roles and
every function refuses.

Membership of ``pml_workbench_app`` is cluster-wide: revoking it ends the role's access to every
registry of the cluster that maps it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from workbench.actor import Actor
from workbench.errors import NotFoundError, PermissionDeniedError, ValidationError
from workbench.policy import Action, require
from workbench.registry import audit, pg_security
from workbench.registry.db import Registry
from workbench.registry.models import User

__all__ = [
    "DbRoleRecord",
    "grant_db_role",
    "list_db_roles",
    "require_postgresql",
    "revoke_db_role",
]

_ONLY_POSTGRESQL = (
    "database roles exist only on PostgreSQL: on this SQLite registry people sign in with "
    "their password ('pml-workbench login')"
)
_ACTION = "user.db_role"


@dataclass(frozen=True, slots=True)
class DbRoleRecord:
    """A database role and the registry user it authenticates."""

    role: str
    username: str | None
    """The registry user it is mapped to (``None``: a member mapped to nobody)."""
    display_name: str | None = None
    active: bool | None = None
    """Whether the mapped user is active (``None`` when unmapped)."""
    exists: bool = True
    """Whether the role still exists in the cluster (a dropped role stays mapped)."""
    can_login: bool = False
    member: bool = False
    """Whether the role is a member of ``pml_workbench_app``."""


def require_postgresql(registry: Registry) -> None:
    """Refuse (:class:`ValidationError`, one line) a registry that is not on PostgreSQL."""
    if registry.engine.dialect.name != "postgresql":
        raise ValidationError(_ONLY_POSTGRESQL)


def _check_owner(session: Session) -> None:
    if not pg_security.is_owner(session):
        role = session.scalar(text("SELECT current_user"))
        raise PermissionDeniedError(
            f"mapping database roles needs a connection as the owner of the registry's tables "
            f"(the role that runs 'pml-workbench db upgrade'); this connection is {role!r}"
        )


def _role_name(role: str) -> str:
    name = role.strip()
    if not name or len(name) > 63:
        raise ValidationError(f"database role {role!r}: a role name has 1 to 63 characters")
    return name


def _record(state: pg_security.DbRoleState, user: User | None) -> DbRoleRecord:
    return DbRoleRecord(
        role=state.name,
        username=user.username if user else None,
        display_name=user.display_name if user else None,
        active=user.active if user else None,
        exists=state.exists,
        can_login=state.can_login,
        member=state.member,
    )


def grant_db_role(registry: Registry, actor: Actor, role: str, username: str) -> DbRoleRecord:
    """Let the login role ``role`` act as the registry user ``username``.

    Grants ``pml_workbench_app`` to the role and maps it to the user (``users.db_role``),
    audited as ``user.db_role``. Granting a role its own mapping again only restores the
    membership. Refused for a role that does not exist, a superuser or the owner of the
    registry's tables (the database cannot guard them), a user who is deactivated, and a role
    or user already mapped otherwise (revoke that first).
    """
    require_postgresql(registry)
    require(actor, Action.ADD_USER)
    name = _role_name(role)
    with registry.write() as session:
        _check_owner(session)
        state = pg_security.role_state(session, name)
        if not state.exists:
            raise NotFoundError(
                f"database role {name!r} does not exist; create it first "
                f'(CREATE ROLE "{name}" LOGIN PASSWORD ...)'
            )
        if state.superuser or state.owner or name == pg_security.APP_ROLE:
            raise ValidationError(
                f"database role {name!r} is a superuser, the owner of the registry's tables or "
                "the group role itself: the database cannot hold it to account, so it is not "
                "mapped to a person; create a login role of their own"
            )
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFoundError(f"user {username!r} is not known to this registry")
        if not user.active:
            raise ValidationError(f"user {username!r} is deactivated in this registry")
        holder = session.scalars(select(User).where(User.db_role == name)).first()
        if holder is not None and holder.id != user.id:
            raise ValidationError(
                f"database role {name!r} is mapped to {holder.username!r} already; revoke it "
                f"first ('pml-workbench db-role revoke {name}')"
            )
        if user.db_role is not None and user.db_role != name:
            raise ValidationError(
                f"user {username!r} is mapped to database role {user.db_role!r} already; "
                f"revoke it first ('pml-workbench db-role revoke {user.db_role}')"
            )
        previous = user.db_role
        if previous == name and state.direct_member:
            return _record(state, user)  # nothing to change
        if not state.direct_member:
            pg_security.grant_app_role(session, name)
        user.db_role = name
        session.flush()
        audit.record(
            session,
            actor=actor.username,
            role=actor.main_role,
            action=_ACTION,
            entity_type="user",
            entity_id=username,
            before={"db_role": previous, "member": state.direct_member},
            after={"db_role": name, "member": True},
        )
        return _record(pg_security.role_state(session, name), user)


def revoke_db_role(registry: Registry, actor: Actor, role: str) -> DbRoleRecord:
    """End what the login role ``role`` may do: revoke ``pml_workbench_app`` from it and clear
    the user it was mapped to (audited as ``user.db_role``).

    The role itself stays (a database administrator drops it). Refused for a role neither
    mapped nor a member.
    """
    require_postgresql(registry)
    require(actor, Action.ADD_USER)
    name = _role_name(role)
    with registry.write() as session:
        _check_owner(session)
        state = pg_security.role_state(session, name)
        user = session.scalars(select(User).where(User.db_role == name)).first()
        if user is None and not state.direct_member:
            raise NotFoundError(
                f"database role {name!r} is not mapped to a registry user nor a member of "
                f"{pg_security.APP_ROLE}"
            )
        if state.direct_member:
            pg_security.revoke_app_role(session, name)
        if user is not None:
            user.db_role = None
            session.flush()
        audit.record(
            session,
            actor=actor.username,
            role=actor.main_role,
            action=_ACTION,
            entity_type="user" if user is not None else "db_role",
            entity_id=user.username if user is not None else name,
            before={"db_role": name if user else None, "member": state.direct_member},
            after={"db_role": None, "member": False},
        )
        return _record(pg_security.role_state(session, name), user)


def list_db_roles(registry: Registry, actor: Actor) -> list[DbRoleRecord]:
    """Every mapped role and every member of ``pml_workbench_app`` mapped to nobody, by role."""
    require_postgresql(registry)
    require(actor, Action.ADD_USER)
    with registry.read() as session:
        mapped = {
            user.db_role: user
            for user in session.scalars(select(User).where(User.db_role.is_not(None)))
            if user.db_role is not None
        }
        names = sorted(set(mapped) | set(pg_security.app_role_members(session)))
        return [_record(pg_security.role_state(session, name), mapped.get(name)) for name in names]
