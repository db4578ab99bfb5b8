"""incidence denominators

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 19:30:00.000000

``denominators`` holds what the registry cannot count itself: how many patients (and how many
patient-years of follow-up) a stratum of the source population had, by calendar year or for
all years (``year`` null), imported by a coordinator from a CSV file
(:mod:`workbench.denominators`). The analytics divide the registry's PML cases of the same
stratum by them. One row per stratum and year (the application enforces it for the null
year too, where a UNIQUE constraint does not); a re-import replaces the row, and the audit
event ``registry.denominators`` keeps the values it replaced. Not a guarded table: the values
are the analyst's input, not an attestation, so rows carry no hash.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "denominators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stratum", sa.String(length=200), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("patients", sa.Integer(), nullable=True),
        sa.Column("person_years", sa.Float(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_denominators")),
        sa.UniqueConstraint("stratum", "year", name=op.f("uq_denominators_stratum_year")),
    )


def downgrade() -> None:
    op.drop_table("denominators")
