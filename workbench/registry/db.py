"""Opening the registry: engines, sessions, migrations, and the SQLite settings that matter.

SQLite (the default, one file) runs in WAL mode with foreign keys on and a busy timeout, and
a *write* session begins with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then
writes under WAL fails at once with "database is locked" when another writer got there first,
while an immediate one waits its turn. Read sessions stay deferred so readers never queue.

PostgreSQL (``postgresql+psycopg://...``) goes through the same code.

Every open upgrades the schema to the newest Alembic revision (``upgrade=False`` to skip).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from workbench.errors import ConflictError, DatabaseError, RegistryUnavailableError
from workbench.registry import audit, case_list_rows

# Every Session (of a registry or not) hands the hashes of the guarded rows it writes to the
# audit events it records, and refuses to commit such rows without one (see audit.install).
audit.install()
# ... and recounts the case list's counts of the cases whose studies, series or labs it adds
# or removes (see case_list_rows).
case_list_rows.install()

SQLITE_BUSY_TIMEOUT_MS = 15_000
_IMMEDIATE = "pml_begin_immediate"
_MIGRATION_LOCK_ID = 0x504D4C  # "PML": serialises concurrent upgrades on PostgreSQL


def describe_url(url: URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


def create_registry_engine(url: str) -> Engine:
    """An engine for ``url`` with the workbench's connection settings applied.

    Raises :class:`RegistryUnavailableError` for a URL that is not a database URL or names a
    driver that is not installed.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise RegistryUnavailableError(
            f"not a database URL: {url!r} (expected e.g. sqlite:///path/registry.sqlite3 "
            "or postgresql+psycopg://user@host/db)"
        ) from exc
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            raise RegistryUnavailableError(
                "the registry must be a SQLite file, not an in-memory database"
            )
        _create_private(Path(database).expanduser())
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_MS / 1000
    elif backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        connect_args["connect_timeout"] = 5
    else:
        raise RegistryUnavailableError(
            f"unsupported database {backend!r} in {describe_url(parsed)}: "
            "use sqlite:///FILE or postgresql+psycopg://..."
        )
    try:
        engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise RegistryUnavailableError(f"no driver for {describe_url(parsed)}: {exc}") from exc
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


def _create_private(path: Path) -> None:
    """Create the SQLite file readable and writable by its owner only (mode 0600).

    The registry holds password hashes and pseudonymous clinical data. SQLite gives the WAL
    and shared-memory files it creates beside the database the database file's own mode, so
    they are private too. An existing file of ours that is open to others is tightened.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        info = path.stat()
        if info.st_uid == os.getuid() and info.st_mode & 0o077:
            path.chmod(0o600)
        return
    os.close(descriptor)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(_IMMEDIATE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    script_location = resources.files("workbench.registry") / "migrations"
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["connection"] = connection
    return cfg


def schema_revision(engine: Engine) -> tuple[str | None, str]:
    """The database's current Alembic revision and the newest one this code knows."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        head = ScriptDirectory.from_config(_alembic_config(conn)).get_current_head()
    assert head is not None
    return current, head


def upgrade(engine: Engine) -> bool:
    """Migrate the database to the newest revision; return whether anything ran.

    A database at a revision this code does not know (upgraded by a newer workbench) raises
    :class:`RegistryUnavailableError` and is left as it is.
    """
    from alembic import command
    from alembic.script import ScriptDirectory

    current, head = schema_revision(engine)
    if current == head:
        if engine.dialect.name == "postgresql":
            # The database-side guards follow the code, not only the migrations: refreshed
            # when this workbench would install something else (one catalog query otherwise).
            from workbench.registry import pg_security

            with engine.begin() as conn:
                pg_security.install(conn, only_if_changed=True)
        return False
    if current is not None:
        with engine.connect() as conn:
            known = ScriptDirectory.from_config(_alembic_config(conn))
            if current not in {rev.revision for rev in known.walk_revisions()}:
                raise RegistryUnavailableError(
                    f"{describe_url(engine.url)} is at schema revision {current!r}, which this "
                    f"version of the workbench does not know (newest known: {head}); it was "
                    "probably upgraded by a newer workbench"
                )
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            conn.commit()
        try:
            command.upgrade(_alembic_config(conn), "head")
            conn.commit()
            if engine.dialect.name == "postgresql":
                from workbench.registry import pg_security

                pg_security.install(conn)  # grants and triggers for the tables just migrated
                conn.commit()
        finally:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
                conn.commit()
    return True


class Registry:
    """An open registry database: sessions for reading and for writing.

    >>> registry = Registry.open("sqlite:///registry.sqlite3")  # doctest: +SKIP
    >>> with registry.write() as session:  # doctest: +SKIP
    ...     session.add(case)
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = describe_url(engine.url)
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(**{_IMMEDIATE: True}), expire_on_commit=False
        )

    @classmethod
    def open(cls, url: str, *, upgrade_schema: bool = True) -> Registry:
        """Connect to ``url``, check it is a usable database and bring its schema up to date.

        Raises :class:`RegistryUnavailableError` with one clear sentence when that fails.
        """
        engine = create_registry_engine(url)
        where = describe_url(engine.url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                if engine.dialect.name == "sqlite":
                    conn.execute(text("SELECT count(*) FROM sqlite_master"))
            if upgrade_schema:
                upgrade(engine)
        except OperationalError as exc:
            engine.dispose()
            raise RegistryUnavailableError(
                f"cannot open the registry {where}: {_first_line(exc)}"
            ) from exc
        except DBAPIError as exc:
            engine.dispose()
            raise RegistryUnavailableError(
                f"{where} is not a usable registry database: {_first_line(exc)}"
            ) from exc
        return cls(engine)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; rolled back at the end.

        A database failure raises :class:`~workbench.errors.DatabaseError`.
        """
        with self._read() as session:
            try:
                yield session
            except SQLAlchemyError as exc:
                raise DatabaseError(_database_message(exc)) from exc
            finally:
                session.rollback()

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work is committed at the end, or not at all.

        A stale save (the row's version changed since it was read) raises
        :class:`ConflictError`, a database failure :class:`~workbench.errors.DatabaseError`;
        either way nothing of the session is written.
        """
        with self._write() as session:
            try:
                yield session
                session.commit()
            except StaleDataError as exc:
                session.rollback()
                raise ConflictError(
                    "this record was changed by someone else since you opened it; "
                    "nothing was saved. Reload it to see their change, then apply yours again."
                ) from exc
            except SQLAlchemyError as exc:
                session.rollback()
                raise DatabaseError(_database_message(exc)) from exc
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        """Release all connections."""
        self.engine.dispose()


def _first_line(exc: DBAPIError) -> str:
    message = str(exc.orig) if exc.orig is not None else str(exc)
    return message.strip().splitlines()[0] if message.strip() else type(exc).__name__


def _database_message(exc: SQLAlchemyError) -> str:
    """What the user is told of a database failure: its first line, without SQL."""
    if isinstance(exc, DBAPIError):
        detail = _first_line(exc)
        return f"the registry refused the operation: {detail}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"the registry could not be used: {first}"
