"""On PostgreSQL, the database knows who acts and refuses changes made behind the workbench's back.

People using the workbench on PostgreSQL log in as database roles of their own, members of the
NOLOGIN group role ``pml_workbench_app`` (migration 0003 creates it and grants it the
registry's tables). Each such login role is *mapped* to one registry user
(``users.db_role``; ``pml-workbench db-role grant ROLE USERNAME``), and a connection as that
role acts as that user: :func:`connection_user` names them, no password sign-in is needed, and
nobody can pretend to be someone else.

What the database enforces for such a *member* connection, whatever client it uses (the
workbench, psql, a script), is created by :func:`install` in the registry's schema:

- the password hashes (``users.password_hash``) cannot be read nor written directly: a member
  reads their own hash through ``pml_own_password_hash(username)``, and writes their own (or,
  holding the admin or coordinator role, another user's one-time password) through
  ``pml_write_password_hash(username, hash, must_change)``. Both run as the tables' owner
  (``SECURITY DEFINER``) with the search path pinned to the schema;
- every audit event gets the transaction that appended it (``audit_events.txid``), and a
  member may only append events in the name of their own registry user;
- a change to a guarded row -- decisions (``adjudications``), signatures, reads that are not
  drafts, assignments (``reader_assignments``), case creation, deletion and status, user roles
  (``user_roles``) and the identity and sign-in columns of ``users`` -- is refused at commit
  unless the same transaction appended an audit event by the member's own registry user. The
  workbench always records one; a hand-typed ``UPDATE`` does not;
- a member may not DELETE rows of the guarded tables nor of ``auth_failures`` (failed
  password attempts). The workbench itself deletes only draft lesions (``lesions``), which
  stay deletable;
- ``pml_session_username()`` gives the registry user mapped to the connection's login role.

Who is *not* guarded: superusers and the role that owns the schema's tables (and its
members). They can disable triggers and grant themselves anything, so the database cannot
hold them to account; there the workbench asks for a password sign-in instead. A site must
therefore never let people log in as the owner: the owner runs ``pml-workbench db upgrade``
and ``pml-workbench db-role grant``, and nothing else.

What the guards do *not* prove: that the audit event describes the change. A member who
appends an event in their own name may then change a guarded row by hand; the change is
attributed to them in the trail, and ``pml-workbench audit verify`` reconciles the rest.

:func:`install` is idempotent (``CREATE OR REPLACE``, ``DROP TRIGGER IF EXISTS``, grants) and
is run by :func:`workbench.registry.db.upgrade` after every migration, and on every open when
what it would install differs from what the schema holds (a digest kept as the comment of
``pml_session_username()``), so a new workbench version brings its guards along.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from workbench.errors import NotFoundError, PermissionDeniedError
from workbench.registry.models import User

__all__ = [
    "APP_ROLE",
    "DbRoleState",
    "app_role_members",
    "connection_user",
    "grant_app_role",
    "has_password",
    "install",
    "is_owner",
    "password_hash_digest",
    "read_password_hash",
    "revoke_app_role",
    "role_state",
    "write_password_hash",
]

APP_ROLE = "pml_workbench_app"
"""The NOLOGIN group role of the people using the workbench (created by migration 0003)."""

GUARDED_TABLES: dict[str, tuple[str, ...]] = {
    "adjudications": ("row",),
    "signatures": ("row",),
    "reader_assignments": ("row",),
    "user_roles": ("row",),
    "reads": ("not_draft",),
    "cases": ("columns", "status"),
    "users": (
        "columns",
        "username",
        "display_name",
        "active",
        "db_role",
        "password_hash",
        "must_change_password",
    ),
}
"""Tables whose changes need an audit event by the member in the same transaction, with the
guard's arguments: ``row`` every change; ``not_draft`` a change of a row whose old or new
``status`` is not ``draft``; ``columns`` an insert, a delete, or an update of a listed
column."""

NOT_DELETABLE = (*GUARDED_TABLES, "auth_failures")
"""Tables a member may not delete from. The workbench deletes only draft ``lesions``."""

_INSTALL_LOCK_ID = 0x504D4D  # serialises concurrent installs of one cluster
_MARKER_PREFIX = "pml-workbench security "
_UNMAPPED = (
    "database role {role!r} is not mapped to a registry user; an administrator maps it with "
    "`pml-workbench db-role grant {role} USERNAME`"
)

# Whether session_user is a guarded member: in the application role, and neither a superuser
# nor (a member of) the owner of the users table. pg_has_role is strict, so a missing role or
# table gives NULL, i.e. not guarded. {users} is an expression giving the table's regclass.
_GUARDED_EXPRESSION = """
SELECT COALESCE(
    NOT me.rolsuper
    AND NOT pg_catalog.pg_has_role(session_user, tables.relowner, 'MEMBER')
    AND pg_catalog.pg_has_role(session_user, app.oid, 'MEMBER'),
    false)
FROM pg_catalog.pg_roles AS me
LEFT JOIN pg_catalog.pg_class AS tables ON tables.oid = {users}
LEFT JOIN pg_catalog.pg_roles AS app ON app.rolname = '{app}'
WHERE me.rolname = session_user
"""
_CURRENT_USERS = (
    "pg_catalog.to_regclass(pg_catalog.quote_ident(pg_catalog.current_schema()) || '.users')"
)


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- who acts ------------------------------------------------------------------------------


def connection_user(session: Session) -> str | None:
    """The registry user the connection's own login role is mapped to, on PostgreSQL.

    ``None`` on SQLite and for a connection that is not a member of :data:`APP_ROLE`, or is a
    superuser or the owner of the schema's tables: there a password sign-in decides who acts.
    Raises :class:`PermissionDeniedError` for a member mapped to nobody, or to a user who is
    deactivated.
    """
    if not _is_postgresql(session):
        return None
    guarded = session.scalar(text(_GUARDED_EXPRESSION.format(users=_CURRENT_USERS, app=APP_ROLE)))
    if not guarded:
        return None
    role = str(session.scalar(text("SELECT session_user")))
    mapped = session.execute(select(User.username, User.active).where(User.db_role == role)).first()
    if mapped is None:
        raise PermissionDeniedError(_UNMAPPED.format(role=role))
    if not mapped.active:
        raise PermissionDeniedError(
            f"database role {role!r} is mapped to the registry user {mapped.username!r}, who "
            "is deactivated in this registry"
        )
    return str(mapped.username)


def is_owner(session: Session) -> bool:
    """Whether the connection's current role may act as the owner of the schema's tables
    (it is that role, a member inheriting it, or a superuser). ``False`` on SQLite."""
    if not _is_postgresql(session):
        return False
    owner = session.scalar(
        text(
            "SELECT pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE') "
            f"FROM pg_catalog.pg_class AS c WHERE c.oid = {_CURRENT_USERS}"
        )
    )
    return bool(owner)


# --- password hashes -----------------------------------------------------------------------


def _may_touch_hashes(connection: Connection | Session, privilege: str) -> bool:
    """Whether the current role may SELECT / UPDATE ``users.password_hash`` itself."""
    allowed = connection.execute(
        text(
            f"SELECT pg_catalog.has_column_privilege({_CURRENT_USERS}, 'password_hash', :privilege)"
        ),
        {"privilege": privilege},
    ).scalar()
    return bool(allowed)


def read_password_hash(session: Session, username: str) -> str | None:
    """The stored password hash of ``username`` (``None``: none set, or no such user).

    On SQLite, and on PostgreSQL for a role allowed to read the column (the owner), a plain
    select. A member reads through the database's ``pml_own_password_hash``, which gives the
    hash of the member's own registry user only: another user's reads as ``None``, as if
    none were set (so a password sign-in as someone else is refused like a wrong password).
    """
    if not _is_postgresql(session) or _may_touch_hashes(session, "SELECT"):
        return session.scalars(select(User.password_hash).where(User.username == username)).first()
    stored = session.scalar(text("SELECT pml_own_password_hash(:username)"), {"username": username})
    return None if stored is None else str(stored)


def has_password(session: Session, username: str) -> bool | None:
    """Whether ``username`` has a password set, without reading the hash where that is
    refused.

    A member learns it for their own user, and for anyone when their registry user holds the
    admin or coordinator role; otherwise ``None`` (the database does not say).
    """
    if not _is_postgresql(session) or _may_touch_hashes(session, "SELECT"):
        return read_password_hash(session, username) is not None
    known = session.scalar(text("SELECT pml_password_is_set(:username)"), {"username": username})
    return None if known is None else bool(known)


def password_hash_digest(connection: Connection | Session, username: str) -> str | None:
    """The SHA-256 (hex) of ``username``'s stored password hash, readable by every member.

    For whoever must notice a changed hash without learning it (the row hashes of the audit
    trail): the digest of a salted scrypt hash gives nothing to guess passwords with. ``None``
    when no password is set or there is no such user. Works on a Core ``Connection`` (a
    migration) as on a ``Session``.
    """
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    if bind.dialect.name != "postgresql" or _may_touch_hashes(connection, "SELECT"):
        stored = connection.execute(
            select(User.password_hash).where(User.username == username)
        ).scalar()
        return None if stored is None else hashlib.sha256(str(stored).encode()).hexdigest()
    digest = connection.execute(
        text("SELECT pml_password_hash_digest(:username)"), {"username": username}
    ).scalar()
    return None if digest is None else str(digest)


def write_password_hash(
    session: Session, username: str, password_hash: str | None, *, must_change: bool
) -> None:
    """Store ``password_hash`` (and ``must_change_password``) for ``username``.

    On SQLite and for the owner, an ORM update (the row's version moves on). A member writes
    through the database's ``pml_write_password_hash``, which allows their own user's hash,
    and another user's when the member's registry user holds the admin or coordinator role --
    always as a one-time password then (``must_change`` is forced on). The function moves the
    row's version on too, and the user's row in this session is expired, so it is read again.
    Nobody is asked here whether the change is allowed: the caller
    (:func:`workbench.users.set_password`) asks the policy and records the audit event.

    Raises :class:`NotFoundError` for an unknown user and :class:`PermissionDeniedError` when
    the database refuses the member.
    """
    session.flush()
    if not _is_postgresql(session) or _may_touch_hashes(session, "UPDATE"):
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFoundError(f"user {username!r} is not known to this registry")
        user.password_hash = password_hash
        user.must_change_password = must_change
        session.flush()
        return
    try:
        session.execute(
            text("SELECT pml_write_password_hash(:username, :hash, :must_change)"),
            {"username": username, "hash": password_hash, "must_change": must_change},
        )
    except DBAPIError as exc:
        _raise_refusal(exc)
        raise
    user_id = session.scalar(select(User.id).where(User.username == username))
    if user_id is not None:
        # The ORM did not see this change: the next audit event must carry the row's hash.
        from workbench.registry import audit

        audit.mark_changed(session, "users", int(user_id))
    for held in list(session.identity_map.values()):
        if isinstance(held, User) and held.username == username:
            session.expire(held)


def _raise_refusal(exc: DBAPIError) -> None:
    """Re-raise a refusal of our database functions as the workbench's own error."""
    state = getattr(exc.orig, "sqlstate", None)
    message = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    if state == "42501":  # insufficient_privilege
        raise PermissionDeniedError(message) from exc
    if state == "P0002":  # no_data_found
        raise NotFoundError(message) from exc


# --- database roles (for workbench.services.identity) ----------------------------------------


@dataclass(frozen=True, slots=True)
class DbRoleState:
    """A database role as the cluster knows it."""

    name: str
    exists: bool
    can_login: bool = False
    superuser: bool = False
    owner: bool = False
    """Whether it owns (or inherits the owner of) the schema's tables."""
    member: bool = False
    """Whether it is a member of :data:`APP_ROLE` (directly or not)."""
    direct_member: bool = False
    """Whether it was granted :data:`APP_ROLE` itself (what ``REVOKE`` can undo)."""


def role_state(session: Session, name: str) -> DbRoleState:
    """What the cluster says of the role ``name`` (``exists=False`` when there is none)."""
    row = session.execute(
        text(
            "SELECT r.rolcanlogin, r.rolsuper, "
            "COALESCE(pg_catalog.pg_has_role(r.oid, c.relowner, 'MEMBER'), false), "
            "COALESCE(pg_catalog.pg_has_role(r.oid, app.oid, 'MEMBER'), false), "
            "EXISTS (SELECT FROM pg_catalog.pg_auth_members AS m "
            "        WHERE m.member = r.oid AND m.roleid = app.oid) "
            "FROM pg_catalog.pg_roles AS r "
            f"LEFT JOIN pg_catalog.pg_class AS c ON c.oid = {_CURRENT_USERS} "
            "LEFT JOIN pg_catalog.pg_roles AS app ON app.rolname = :app "
            "WHERE r.rolname = :name"
        ),
        {"name": name, "app": APP_ROLE},
    ).first()
    if row is None:
        return DbRoleState(name, exists=False)
    login, superuser, owner, member, direct = (bool(v) for v in row)
    # A superuser "is a member" of every role; it is never guarded, so it is not one here.
    return DbRoleState(
        name, True, login, superuser, owner, member and not superuser, direct and not superuser
    )


def app_role_members(session: Session) -> list[str]:
    """The roles granted :data:`APP_ROLE` directly, by name."""
    return [
        str(name)
        for name in session.scalars(
            text(
                "SELECT r.rolname FROM pg_catalog.pg_auth_members AS m "
                "JOIN pg_catalog.pg_roles AS r ON r.oid = m.member "
                "JOIN pg_catalog.pg_roles AS app ON app.oid = m.roleid "
                "WHERE app.rolname = :app ORDER BY r.rolname"
            ),
            {"app": APP_ROLE},
        )
    ]


def _quoted_role(session: Session, name: str) -> str:
    return str(session.get_bind().dialect.identifier_preparer.quote_identifier(name))


def grant_app_role(session: Session, name: str) -> None:
    """``GRANT pml_workbench_app TO name`` in the session's transaction.

    Raises :class:`PermissionDeniedError` when the connection may not grant it (the owner
    needs ``CREATEROLE``, or ``ADMIN OPTION`` on the group role).
    """
    try:
        with session.begin_nested():
            session.execute(text(f"GRANT {APP_ROLE} TO {_quoted_role(session, name)}"))
    except DBAPIError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise PermissionDeniedError(
            f"cannot grant {APP_ROLE} to database role {name!r}: {first} (the registry's "
            f"owner needs CREATEROLE, or ADMIN OPTION on {APP_ROLE})"
        ) from exc


def revoke_app_role(session: Session, name: str) -> None:
    """``REVOKE pml_workbench_app FROM name`` in the session's transaction.

    Membership is cluster-wide: it ends the role's access to every registry of the cluster
    that relies on it. Raises :class:`PermissionDeniedError` when the database refuses, or
    leaves the role a direct member (a grant it may not revoke).
    """
    try:
        with session.begin_nested():
            session.execute(text(f"REVOKE {APP_ROLE} FROM {_quoted_role(session, name)}"))
    except DBAPIError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise PermissionDeniedError(
            f"cannot revoke {APP_ROLE} from database role {name!r}: {first}"
        ) from exc
    if role_state(session, name).direct_member:
        raise PermissionDeniedError(
            f"database role {name!r} is still a member of {APP_ROLE} after the REVOKE (it was "
            "granted by another role); a superuser revokes it"
        )


# --- installing the guards -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    """What :func:`install` needs to know of the schema it installs into."""

    schema: str
    """Quoted name of the schema."""
    owner: str
    """Quoted name of the role owning ``users``."""
    users_columns: tuple[str, ...]
    app_role_exists: bool
    may_install: bool
    marker: str | None


def _target(connection: Connection) -> _Target | None:
    row = connection.execute(
        text(
            "SELECT pg_catalog.current_schema(), "
            "pg_catalog.pg_get_userbyid(c.relowner), "
            "pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE'), "
            "ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute AS a "
            "      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "      ORDER BY a.attnum), "
            "EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :app), "
            "pg_catalog.obj_description(pg_catalog.to_regprocedure("
            "    pg_catalog.quote_ident(pg_catalog.current_schema()) "
            "    || '.pml_session_username()'), 'pg_proc') "
            f"FROM pg_catalog.pg_class AS c WHERE c.oid = {_CURRENT_USERS}"
        ),
        {"app": APP_ROLE},
    ).first()
    if row is None:
        return None
    schema, owner, may_install, columns, app_exists, marker = row
    quote = connection.dialect.identifier_preparer.quote_identifier
    return _Target(
        schema=quote(schema),
        owner=quote(owner),
        users_columns=tuple(columns),
        app_role_exists=bool(app_exists),
        may_install=bool(may_install),
        marker=marker,
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _statements(t: _Target) -> list[str]:
    """The idempotent DDL that installs the guards into ``t.schema``."""
    s = t.schema
    users = _literal(f"{s}.users")
    pinned = f"SET search_path = {s}, pg_temp"
    definer = f"SECURITY DEFINER {pinned}"
    not_mapped = (
        "'database role ' || pg_catalog.quote_literal(session_user) || ' is not mapped to an "
        "active registry user; an administrator maps it with "
        "`pml-workbench db-role grant ' || session_user || ' USERNAME`'"
    )
    functions = {
        "pml_connection_is_guarded()": f"""
CREATE OR REPLACE FUNCTION {s}.pml_connection_is_guarded() RETURNS boolean
LANGUAGE sql STABLE {pinned} AS $fn$
{_GUARDED_EXPRESSION.format(users=users + "::regclass", app=APP_ROLE)}
$fn$""",
        "pml_session_username()": f"""
CREATE OR REPLACE FUNCTION {s}.pml_session_username() RETURNS text
LANGUAGE sql STABLE {definer} AS $fn$
SELECT u.username::text FROM {s}.users AS u
WHERE u.db_role = session_user::text AND u.active
$fn$""",
        "pml_own_password_hash(text)": f"""
CREATE OR REPLACE FUNCTION {s}.pml_own_password_hash(p_username text) RETURNS text
LANGUAGE sql STABLE {definer} AS $fn$
SELECT u.password_hash::text FROM {s}.users AS u
WHERE u.username = p_username AND u.username = {s}.pml_session_username()
$fn$""",
        "pml_password_is_set(text)": f"""
CREATE OR REPLACE FUNCTION {s}.pml_password_is_set(p_username text) RETURNS boolean
LANGUAGE plpgsql STABLE {definer} AS $fn$
DECLARE
    me text := {s}.pml_session_username();
BEGIN
    IF me IS NULL OR (p_username IS DISTINCT FROM me AND NOT {s}.pml_manages_users(me)) THEN
        RETURN NULL;
    END IF;
    RETURN (SELECT u.password_hash IS NOT NULL FROM {s}.users AS u
            WHERE u.username = p_username);
END
$fn$""",
        "pml_password_hash_digest(text)": f"""
CREATE OR REPLACE FUNCTION {s}.pml_password_hash_digest(p_username text) RETURNS text
LANGUAGE sql STABLE {definer} AS $fn$
SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(u.password_hash, 'UTF8')), 'hex')
FROM {s}.users AS u WHERE u.username = p_username
$fn$""",
        "pml_manages_users(text)": f"""
CREATE OR REPLACE FUNCTION {s}.pml_manages_users(p_username text) RETURNS boolean
LANGUAGE sql STABLE {definer} AS $fn$
SELECT EXISTS (
    SELECT FROM {s}.user_roles AS r JOIN {s}.users AS u ON u.id = r.user_id
    WHERE u.username = p_username AND u.active AND r.role IN ('admin', 'coordinator'))
$fn$""",
        "pml_write_password_hash(text,text,boolean)": f"""
CREATE OR REPLACE FUNCTION {s}.pml_write_password_hash(
    p_username text, p_hash text, p_must_change boolean) RETURNS void
LANGUAGE plpgsql VOLATILE {definer} AS $fn$
DECLARE
    me text := {s}.pml_session_username();
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = {not_mapped};
    END IF;
    IF p_username IS DISTINCT FROM me AND NOT {s}.pml_manages_users(me) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'user ' || pg_catalog.quote_literal(me) || ' may not set the password of '
                || pg_catalog.quote_literal(p_username)
                || ': that needs the coordinator or admin role';
    END IF;
    UPDATE {s}.users
    SET password_hash = p_hash,
        must_change_password = (p_must_change OR p_username IS DISTINCT FROM me),
        version = version + 1
    WHERE username = p_username;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found',
            MESSAGE = 'user ' || pg_catalog.quote_literal(p_username)
                || ' is not known to this registry';
    END IF;
END
$fn$""",
        "pml_audit_events_stamp()": f"""
CREATE OR REPLACE FUNCTION {s}.pml_audit_events_stamp() RETURNS trigger
LANGUAGE plpgsql {definer} AS $fn$
DECLARE
    me text;
BEGIN
    -- jsonb_populate_record leaves the row alone where the column is missing (a schema
    -- downgraded below revision 0005 keeps working).
    NEW := pg_catalog.jsonb_populate_record(
        NEW, pg_catalog.jsonb_build_object('txid', pg_catalog.txid_current()));
    IF {s}.pml_connection_is_guarded() THEN
        me := {s}.pml_session_username();
        IF me IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                MESSAGE = 'audit_events: event refused: ' || {not_mapped};
        END IF;
        IF NEW.actor IS DISTINCT FROM me THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                MESSAGE = 'audit_events: event refused: database role '
                    || pg_catalog.quote_literal(session_user) || ' acts as '
                    || pg_catalog.quote_literal(me) || ' and may not record an event by '
                    || pg_catalog.quote_literal(NEW.actor);
        END IF;
    END IF;
    RETURN NEW;
END
$fn$""",
        "pml_users_insert()": f"""
CREATE OR REPLACE FUNCTION {s}.pml_users_insert() RETURNS trigger
LANGUAGE plpgsql {definer} AS $fn$
BEGIN
    IF {s}.pml_connection_is_guarded() THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'insert of users row (' || pg_catalog.quote_literal(NEW.username)
                || ') refused: a password is set through pml_write_password_hash, not '
                || 'inserted with the user';
    END IF;
    RETURN NEW;
END
$fn$""",
        "pml_guard_change()": f"""
CREATE OR REPLACE FUNCTION {s}.pml_guard_change() RETURNS trigger
LANGUAGE plpgsql {definer} AS $fn$
DECLARE
    old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN pg_catalog.to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN pg_catalog.to_jsonb(NEW) END;
    any_row jsonb := COALESCE(new_row, old_row);
    relevant boolean := true;
    me text;
    tx bigint;
    what text;
    i integer;
BEGIN
    IF TG_ARGV[0] = 'columns' AND TG_OP = 'UPDATE' THEN
        relevant := false;
        FOR i IN 1 .. TG_NARGS - 1 LOOP
            IF old_row -> TG_ARGV[i] IS DISTINCT FROM new_row -> TG_ARGV[i] THEN
                relevant := true;
                EXIT;
            END IF;
        END LOOP;
    ELSIF TG_ARGV[0] = 'not_draft' THEN
        relevant := COALESCE(old_row ->> 'status', 'draft') <> 'draft'
            OR COALESCE(new_row ->> 'status', 'draft') <> 'draft';
    END IF;
    IF NOT relevant OR NOT {s}.pml_connection_is_guarded() THEN
        RETURN NULL;
    END IF;
    IF any_row ? 'id' THEN
        what := 'id ' || (any_row ->> 'id');
    ELSE
        what := 'user_id ' || (any_row ->> 'user_id') || ', role ' || (any_row ->> 'role');
    END IF;
    what := TG_TABLE_NAME || ' row (' || what || ')';
    me := {s}.pml_session_username();
    IF me IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = pg_catalog.lower(TG_OP) || ' of ' || what || ' refused: ' || {not_mapped};
    END IF;
    tx := pg_catalog.txid_current();
    -- The workbench serialises appends, so this transaction's events are the newest: look
    -- among the last thousand first (a short backward scan of the primary key), and through
    -- the whole trail only when they are not there.
    PERFORM FROM (
        SELECT e.txid, e.actor FROM {s}.audit_events AS e ORDER BY e.id DESC LIMIT 1000
    ) AS recent WHERE recent.txid = tx AND recent.actor = me;
    IF NOT FOUND THEN
        PERFORM FROM {s}.audit_events AS e WHERE e.txid = tx AND e.actor = me LIMIT 1;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = pg_catalog.lower(TG_OP) || ' of ' || what || ' refused: no audit event by '
                || pg_catalog.quote_literal(me) || ' in the same transaction (changes to '
                || TG_TABLE_NAME || ' are made through the workbench, which records them)';
    END IF;
    RETURN NULL;
END
$fn$""",
    }
    statements = [body.strip() for body in functions.values()]
    for signature in functions:
        statements.append(f"ALTER FUNCTION {s}.{signature} OWNER TO {t.owner}")
        statements.append(f"REVOKE ALL ON FUNCTION {s}.{signature} FROM PUBLIC")
    statements += [
        f"DROP TRIGGER IF EXISTS pml_audit_events_stamp ON {s}.audit_events",
        f"CREATE TRIGGER pml_audit_events_stamp BEFORE INSERT ON {s}.audit_events "
        f"FOR EACH ROW EXECUTE FUNCTION {s}.pml_audit_events_stamp()",
        f"DROP TRIGGER IF EXISTS pml_users_insert ON {s}.users",
        f"CREATE TRIGGER pml_users_insert BEFORE INSERT ON {s}.users "
        f"FOR EACH ROW WHEN (NEW.password_hash IS NOT NULL) "
        f"EXECUTE FUNCTION {s}.pml_users_insert()",
    ]
    for table, arguments in GUARDED_TABLES.items():
        args = ", ".join(_literal(a) for a in arguments)
        statements += [
            f"DROP TRIGGER IF EXISTS pml_guard ON {s}.{table}",
            f"CREATE CONSTRAINT TRIGGER pml_guard AFTER INSERT OR UPDATE OR DELETE "
            f"ON {s}.{table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"EXECUTE FUNCTION {s}.pml_guard_change({args})",
        ]
    if t.app_role_exists:
        callable_by_members = (
            "pml_connection_is_guarded()",
            "pml_session_username()",
            "pml_own_password_hash(text)",
            "pml_password_is_set(text)",
            "pml_password_hash_digest(text)",
            "pml_write_password_hash(text,text,boolean)",
        )
        for signature in callable_by_members:
            statements.append(f"GRANT EXECUTE ON FUNCTION {s}.{signature} TO {APP_ROLE}")
        other = ", ".join(f'"{c}"' for c in t.users_columns if c != "password_hash")
        # Revoking the table's privileges revokes its columns' too; then the columns are
        # granted one by one, all but the hash. INSERT covers the hash column because the
        # ORM names every column in its INSERT (NULL where unset); pml_users_insert refuses
        # a member's non-NULL hash.
        statements += [
            f"REVOKE SELECT, INSERT, UPDATE ON {s}.users FROM {APP_ROLE}",
            f"GRANT SELECT ({other}), UPDATE ({other}) ON {s}.users TO {APP_ROLE}",
            f"GRANT INSERT ON {s}.users TO {APP_ROLE}",
            "REVOKE DELETE ON "
            + ", ".join(f"{s}.{table}" for table in NOT_DELETABLE)
            + f" FROM {APP_ROLE}",
        ]
    return statements


def _digest(statements: list[str]) -> str:
    return _MARKER_PREFIX + hashlib.sha256("\n;\n".join(statements).encode()).hexdigest()


def install(connection: Connection, *, only_if_changed: bool = False) -> None:
    """Create or refresh the guards in the connection's current schema (PostgreSQL only).

    Skipped silently on SQLite, for a schema without registry tables and for a role that may
    not act as the tables' owner (say a member opening the registry). ``only_if_changed``
    skips it too when the schema holds exactly what this code would install (one catalog
    query). Runs in the connection's transaction; the caller commits.
    """
    if connection.dialect.name != "postgresql":
        return
    target = _target(connection)
    if target is None or not target.may_install:
        return
    statements = _statements(target)
    digest = _digest(statements)
    if only_if_changed and target.marker == digest:
        return
    connection.execute(
        text("SELECT pg_catalog.pg_advisory_xact_lock(:id)"), {"id": _INSTALL_LOCK_ID}
    )
    if only_if_changed:
        again = _target(connection)  # another process may have installed it meanwhile
        if again is not None and again.marker == digest:
            return
    for statement in statements:
        _execute(connection, statement)
    _execute(
        connection,
        f"COMMENT ON FUNCTION {target.schema}.pml_session_username() IS {_literal(digest)}",
    )


def _execute(connection: Connection, statement: str) -> None:
    # No parameters: the driver must not read the '%' of SQL text as placeholders.
    options: dict[str, Any] = {"no_parameters": True}
    connection.exec_driver_sql(statement, execution_options=options)
