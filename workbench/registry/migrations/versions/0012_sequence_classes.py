"""sequence classes for phase images, field maps and scouts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 21:00:00.000000

``series.sequence_class`` is a non-native enum: a VARCHAR with the CHECK constraint
``ck_series_sequence_class`` listing the allowed values. Phase images, field maps, the
magnitude image of a field map and scouts (localizers) now have classes of their own
("phase", "field map", "field map magnitude", "scout") instead of "T1" or "other", so the
constraint's list grows.

PostgreSQL drops and re-creates the constraint. SQLite cannot alter a constraint in place, and
alembic's batch copy of ``series`` would drop and re-create the table, which the lesions that
reference it (with foreign keys on) do not allow. The new list only allows more, so every
stored row satisfies it, and SQLite's documented way for such a change is used instead:
the table's stored ``CREATE TABLE`` text is edited (``writable_schema``) and the schema
version bumped, and ``PRAGMA quick_check`` confirms the result.

Downgrade first turns rows of the new classes into "other" (the class they would have had
at best before), then restores the old list.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("T1", "T1+Gd", "T2", "FLAIR", "DWI", "ADC", "SWI", "other")
NEW = ("T1", "T1+Gd", "T2", "FLAIR", "DWI", "ADC", "SWI", "phase", "field map",
       "field map magnitude", "scout", "other")  # fmt: skip
CONSTRAINT = "ck_series_sequence_class"


def _check(values: Sequence[str]) -> str:
    return "sequence_class IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _replace_check(old: Sequence[str], new: Sequence[str]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f(CONSTRAINT), "series", type_="check")
        op.create_check_constraint(op.f(CONSTRAINT), "series", _check(new))
        return
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'series'")
    ).scalar_one()
    before, after = f"CHECK ({_check(old)})", f"CHECK ({_check(new)})"
    if sql.count(before) != 1:
        raise RuntimeError(
            f"series: expected the constraint {CONSTRAINT} as {before!r} in the table's "
            "schema; the database was changed outside the migrations"
        )
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    try:
        bind.execute(
            sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'series'"),
            {"sql": sql.replace(before, after)},
        )
        bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    finally:
        bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    problems = bind.execute(sa.text("PRAGMA quick_check")).scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"series: the database failed its check after the change: {problems}")


def upgrade() -> None:
    _replace_check(OLD, NEW)


def downgrade() -> None:
    added = [v for v in NEW if v not in OLD]
    op.execute(
        sa.text("UPDATE series SET sequence_class = 'other' WHERE sequence_class IN :added")
        .bindparams(sa.bindparam("added", expanding=True))
        .bindparams(added=added)
    )
    _replace_check(NEW, OLD)
