"""the research clinical record

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 16:30:00.000000

The registry's research questions need more than a case's main condition and its drugs:
``clinical_records`` (one row per case: diagnosis year, onset and diagnosis days, detection
mode, anti-JCV index, lymphocytes, CD4 nadir, PML-IRIS, cause of death), ``case_conditions``
(further predisposing conditions), ``treatments`` and ``outcome_scores`` (KPS, mRS, EDSS at
fixed time points). Exposures gain their class, dosing schedule, last dose and whether they
were a prior immunosuppressant; histopathology gains the kind of specimen, each component of
the triad and the techniques JC virus was looked for with (see :mod:`workbench.clinical`).

Existing rows stay valid: the new columns have server defaults (class and schedule
``unknown``, not prior; specimen ``biopsy``). Histopathology rows written before are
backfilled from their ``triad``: ``present`` gives every component present, ``absent`` every
component absent, anything else (``incomplete``, ``not_done``) every component not assessed,
because which component was seen was never recorded. Their techniques are read from the free
text ``method`` (IHC, ISH / in situ, PCR, EM / electron); a row that says JC virus was
looked for but names no known technique gets IHC, the usual one, and keeps ``method`` as it
was, so the original words stay beside the value. ``triad`` and ``tissue_jcv`` are kept as
they were: the criteria engine reads them.

``cases.condition`` accepts three more conditions (solid neoplasm, primary
immunodeficiency, non-MS inflammatory disease). Its CHECK constraint ``ck_cases_condition``
is replaced in place. On SQLite, a table cannot alter a constraint, and rebuilding ``cases``
(what ``batch_alter_table`` does) would drop a table that every other table refers to with
``ON DELETE CASCADE`` while foreign keys are enforced, deleting the registry's reads and
decisions with it. So the table's stored definition is edited instead, the documented
procedure for relaxing a constraint without touching the data (sqlite.org/lang_altertable,
"making other kinds of table schema changes"): only the list of allowed values grows, so
every row already stored still satisfies it. The downgrade turns cases of the new conditions
into ``other`` (noting the condition in ``condition_detail``) before the list shrinks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_CONDITIONS = (
    "hiv",
    "ms_natalizumab",
    "other_immunomodulator",
    "transplant",
    "haematological_malignancy",
    "other",
)
_NEW_CONDITIONS = (
    "hiv",
    "ms_natalizumab",
    "other_immunomodulator",
    "transplant",
    "haematological_malignancy",
    "solid_neoplasm",
    "primary_immunodeficiency",
    "non_ms_inflammatory",
    "other",
)
_ADDED_CONDITIONS = tuple(c for c in _NEW_CONDITIONS if c not in _OLD_CONDITIONS)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


_FINDING = ("present", "absent", "not_assessed")
_DRUG_CLASSES = (
    "anti_integrin",
    "anti_cd20",
    "anti_cd52",
    "s1p_modulator",
    "fumarate",
    "antimetabolite",
    "purine_analogue",
    "alkylating_agent",
    "calcineurin_inhibitor",
    "mtor_inhibitor",
    "corticosteroid",
    "anti_tnf",
    "jak_inhibitor",
    "btk_inhibitor",
    "car_t",
    "chemotherapy_other",
    "other",
    "unknown",
)
_TREATMENTS = (
    "plasma_exchange",
    "immunoadsorption",
    "corticosteroids",
    "antiretroviral_start",
    "checkpoint_inhibitor",
    "virus_specific_t_cells",
    "interleukin_7",
    "mefloquine",
    "mirtazapine",
    "cidofovir",
    "immunosuppression_reduced",
    "other",
)


def _condition_check(values: Sequence[str]) -> str:
    return "condition IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _set_condition_check(old: Sequence[str], new: Sequence[str]) -> None:
    """Replace the allowed values of ``ck_cases_condition`` (``old`` -> ``new``)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_cases_condition"), "cases", type_="check")
        op.create_check_constraint(op.f("ck_cases_condition"), "cases", _condition_check(new))
        return
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'cases'")
    ).scalar_one()
    pattern = re.compile(
        r"(CONSTRAINT\s+\"?ck_cases_condition\"?\s+CHECK\s*\(\s*)condition\s+IN\s*\([^)]*\)"
    )
    found = pattern.findall(sql)
    if len(found) != 1:
        raise RuntimeError(
            "cases: cannot find its CHECK constraint ck_cases_condition to change; the "
            "registry was not changed"
        )
    changed = pattern.sub(lambda m: m.group(1) + _condition_check(new), sql)
    schema_version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    try:
        bind.execute(
            sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'cases'"),
            {"sql": changed},
        )
        bind.execute(sa.text(f"PRAGMA schema_version = {int(schema_version) + 1}"))
    finally:
        bind.execute(sa.text("PRAGMA writable_schema = OFF"))
    problem = bind.execute(sa.text("PRAGMA quick_check")).scalars().first()
    if problem != "ok":
        raise RuntimeError(f"cases: the database check failed after the change: {problem}")


def _recreate() -> Literal["auto", "always"]:
    """Rebuild a child table on SQLite, so the CHECK constraints of its new enum columns are
    part of its definition (``ADD COLUMN`` would leave them out); alter it in place elsewhere.
    Only tables no other table refers to are rebuilt."""
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    _set_condition_check(_OLD_CONDITIONS, _NEW_CONDITIONS)

    with op.batch_alter_table("exposures", schema=None, recreate=_recreate()) as batch_op:
        batch_op.add_column(
            sa.Column(
                "drug_class",
                _enum("drug_class", *_DRUG_CLASSES),
                server_default="unknown",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "dosing_schedule",
                _enum("dosing_schedule", "standard", "extended_interval", "other", "unknown"),
                server_default="unknown",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("last_dose_day", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("prior", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("histopathology", schema=None, recreate=_recreate()) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                _enum("specimen_kind", "biopsy", "autopsy"),
                server_default="biopsy",
                nullable=False,
            )
        )
        for name in ("demyelination", "bizarre_astrocytes", "enlarged_oligodendroglial_nuclei"):
            batch_op.add_column(
                sa.Column(
                    name, _enum(name, *_FINDING), server_default="not_assessed", nullable=False
                )
            )
        batch_op.add_column(sa.Column("techniques", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("position", sa.Integer(), server_default="0", nullable=False))
    _backfill_histopathology()

    op.create_table(
        "clinical_records",
        sa.Column("case_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("diagnosis_year", sa.Integer(), nullable=True),
        sa.Column("onset_day", sa.Integer(), nullable=True),
        sa.Column("diagnosis_day", sa.Integer(), nullable=True),
        sa.Column(
            "detection_mode",
            _enum("detection_mode", "symptomatic", "screening_mri", "unknown"),
            nullable=False,
        ),
        sa.Column("anti_jcv_index", sa.Float(), nullable=True),
        sa.Column("anti_jcv_index_day", sa.Integer(), nullable=True),
        sa.Column("lymphocytes", sa.Float(), nullable=True),
        sa.Column("lymphocytes_day", sa.Integer(), nullable=True),
        sa.Column("cd4_nadir", sa.Integer(), nullable=True),
        sa.Column("cd4_nadir_day", sa.Integer(), nullable=True),
        sa.Column("iris", _enum("iris", "yes", "no", "unknown"), nullable=False),
        sa.Column("iris_onset_day", sa.Integer(), nullable=True),
        sa.Column("iris_treatment", sa.Text(), nullable=True),
        sa.Column(
            "death_cause",
            _enum("death_cause", "pml", "pml_iris", "underlying_condition", "other", "unknown"),
            nullable=True,
        ),
        sa.Column("death_cause_detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_clinical_records_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_clinical_records")),
    )
    op.create_table(
        "case_conditions",
        sa.Column("case_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("condition", _enum("condition", *_NEW_CONDITIONS), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_conditions_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "position", name=op.f("pk_case_conditions")),
        sa.UniqueConstraint(
            "case_id", "condition", name=op.f("uq_case_conditions_case_id_condition")
        ),
    )
    op.create_table(
        "treatments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("treatment_kind", *_TREATMENTS), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("start_day", sa.Integer(), nullable=True),
        sa.Column("stop_day", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_treatments_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatments")),
    )
    op.create_index(op.f("ix_treatments_case_id"), "treatments", ["case_id"], unique=False)
    op.create_table(
        "outcome_scores",
        sa.Column("case_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("scale", _enum("scale", "kps", "mrs", "edss"), nullable=False),
        sa.Column(
            "time",
            _enum("score_time", "before_pml", "diagnosis", "month_6", "month_12", "month_24"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_outcome_scores_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "scale", "time", name=op.f("pk_outcome_scores")),
    )


_TECHNIQUE_WORDS = (
    ("ihc", re.compile(r"\bihc\b|immuno", re.IGNORECASE)),
    ("ish", re.compile(r"\bish\b|in[\s-]*situ", re.IGNORECASE)),
    ("pcr", re.compile(r"\bpcr\b", re.IGNORECASE)),
    ("em", re.compile(r"\bem\b|electron", re.IGNORECASE)),
)


def techniques_from_method(method: str | None, tissue_jcv: str) -> list[str]:
    """The techniques a pre-0007 row's free-text ``method`` names (see the module's note)."""
    if tissue_jcv not in {"detected", "not_detected"}:
        return []
    found = [name for name, words in _TECHNIQUE_WORDS if words.search(method or "")]
    return found or ["ihc"]


def _backfill_histopathology() -> None:
    table = sa.table(
        "histopathology",
        sa.column("id", sa.Integer()),
        sa.column("triad", sa.String()),
        sa.column("tissue_jcv", sa.String()),
        sa.column("method", sa.String()),
        sa.column("demyelination", sa.String()),
        sa.column("bizarre_astrocytes", sa.String()),
        sa.column("enlarged_oligodendroglial_nuclei", sa.String()),
        sa.column("techniques", sa.JSON()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(table.c.id, table.c.triad, table.c.tissue_jcv, table.c.method))
    for row_id, triad, tissue_jcv, method in list(rows):
        finding = {"present": "present", "absent": "absent"}.get(triad, "not_assessed")
        bind.execute(
            table.update()
            .where(table.c.id == row_id)
            .values(
                demyelination=finding,
                bizarre_astrocytes=finding,
                enlarged_oligodendroglial_nuclei=finding,
                techniques=techniques_from_method(method, tissue_jcv),
            )
        )


def downgrade() -> None:
    op.drop_table("outcome_scores")
    op.drop_index(op.f("ix_treatments_case_id"), table_name="treatments")
    op.drop_table("treatments")
    op.drop_table("case_conditions")
    op.drop_table("clinical_records")
    # A rebuilt table keeps the CHECK constraints it reflects: drop the new columns' first.
    with op.batch_alter_table("histopathology", schema=None, recreate=_recreate()) as batch_op:
        for check in (
            "specimen_kind",
            "demyelination",
            "bizarre_astrocytes",
            "enlarged_oligodendroglial_nuclei",
        ):
            batch_op.drop_constraint(op.f(f"ck_histopathology_{check}"), type_="check")
        for name in (
            "position",
            "techniques",
            "enlarged_oligodendroglial_nuclei",
            "bizarre_astrocytes",
            "demyelination",
            "kind",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("exposures", schema=None, recreate=_recreate()) as batch_op:
        for check in ("drug_class", "dosing_schedule"):
            batch_op.drop_constraint(op.f(f"ck_exposures_{check}"), type_="check")
        for name in ("prior", "last_dose_day", "dosing_schedule", "drug_class"):
            batch_op.drop_column(name)
    cases = sa.table(
        "cases",
        sa.column("condition", sa.String()),
        sa.column("condition_detail", sa.Text()),
    )
    for added in _ADDED_CONDITIONS:
        op.get_bind().execute(
            cases.update()
            .where(cases.c.condition == added)
            .values(
                condition="other",
                condition_detail=sa.func.coalesce(cases.c.condition_detail + " ", "")
                + f"({added.replace('_', ' ')})",
            )
        )
    _set_condition_check(_NEW_CONDITIONS, _OLD_CONDITIONS)
