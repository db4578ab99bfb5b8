"""the panel's imaging judgement, and the case list's "criteria disagree" flag

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 18:05:00.000000

``adjudications.panel_imaging`` is the panel's own judgement of the imaging (yes / no /
equivocal; null when the panel did not record one): ``reclassify`` uses it instead of the
readers' judgements, so a case the panel decided against the reads is not flagged forever. It
is recorded in the proposal's audit event; the row hash does not cover it (adding a covered
column would change the hash of every decision already attested).

``case_list_rows.criteria_flag`` is bookkeeping written by ``reclassify``: null when the
criteria give the case's final decision (or there is none), else a short text saying what they
give now, which the case list shows as a mark with a tooltip. Existing rows start null (not
yet re-classified).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its CHECK constraint in place; alembic's add_column would
        # skip the constraint there, and a batch copy of ``adjudications`` would drop its
        # triggers.
        op.execute(
            "ALTER TABLE adjudications ADD COLUMN panel_imaging VARCHAR(32) "
            "CONSTRAINT ck_adjudications_panel_imaging "
            "CHECK (panel_imaging IN ('yes', 'no', 'equivocal'))"
        )
    else:
        _add_panel_imaging()
    op.add_column("case_list_rows", sa.Column("criteria_flag", sa.String(200), nullable=True))


def _add_panel_imaging() -> None:
    op.add_column(
        "adjudications",
        sa.Column(
            "panel_imaging",
            sa.Enum(
                "yes",
                "no",
                "equivocal",
                name="panel_imaging",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
    )


def downgrade() -> None:
    op.drop_column("case_list_rows", "criteria_flag")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops a column with its own CHECK constraint in place.
        op.execute("ALTER TABLE adjudications DROP COLUMN panel_imaging")
    else:
        op.drop_constraint(op.f("ck_adjudications_panel_imaging"), "adjudications", "check")
        op.drop_column("adjudications", "panel_imaging")
