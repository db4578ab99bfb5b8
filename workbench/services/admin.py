"""Administration: who is acting, users and passwords, the schema, and the audit trail.

Each function takes the registry and the acting person, owns its transaction and returns
frozen values; the exceptions are opening the registry, signing in, and the checks of the
database itself (:func:`upgrade_schema`, :func:`verify_audit`, :func:`anchor_audit`,
:func:`check_anchor`), which read no record.

An *anchor* (:class:`AuditAnchor`) is the audit trail's head written to a file kept away from
the database: the hash chain alone cannot show a deleted tail, or history rewritten with every
later hash recomputed, but the trail must still contain each head it was anchored at.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from adjudication.vocabulary import Role
from workbench.actor import Actor
from workbench.errors import RegistryUnavailableError, ValidationError
from workbench.registry import audit, reconcile
from workbench.registry.db import Registry, schema_revision, upgrade
from workbench.registry.models import AuditEvent, Site
from workbench.registry.reconcile import RowFinding
from workbench.users import add_user as _add_user
from workbench.users import list_users as _list_users
from workbench.users import resolve_actor
from workbench.users import set_password as _set_password
from workbench.users import set_site as _set_site

_MANAGERS = frozenset({Role.ADMIN, Role.COORDINATOR})


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A registry user as lists show them (never the password hash)."""

    username: str
    display_name: str
    roles: frozenset[Role]
    active: bool
    has_password: bool = False
    """Whether a password is set (never the password or its hash)."""
    must_change_password: bool = False
    """Whether the password is a one-time one from an administrator's reset."""
    recent_failures: int = 0
    """Failed password attempts naming this user in the backoff window (from any source)."""
    last_failure: dt.datetime | None = None
    site: str | None = None
    """The code of the site the user works at, if recorded."""


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """The outcome of :func:`verify_audit`: how many events, the first broken one, and the
    guarded rows on which the live tables and the trail disagree."""

    events: int
    broken_event: int | None = None
    reason: str | None = None
    findings: tuple[RowFinding, ...] = ()
    """Each guarded row changed, inserted or deleted behind the application's back, with its
    table, row id and problem (:class:`workbench.registry.reconcile.RowFinding`)."""

    @property
    def intact(self) -> bool:
        """Whether the whole chain holds."""
        return self.broken_event is None

    @property
    def clean(self) -> bool:
        """Whether the chain holds and the live tables match it."""
        return self.intact and not self.findings


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


def list_users(registry: Registry, actor: Actor) -> list[UserRecord]:
    """Every user, by username, with their recent failed password attempts."""
    from workbench.auth import failures_by_user
    from workbench.registry.pg_security import has_password

    with registry.read() as session:
        failures = failures_by_user(session)
        codes = dict(session.execute(select(Site.id, Site.code)).all())
        records = []
        for u in _list_users(session):
            recent, last = failures.get(u.username, (0, None))
            records.append(
                UserRecord(
                    u.username,
                    u.display_name,
                    frozenset(r.role for r in u.roles),
                    u.active,
                    bool(has_password(session, u.username))
                    if u.username == actor.username or actor.roles & _MANAGERS
                    else False,
                    u.must_change_password,
                    recent,
                    last,
                    codes.get(u.site_id) if u.site_id is not None else None,
                )
            )
        return records


def add_user(
    registry: Registry,
    actor: Actor | None,
    username: str,
    display_name: str,
    roles: set[Role],
    *,
    password: str | None = None,
    site: str | None = None,
) -> UserRecord:
    """Create a user (``actor`` ``None`` only to bootstrap an empty registry), working at
    ``site`` (a site code) if given.

    A password is set through :func:`workbench.users.set_password` in the same transaction,
    so its length rule holds and the setting is audited; a refused password leaves no user.
    Chosen by someone else, it is a one-time password: the new user chooses their own at
    their first sign-in.
    """
    with registry.write() as session:
        user = _add_user(session, username, display_name, roles, by=actor, site=site)
        if password is not None:
            _set_password(session, actor or resolve_actor(session, username), username, password)
        return UserRecord(
            user.username,
            user.display_name,
            frozenset(roles),
            user.active,
            password is not None,
            user.must_change_password,
            site=site,
        )


def set_user_site(registry: Registry, actor: Actor, username: str, site: str | None) -> None:
    """Record the site ``username`` works at (``None``: none), audited as ``user.site``
    (coordinators, administrators; :func:`workbench.users.set_site`)."""
    with registry.write() as session:
        _set_site(session, actor, username, site)


def set_password(
    registry: Registry, actor: Actor, username: str, password: str, *, current: str | None = None
) -> None:
    """Set a password: one's own (with the ``current`` one, once set), or (coordinators,
    administrators) reset another user's to a one-time password that ends their sessions
    (:func:`workbench.users.set_password`)."""
    with registry.write() as session:
        _set_password(session, actor, username, password, current=current)


def upgrade_schema(registry: Registry) -> SchemaState:
    """Run the schema migrations; say where the schema stands."""
    ran = upgrade(registry.engine)
    current, _ = schema_revision(registry.engine)
    return SchemaState(registry.url, current, ran)


def verify_audit(registry: Registry) -> AuditCheck:
    """Check the hash chain of the whole audit trail, and reconcile the guarded tables with it.

    Both read one snapshot of the database. Like :func:`upgrade_schema`, a check of the
    database itself: it reveals no record's content (a finding names a table and a row id),
    and whoever can reach the database may run it, signed in or not.
    """
    with registry.read() as session:
        reconcile.snapshot(session)
        broken = audit.verify(session)
        count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
        findings = tuple(reconcile.reconcile(session))
    if broken is None:
        return AuditCheck(int(count), findings=findings)
    return AuditCheck(int(count), broken.event_id, broken.reason, findings)


ANCHOR_FORMAT = "pml-workbench-audit-anchor/1"
"""The ``format`` of an anchor file this version writes and reads."""

_HASH = re.compile(r"[0-9a-f]{64}")
_ANCHOR_FIELDS = ("format", "events", "head_id", "head_hash", "written_at", "registry")


@dataclass(frozen=True, slots=True)
class AuditAnchor:
    """The head of the audit trail at one moment, to keep where the database's users cannot write.

    ``events`` is how many events the trail held, ``head_id`` and ``head_hash`` its last event,
    ``written_at`` the UTC time the anchor was taken, ``registry`` the database URL (without
    its password) so an anchor can be matched to its registry.
    """

    events: int
    head_id: int
    head_hash: str
    written_at: dt.datetime
    registry: str

    def __post_init__(self) -> None:
        for name in ("events", "head_id"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: {value!r} is not a whole number of at least 1")
        if not isinstance(self.head_hash, str) or not _HASH.fullmatch(self.head_hash):
            raise ValueError(f"head_hash: {self.head_hash!r} is not 64 lowercase hex digits")
        if not isinstance(self.written_at, dt.datetime) or self.written_at.tzinfo is None:
            raise ValueError(f"written_at: {self.written_at!r} is not a time with its zone")
        if not isinstance(self.registry, str):
            raise ValueError(f"registry: {self.registry!r} is not a text")

    @property
    def when(self) -> str:
        """``written_at`` in UTC as ISO 8601 with ``Z``, as the file holds it."""
        utc = self.written_at.astimezone(dt.UTC).replace(tzinfo=None)
        return utc.isoformat(timespec="seconds") + "Z"

    def to_json(self) -> str:
        """The anchor as the small JSON document an anchor file holds."""
        document = {
            "format": ANCHOR_FORMAT,
            "events": self.events,
            "head_id": self.head_id,
            "head_hash": self.head_hash,
            "written_at": self.when,
            "registry": self.registry,
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "anchor") -> AuditAnchor:
        """Parse :meth:`to_json`'s document; every field is checked.

        Raises :class:`~workbench.errors.ValidationError` naming ``source`` (the file) and
        the field when the document is not a well-formed anchor.
        """
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"{source}: not an audit anchor: invalid JSON at line {exc.lineno}, "
                f"column {exc.colno}: {exc.msg}"
            ) from None
        if not isinstance(data, dict):
            raise ValidationError(f"{source}: not an audit anchor: expected a JSON object")
        for name in _ANCHOR_FIELDS:
            if name not in data:
                raise ValidationError(f"{source}: {name}: missing", field=name)
        unknown = sorted(set(data) - set(_ANCHOR_FIELDS))
        if unknown:
            raise ValidationError(f"{source}: {unknown[0]}: unknown field", field=unknown[0])
        if data["format"] != ANCHOR_FORMAT:
            raise ValidationError(
                f"{source}: format: {data['format']!r} is not {ANCHOR_FORMAT!r}", field="format"
            )
        written = data["written_at"]
        try:
            if not isinstance(written, str) or not written.endswith("Z"):
                raise ValueError
            parsed = dt.datetime.fromisoformat(written[:-1])
            if parsed.tzinfo is not None:
                raise ValueError
            written_at = parsed.replace(tzinfo=dt.UTC)
        except ValueError:
            raise ValidationError(
                f"{source}: written_at: {written!r} is not a UTC time like 2026-01-31T17:00:00Z",
                field="written_at",
            ) from None
        try:
            return cls(
                events=data["events"],
                head_id=data["head_id"],
                head_hash=data["head_hash"],
                written_at=written_at,
                registry=data["registry"],
            )
        except ValueError as exc:
            # __post_init__ names the field first ("head_hash: ...").
            field = str(exc).split(":", 1)[0]
            raise ValidationError(f"{source}: {exc}", field=field) from None


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    """Whether the audit trail still contains an anchored head (:func:`check_anchor`)."""

    anchor: AuditAnchor
    problem: str | None = None
    """Why it does not (event gone, hash differs, fewer events), or ``None`` when it does."""

    @property
    def contained(self) -> bool:
        """Whether the trail still holds the anchored head."""
        return self.problem is None


def anchor_audit(registry: Registry) -> AuditAnchor:
    """The audit trail's head now, as an anchor (a check of the database itself, like
    :func:`verify_audit`).

    Raises :class:`ValidationError` on an empty trail, and on a broken chain: an anchor
    vouches for the history before it, so a tampered trail is never anchored.
    """
    with registry.read() as session:
        head = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()
        if head is None:
            raise ValidationError("the audit trail is empty: there is no head to anchor")
        head_id, head_hash = head.id, head.hash
        # Counted up to the head, so an event appended meanwhile cannot make the two disagree.
        count = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.id <= head_id)
        )
        broken = audit.verify(session)
        if broken is not None:
            raise ValidationError(
                f"audit event {broken.event_id}: {broken.reason}; the trail was not anchored"
            )
    url = registry.engine.url.set(password=None).render_as_string(hide_password=False)
    return AuditAnchor(int(count or 0), head_id, head_hash, dt.datetime.now(dt.UTC), url)


def check_anchor(registry: Registry, anchor: AuditAnchor) -> AnchorCheck:
    """Whether the trail still contains ``anchor``'s head: the anchored event is there with
    the same hash, and the trail has at least as many events as were anchored.

    Together with :func:`verify_audit` this catches a deleted tail and history rewritten with
    every later hash recomputed, up to the anchor; what changed after it shows only against
    a later anchor.
    """
    with registry.read() as session:
        stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.id == anchor.head_id))
        count = int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    if stored is None:
        problem = f"audit event {anchor.head_id}, the anchored head, is gone (deleted out of band)"
    elif stored != anchor.head_hash:
        problem = (
            f"audit event {anchor.head_id}, the anchored head, has a different hash "
            "(history up to it was rewritten)"
        )
    elif count < anchor.events:
        problem = (
            f"the trail holds {count} event(s), fewer than the {anchor.events} anchored "
            "(events were deleted out of band)"
        )
    else:
        problem = None
    return AnchorCheck(anchor, problem)


def read_anchor(path: Path) -> AuditAnchor:
    """The anchor in the file ``path``.

    Raises :class:`ValidationError` naming the file when it is missing, unreadable or not a
    well-formed anchor (and then the field).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(f"{path}: no such audit anchor file") from None
    except UnicodeDecodeError:
        raise ValidationError(f"{path}: not an audit anchor: not UTF-8 text") from None
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read the audit anchor: {exc.strerror}") from None
    return AuditAnchor.from_json(text, source=str(path))


def write_anchor(anchor: AuditAnchor, path: Path, *, force: bool = False) -> None:
    """Write ``anchor`` to ``path``, readable by its owner only (mode 0600).

    The file appears whole or not at all: the anchor goes to a temporary file beside it, which
    is then linked into place (so an existing file is never overwritten), or with ``force``
    renamed over it. Raises :class:`ValidationError` when ``path`` exists (without ``force``)
    or cannot be written.
    """
    if path.exists() and not force:
        raise ValidationError(f"{path}: exists; not overwritten (use --force to replace it)")
    folder = path.parent
    try:
        # mkstemp creates the file with mode 0600, whatever the umask.
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ValidationError(f"{path}: cannot write the audit anchor: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(anchor.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if the file appeared meanwhile
    except FileExistsError:
        raise ValidationError(
            f"{path}: exists; not overwritten (use --force to replace it)"
        ) from None
    except OSError as exc:
        raise ValidationError(f"{path}: cannot write the audit anchor: {exc.strerror}") from None
    finally:
        Path(temporary).unlink(missing_ok=True)
