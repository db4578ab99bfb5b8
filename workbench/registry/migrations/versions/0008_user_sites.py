"""users' sites and assignment due dates

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 16:30:00.000000

``users.site_id``: the site a user works at (nullable: coordinators, external readers and
every user of an older registry have none). The worklist's balanced assignment
(:func:`workbench.worklist.suggest_assignment`) leaves out readers of the case's own site,
so a reader does not read a case from their own hospital, whose patient they may know.

The column is added in place (``ALTER TABLE ... ADD COLUMN ... REFERENCES``, which SQLite
allows for a nullable column), so the ``users`` table is not rebuilt: rebuilding it on SQLite
would drop a table every other table refers to. It is not covered by the users' row hashes
(:data:`workbench.registry.rowhash.GUARDED`): covering it would change the hash of every
existing user, which would then no longer match the trail's baseline (revision 0006). A
change of a user's site is recorded in the audit trail (``user.site``) all the same.

``reader_assignments.due_at`` exists since revision 0001; from this revision on the workbench
sets it at assignment (``[worklist]`` in ``review.toml``). Nothing to migrate for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = "fk_users_site_id_sites"
_INDEX = "ix_users_site_id"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot add a constraint to a table, but it adds a column with its REFERENCES
        # clause; the foreign key reflects as the model's (unnamed constraints are matched by
        # their columns).
        op.execute("ALTER TABLE users ADD COLUMN site_id INTEGER REFERENCES sites (id)")
    else:
        op.add_column("users", sa.Column("site_id", sa.Integer(), nullable=True))
        op.create_foreign_key(_FK, "users", "sites", ["site_id"], ["id"])
    op.create_index(_INDEX, "users", ["site_id"], unique=False)


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="users")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops a column that no index or constraint other than its own
        # REFERENCES clause names.
        op.execute("ALTER TABLE users DROP COLUMN site_id")
    else:
        op.drop_constraint(_FK, "users", type_="foreignkey")
        op.drop_column("users", "site_id")
