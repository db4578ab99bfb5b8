"""Tampering with the audit trail out of band, as someone with direct access to the database.

The registry refuses UPDATE and DELETE of audit events with triggers (migration 0003). What the
hash chain must still catch is someone who gets past them: on SQLite whoever can write the
file drops the triggers; on PostgreSQL the table's owner or a superuser disables them. Either
way the triggers are back when the block ends, as a careful tamperer would leave them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection, text

from workbench.registry.db import create_registry_engine


@contextlib.contextmanager
def out_of_band(url: str) -> Iterator[Connection]:
    """A transaction on ``url`` in which audit events can be changed; committed at the end."""
    engine = create_registry_engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                triggers = conn.execute(
                    text(
                        "SELECT name, sql FROM sqlite_master "
                        "WHERE type = 'trigger' AND tbl_name = 'audit_events'"
                    )
                ).all()
                assert triggers, "expected the append-only triggers on audit_events"
                for name, _ in triggers:
                    conn.execute(text(f'DROP TRIGGER "{name}"'))
                yield conn
                for _, sql in triggers:
                    conn.exec_driver_sql(sql)
            else:
                conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
                yield conn
                conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
    finally:
        engine.dispose()
