"""Alembic environment: runs on the connection that :func:`workbench.registry.db.upgrade` passes.

``render_as_batch`` lets the same revisions alter tables on SQLite, which cannot ALTER most
things in place.
"""

from __future__ import annotations

from alembic import context

from workbench.registry.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through 'pml-workbench db upgrade', which passes the connection"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
