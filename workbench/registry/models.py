"""The registry's tables, as SQLAlchemy 2.0 typed declarative models.

Every schema change is an Alembic revision in ``migrations/versions``; a test compares the
migrated schema with these models. Mutable rows carry ``version``, SQLAlchemy's version
counter: an UPDATE whose row was changed since it was read matches no row and fails instead of
overwriting someone else's save (see :mod:`workbench.registry.db`).

Dates of a person are never stored: clinical events are days relative to the case's index
date (``*_day`` columns). Timestamps of the registry's own actions (``*_at``) are UTC.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from adjudication.vocabulary import (
    Certainty,
    ImagingJudgement,
    Pathway,
    ReadStatus,
    Role,
    TriState,
)
from workbench.clinical import (
    DeathCause,
    DetectionMode,
    DosingSchedule,
    DrugClass,
    Finding,
    Scale,
    ScoreTime,
    SpecimenKind,
    TreatmentKind,
    YesNoUnknown,
)
from workbench.domain import (
    CaseStatus,
    Condition,
    LabQualitative,
    LabTest,
    Outcome,
    SequenceClass,
    Sex,
    SourceKind,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _enum(kind: type[StrEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint, storing the enum's value."""
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class Versioned:
    """Mixin for rows that users edit: an optimistic-concurrency version counter.

    SQLAlchemy adds ``WHERE version = <version read>`` to every UPDATE and DELETE of such a
    row and raises ``StaleDataError`` when no row matches, i.e. when someone saved in between.
    """

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


class Site(Versioned, Base):
    """A contributing site (hospital or centre), known by a short code."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))


class User(Versioned, Base):
    """A registry user. The password is stored only as a salted slow hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255), deferred=True)
    """Loaded only when asked for: on PostgreSQL the application role may not read it."""
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Set by an administrator's reset: a new password must be chosen at the next sign-in."""
    db_role: Mapped[str | None] = mapped_column(String(63), unique=True, index=True)
    """On PostgreSQL, the login role that authenticates this person."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    """The site the user works at, if any: balanced assignment leaves readers out of their
    own site's cases. Not covered by the row hash (see migration 0008)."""

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    def has_role(self, role: Role) -> bool:
        """Whether the user holds ``role``."""
        return any(r.role == role for r in self.roles)


class UserRole(Base):
    """One role held by one user."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), primary_key=True)

    user: Mapped[User] = relationship(back_populates="roles")


class Case(Versioned, Base):
    """A registry case: one person, pseudonymous, with days relative to an index date."""

    __tablename__ = "cases"
    __table_args__ = (  # the case list sorts by status and condition (migration 0009)
        Index("ix_cases_status_registry_id", "status", "registry_id"),
        Index("ix_cases_condition_registry_id", "condition", "registry_id"),
        Index("ix_cases_site_id_registry_id", "site_id", "registry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_id: Mapped[str] = mapped_column(String(32), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    sex: Mapped[Sex] = mapped_column(_enum(Sex, "sex"))
    age_band: Mapped[str] = mapped_column(String(16))
    condition: Mapped[Condition] = mapped_column(_enum(Condition, "condition"), index=True)
    condition_detail: Mapped[str | None] = mapped_column(Text)
    index_event: Mapped[str] = mapped_column(String(200), default="first MRI suggestive of PML")
    """What day 0 is for this case (its index date is never stored)."""
    clinical_summary: Mapped[str | None] = mapped_column(Text)
    clinical_consistent: Mapped[TriState] = mapped_column(
        _enum(TriState, "tristate"), default=TriState.NOT_ASSESSED
    )
    """Clinical features consistent with PML (the criteria engine's clinical input)."""
    outcome: Mapped[Outcome] = mapped_column(_enum(Outcome, "outcome"), default=Outcome.UNKNOWN)
    outcome_day: Mapped[int | None]
    status: Mapped[CaseStatus] = mapped_column(
        _enum(CaseStatus, "case_status"), default=CaseStatus.INCOMPLETE, index=True
    )
    readers_required: Mapped[int] = mapped_column(default=2)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    site: Mapped[Site] = relationship(lazy="joined")
    exposures: Mapped[list[Exposure]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Exposure.start_day"
    )
    clinical_features: Mapped[list[ClinicalFeature]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="ClinicalFeature.id"
    )
    studies: Mapped[list[ImagingStudy]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="ImagingStudy.day"
    )
    lab_results: Mapped[list[LabResult]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="LabResult.day"
    )
    histopathology: Mapped[list[Histopathology]] = relationship(
        back_populates="case",
        cascade="all, delete-orphan",
        order_by="(Histopathology.position, Histopathology.id)",
    )
    clinical_record: Mapped[ClinicalRecordRow | None] = relationship(
        cascade="all, delete-orphan", single_parent=True
    )
    """The research clinical record's single values (:mod:`workbench.clinical_store`)."""
    other_conditions: Mapped[list[CaseCondition]] = relationship(
        cascade="all, delete-orphan", order_by="CaseCondition.position"
    )
    treatments: Mapped[list[TreatmentRow]] = relationship(
        cascade="all, delete-orphan", order_by="TreatmentRow.position"
    )
    outcome_scores: Mapped[list[OutcomeScore]] = relationship(
        cascade="all, delete-orphan", order_by="OutcomeScore.position"
    )


class Exposure(Versioned, Base):
    """A drug exposure (natalizumab, rituximab, ...) with days relative to the index date."""

    __tablename__ = "exposures"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    drug: Mapped[str] = mapped_column(String(100))
    start_day: Mapped[int | None]
    stop_day: Mapped[int | None]
    infusion_count: Mapped[int | None]
    drug_class: Mapped[DrugClass] = mapped_column(
        _enum(DrugClass, "drug_class"), default=DrugClass.UNKNOWN, server_default="unknown"
    )
    dosing_schedule: Mapped[DosingSchedule] = mapped_column(
        _enum(DosingSchedule, "dosing_schedule"),
        default=DosingSchedule.UNKNOWN,
        server_default="unknown",
    )
    last_dose_day: Mapped[int | None]
    """The last dose before PML."""
    prior: Mapped[bool] = mapped_column(default=False, server_default=false())
    """An earlier immunosuppressant, before the drug the case is about."""

    case: Mapped[Case] = relationship(back_populates="exposures")


class ClinicalFeature(Versioned, Base):
    """A clinical feature (hemiparesis, aphasia, ...) and whether it is present."""

    __tablename__ = "clinical_features"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    feature: Mapped[str] = mapped_column(String(100))
    status: Mapped[TriState] = mapped_column(_enum(TriState, "tristate"))
    onset_day: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="clinical_features")


class Histopathology(Versioned, Base):
    """Brain biopsy or autopsy findings (the AAN 2013 histopathologic pathway).

    Each component of the triad is stored on its own; ``triad`` and ``tissue_jcv`` are the
    criteria engine's inputs derived from them (:class:`workbench.clinical.Histology`),
    written with them so a reader of the table needs no domain code.
    """

    __tablename__ = "histopathology"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    day: Mapped[int | None]
    triad: Mapped[str] = mapped_column(String(16))
    """present / incomplete / absent / not_done."""
    tissue_jcv: Mapped[str] = mapped_column(String(16))
    """detected / not_detected / not_done."""
    method: Mapped[str | None] = mapped_column(String(100))
    """Free text of revisions before 0007; ``techniques`` says it since."""
    kind: Mapped[SpecimenKind] = mapped_column(
        _enum(SpecimenKind, "specimen_kind"), default=SpecimenKind.BIOPSY, server_default="biopsy"
    )
    demyelination: Mapped[Finding] = mapped_column(
        _enum(Finding, "demyelination"), default=Finding.NOT_ASSESSED, server_default="not_assessed"
    )
    bizarre_astrocytes: Mapped[Finding] = mapped_column(
        _enum(Finding, "bizarre_astrocytes"),
        default=Finding.NOT_ASSESSED,
        server_default="not_assessed",
    )
    enlarged_oligodendroglial_nuclei: Mapped[Finding] = mapped_column(
        _enum(Finding, "enlarged_oligodendroglial_nuclei"),
        default=Finding.NOT_ASSESSED,
        server_default="not_assessed",
    )
    techniques: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    """How JC virus was looked for in the tissue (:class:`workbench.clinical.TissueTechnique`
    values, in the order entered)."""
    position: Mapped[int] = mapped_column(default=0, server_default="0")
    """Order within the case's clinical record."""

    case: Mapped[Case] = relationship(back_populates="histopathology")


class ClinicalRecordRow(Base):
    """The single values of a case's research clinical record, one row per case.

    Days are relative to the case's index date; the diagnosis is kept as a calendar year only.
    Not versioned on its own: the record is saved as a whole, against the case's version
    (:func:`workbench.clinical_store.save_record` moves it), and audited as
    ``case.clinical_record``. Not a guarded table: like a case's clinical notes it is not
    what the registry attests.
    """

    __tablename__ = "clinical_records"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    diagnosis_year: Mapped[int | None]
    onset_day: Mapped[int | None]
    diagnosis_day: Mapped[int | None]
    detection_mode: Mapped[DetectionMode] = mapped_column(
        _enum(DetectionMode, "detection_mode"), default=DetectionMode.UNKNOWN
    )
    anti_jcv_index: Mapped[float | None] = mapped_column(Float)
    anti_jcv_index_day: Mapped[int | None]
    lymphocytes: Mapped[float | None] = mapped_column(Float)
    """Absolute lymphocyte count, 10^9/L."""
    lymphocytes_day: Mapped[int | None]
    cd4_nadir: Mapped[int | None]
    """Cells/µL."""
    cd4_nadir_day: Mapped[int | None]
    iris: Mapped[YesNoUnknown] = mapped_column(
        _enum(YesNoUnknown, "iris"), default=YesNoUnknown.UNKNOWN
    )
    iris_onset_day: Mapped[int | None]
    iris_treatment: Mapped[str | None] = mapped_column(Text)
    death_cause: Mapped[DeathCause | None] = mapped_column(_enum(DeathCause, "death_cause"))
    death_cause_detail: Mapped[str | None] = mapped_column(Text)


class CaseCondition(Base):
    """A predisposing condition of a case besides its main ``condition``."""

    __tablename__ = "case_conditions"
    __table_args__ = (UniqueConstraint("case_id", "condition"),)

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    condition: Mapped[Condition] = mapped_column(_enum(Condition, "condition"))


class TreatmentRow(Base):
    """A treatment of PML (or a step to restore immunity) with its days."""

    __tablename__ = "treatments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[TreatmentKind] = mapped_column(_enum(TreatmentKind, "treatment_kind"))
    detail: Mapped[str | None] = mapped_column(String(200))
    start_day: Mapped[int | None]
    stop_day: Mapped[int | None]


class OutcomeScore(Base):
    """One outcome score (KPS, mRS, EDSS) of a case at one of the registry's time points."""

    __tablename__ = "outcome_scores"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    scale: Mapped[Scale] = mapped_column(_enum(Scale, "scale"), primary_key=True)
    time: Mapped[ScoreTime] = mapped_column(_enum(ScoreTime, "score_time"), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    value: Mapped[float] = mapped_column(Float)


class ImagingStudy(Versioned, Base):
    """One MRI timepoint of a case."""

    __tablename__ = "imaging_studies"
    __table_args__ = (UniqueConstraint("case_id", "study_instance_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    day: Mapped[int]
    study_instance_uid: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(200))

    case: Mapped[Case] = relationship(back_populates="studies")
    series: Mapped[list[Series]] = relationship(
        back_populates="study", cascade="all, delete-orphan", order_by="Series.id"
    )


class Series(Versioned, Base):
    """One image volume of a study: its source, identity, geometry and sequence class."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(
        ForeignKey("imaging_studies.id", ondelete="CASCADE"), index=True
    )
    source_kind: Mapped[SourceKind] = mapped_column(_enum(SourceKind, "source_kind"))
    source_uri: Mapped[str] = mapped_column(Text)
    series_instance_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    volume_index: Mapped[int] = mapped_column(default=0, server_default="0")
    """Which volume of its source: one DICOM series can hold several (e.g. magnitude and
    field map), each stored as its own row."""
    frame_of_reference_uid: Mapped[str | None] = mapped_column(String(64))
    content_sha256: Mapped[str] = mapped_column(String(64))
    """Checksum over the source files (DICOM) or the file (NIfTI)."""
    sequence_class: Mapped[SequenceClass] = mapped_column(_enum(SequenceClass, "sequence_class"))
    sequence_evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The header values the sequence class was inferred from, so a user can check it."""
    description: Mapped[str | None] = mapped_column(String(200))
    shape: Mapped[list[int]] = mapped_column(JSON)
    spacing: Mapped[list[float]] = mapped_column(JSON)
    affine: Mapped[list[float]] = mapped_column(JSON)
    """Row-major 4x4 affine, voxel (i, j, k) to DICOM LPS millimetres."""
    dtype: Mapped[str] = mapped_column(String(16))
    n_files: Mapped[int] = mapped_column(default=0)
    cache_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    study: Mapped[ImagingStudy] = relationship(back_populates="series")


class LabResult(Versioned, Base):
    """One laboratory result with its unit, assay and limits kept beside the value.

    A "not detected" from an insensitive assay is not the same fact as one from an
    ultrasensitive assay, so the limit of detection travels with every result.
    """

    __tablename__ = "lab_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    test: Mapped[LabTest] = mapped_column(_enum(LabTest, "lab_test"))
    test_name: Mapped[str | None] = mapped_column(String(100))
    """Free name for ``LabTest.OTHER``."""
    day: Mapped[int]
    qualitative: Mapped[LabQualitative] = mapped_column(_enum(LabQualitative, "lab_qualitative"))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(32))
    assay: Mapped[str | None] = mapped_column(String(200))
    lod: Mapped[float | None] = mapped_column(Float)
    """Limit of detection, in ``unit``."""
    loq: Mapped[float | None] = mapped_column(Float)
    """Limit of quantification, in ``unit``."""
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="lab_results")


class CaseListRow(Base):
    """The case list's counts of one case, kept current so the list sorts by them at scale.

    Bookkeeping, not a record: :mod:`workbench.registry.case_list_rows` rewrites a case's row
    in the same transaction whenever a study, series or lab result of it is added or removed
    through the ORM, so it is not guarded (no row hash, no audit event, no version) and
    counters stay off the guarded ``cases`` table. Every case has its row (written with the
    case, backfilled by migration 0009, rebuilt after a bulk load); the list joins on it.
    """

    __tablename__ = "case_list_rows"
    __table_args__ = (
        Index("ix_case_list_rows_timepoints", "timepoints", "registry_id"),
        Index("ix_case_list_rows_series", "series", "registry_id"),
        Index("ix_case_list_rows_labs", "labs", "registry_id"),
    )

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    registry_id: Mapped[str] = mapped_column(String(32))
    """The case's registry id (never changes), so a sort by a count breaks ties on one index."""
    timepoints: Mapped[int] = mapped_column(default=0, server_default="0")
    """Imaging studies of the case."""
    series: Mapped[int] = mapped_column(default=0, server_default="0")
    """Series of all its studies."""
    labs: Mapped[int] = mapped_column(default=0, server_default="0")
    """Lab results of the case."""
    criteria_flag: Mapped[str | None] = mapped_column(String(200))
    """Set by ``reclassify`` when the criteria no longer give the final decision (what they
    give now); null when they agree or the case has no final decision."""


class CaseAssignment(Base):
    """A user assigned to a case as reader or panel member.

    Named for what it holds (readers *and* panel members); its table keeps the name it was
    created with, ``reader_assignments``, so existing registries need no migration.
    """

    __tablename__ = "reader_assignments"
    __table_args__ = (UniqueConstraint("case_id", "user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class Read(Versioned, Base):
    """One reader's independent review of one case; immutable once submitted."""

    __tablename__ = "reads"
    __table_args__ = (  # the coordinator's dashboard counts and times reads (migration 0009)
        Index("ix_reads_status_reader_id_case_id", "status", "reader_id", "case_id"),
        Index("ix_reads_submitted_at", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    reader_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    revision: Mapped[int] = mapped_column(default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("reads.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ReadStatus] = mapped_column(
        _enum(ReadStatus, "read_status"), default=ReadStatus.DRAFT
    )
    imaging_judgement: Mapped[ImagingJudgement | None] = mapped_column(
        _enum(ImagingJudgement, "imaging_judgement")
    )
    confidence: Mapped[int | None]
    features: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[dt.datetime | None]

    lesions: Mapped[list[Lesion]] = relationship(
        back_populates="read", cascade="all, delete-orphan", order_by="Lesion.label"
    )


class Lesion(Versioned, Base):
    """A lesion mask on the grid of a named series, with its measurements and PML features."""

    __tablename__ = "lesions"
    __table_args__ = (UniqueConstraint("read_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    read_id: Mapped[int] = mapped_column(ForeignKey("reads.id", ondelete="CASCADE"), index=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"), index=True)
    label: Mapped[int]
    mask: Mapped[bytes] = mapped_column(LargeBinary)
    """Compressed mask on the series grid."""
    mask_sha256: Mapped[str] = mapped_column(String(64))
    volume_ml: Mapped[float] = mapped_column(Float)
    centroid_lps: Mapped[list[float]] = mapped_column(JSON)
    hemisphere: Mapped[str | None] = mapped_column(String(16))
    location: Mapped[str | None] = mapped_column(String(64))
    features: Mapped[dict[str, Any]] = mapped_column(default=dict)

    read: Mapped[Read] = relationship(back_populates="lesions")


class Decision(Versioned, Base):
    """The panel's decision for a case, with the engine result it was made against.

    Called a decision everywhere (services, command line, window); its table keeps the name
    it was created with, ``adjudications``, and audit events name it ``adjudication``, as the
    hash-chained trail recorded them.
    """

    __tablename__ = "adjudications"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    certainty: Mapped[Certainty] = mapped_column(_enum(Certainty, "certainty"))
    pathway: Mapped[Pathway | None] = mapped_column(_enum(Pathway, "pathway"))
    engine_version: Mapped[str] = mapped_column(String(32))
    engine_result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rationale: Mapped[str | None] = mapped_column(Text)
    alternative_diagnosis: Mapped[str | None] = mapped_column(Text)
    panel_imaging: Mapped[ImagingJudgement | None] = mapped_column(
        _enum(ImagingJudgement, "panel_imaging")
    )
    """The panel's own imaging judgement, used by ``reclassify`` instead of the readers'."""
    is_final: Mapped[bool] = mapped_column(default=False)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("adjudications.id"))
    change_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    signatures: Mapped[list[Signature]] = relationship(
        back_populates="adjudication", cascade="all, delete-orphan", order_by="Signature.signed_at"
    )


class Signature(Base):
    """An electronic signature: printed name, UTC time and meaning (21 CFR 11.50)."""

    __tablename__ = "signatures"
    __table_args__ = (UniqueConstraint("adjudication_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    adjudication_id: Mapped[int] = mapped_column(
        ForeignKey("adjudications.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    printed_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    adjudication: Mapped[Decision] = relationship(back_populates="signatures")


class AuditEvent(Base):
    """One append-only audit event; ``hash`` chains it to the event before."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    rows: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """Hashes of the guarded rows this event created, changed or deleted (``None`` before
    revision 0005, and for events that touch none)."""
    txid: Mapped[int | None] = mapped_column(BigInteger)
    """On PostgreSQL, the transaction that appended the event (set by the database)."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class DiscordanceAssessment(Base):
    """One discordance assessment of a case: the reads compared, the rules, what fired.

    Written by :func:`workbench.reading_flow.after_submit` each time the case is assessed
    (once every assigned read is in, and again after a corrected read); the newest row of a
    case is the assessment in force. Rows are never edited, so they carry no version counter.
    The same facts are also recorded in the audit trail (``case.discordance``), which is the
    history; this table is what the workbench reads, so no answer depends on parsing events.

    The columns hold exactly what :meth:`adjudication.discordance.Discordance.as_dict` gives
    (see :meth:`as_dict`), so nothing shown to users changed when assessments moved here.
    """

    __tablename__ = "discordance_assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    assessed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    assessed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """The user whose submission triggered it; ``None`` for the workbench itself."""
    read_ids: Mapped[list[int]] = mapped_column(JSON)
    """The reads compared: the latest submitted read of each assigned reader."""
    discordant: Mapped[bool]
    spatial: Mapped[bool]
    """Whether the mask rules (detection, Dice) were applied: all lesions on one grid."""
    fired: Mapped[list[str]] = mapped_column(JSON)
    """The names of the rules that fired, each once, in rule order."""
    rules: Mapped[dict[str, Any]]
    """The thresholds the reads were assessed with."""
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Every rule that fired for every pair of readers, with its numbers."""

    def as_dict(self) -> dict[str, Any]:
        """The assessment as the ``case.discordance`` audit event records it."""
        return {
            "reads": list(self.read_ids),
            "discordant": self.discordant,
            "fired": list(self.fired),
            "spatial": self.spatial,
            "rules": dict(self.rules),
            "findings": [dict(finding) for finding in self.findings],
        }


class AuthFailure(Base):
    """One refused password: at sign-in or when signing a panel decision.

    ``username`` is the account the attempt named, known to the registry or not (so guessing
    names costs the same as guessing passwords), and ``source`` where it came from (the
    database login role on PostgreSQL, else the OS login and host of the workstation).
    Further attempts from the same source at the same account are slowed down, never refused
    for everyone (the rule lives in :mod:`workbench.users`). Rows are never edited, so they
    carry no version counter; a successful sign-in does not delete them, the backoff counts
    only failures after the last success.
    """

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_username_source", "username", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(16))
    """``sign_in`` or ``signing``."""
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SignInSession(Base):
    """One sign-in: who, from where, until when. The token itself is never stored.

    The person holds a random token (in a file of the data directory readable only by them,
    or in the window's memory); the registry keeps its SHA-256, so reading this table does not
    let anyone act as them. A session ends at ``expires_at``, after the idle timeout since
    ``last_seen_at``, or when it is signed out (``ended_at``, ``ended_reason``).
    """

    __tablename__ = "sign_in_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    client: Mapped[str] = mapped_column(String(16))
    """``cli`` or ``window``."""
    source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(String(32))

    user: Mapped[User] = relationship(lazy="joined")


class DenominatorRow(Base):
    """A stratum's source population: patients and/or patient-years, by year or for all years.

    Imported by a coordinator (:mod:`workbench.denominators`); the analytics divide the
    registry's PML cases of the same stratum by them. ``stratum`` is the canonical text of the
    stratum grammar (``all``, ``exposure:natalizumab``, ...); ``year`` is a calendar year of
    diagnosis, or ``None`` for all years. One row per stratum and year (checked by the import
    for the null year too). Not guarded: a re-import replaces a row, and its audit event
    (``registry.denominators``) keeps the values replaced.
    """

    __tablename__ = "denominators"
    __table_args__ = (UniqueConstraint("stratum", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stratum: Mapped[str] = mapped_column(String(200))
    year: Mapped[int | None]
    patients: Mapped[int | None]
    person_years: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text)
    imported_by: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
