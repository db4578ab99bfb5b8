"""Imaging studies and series in the registry: the records behind a case's timepoints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.domain import SequenceClass, SourceKind
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.policy import Action, require
from workbench.registry import audit
from workbench.registry.models import Case, ImagingStudy, Series
from workbench.users import Actor


@dataclass(frozen=True, slots=True)
class SeriesRecord:
    """What the registry stores about one series: source, identity, geometry, class.

    ``affine`` maps voxel indices (i, j, k) to DICOM LPS millimetres; ``shape`` is in the
    same (i, j, k) order.
    """

    source_kind: SourceKind
    source_uri: str
    content_sha256: str
    sequence_class: SequenceClass
    shape: tuple[int, ...]
    affine: np.ndarray
    dtype: str
    series_instance_uid: str | None = None
    frame_of_reference_uid: str | None = None
    description: str | None = None
    n_files: int = 0
    cache_path: str | None = None
    volume_index: int = 0
    sequence_evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        affine = np.asarray(self.affine, dtype=float)
        if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
            raise ValidationError("affine: must be a finite 4x4 matrix")
        if not np.allclose(affine[3], [0, 0, 0, 1]):
            raise ValidationError("affine: last row must be 0 0 0 1")
        if abs(np.linalg.det(affine[:3, :3])) < 1e-9:
            raise ValidationError("affine: singular (zero voxel size or collinear axes)")
        object.__setattr__(self, "affine", affine)
        if len(self.shape) < 3 or any(n < 1 for n in self.shape):
            raise ValidationError(f"shape: {self.shape} is not a 3D or 4D grid")
        if len(self.content_sha256) != 64:
            raise ValidationError("content_sha256: must be a SHA-256 hex digest")

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along i, j, k."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(norms[0]), float(norms[1]), float(norms[2]))


def add_study(
    session: Session,
    actor: Actor,
    registry_id: str,
    day: int,
    *,
    study_instance_uid: str | None = None,
    description: str | None = None,
) -> ImagingStudy:
    """The case's study of that UID (or of that day when there is no UID), created if new."""
    require(actor, Action.IMPORT_IMAGES)
    case = session.scalars(select(Case).where(Case.registry_id == registry_id)).first()
    if case is None:
        raise NotFoundError(f"no case {registry_id!r} in this registry")
    query = select(ImagingStudy).where(ImagingStudy.case_id == case.id)
    if study_instance_uid:
        query = query.where(ImagingStudy.study_instance_uid == study_instance_uid)
    else:
        query = query.where(ImagingStudy.day == day, ImagingStudy.study_instance_uid.is_(None))
    study = session.scalars(query).first()
    if study is not None:
        if study.day != day:
            raise ValidationError(
                f"study {study_instance_uid} of {registry_id} is on day {study.day}, not {day}"
            )
        return study
    study = ImagingStudy(
        case_id=case.id, day=day, study_instance_uid=study_instance_uid, description=description
    )
    session.add(study)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="study.create",
        entity_type="imaging_study",
        entity_id=study.id,
        after={"case": registry_id, "day": day, "study_instance_uid": study_instance_uid},
    )
    return study


def add_series(session: Session, actor: Actor, study: ImagingStudy, record: SeriesRecord) -> Series:
    """Store one volume of a series on a study, audited. One already stored is refused.

    A volume is its series UID (none for NIfTI), its checksum and its index among the
    volumes of that series with that checksum, as :mod:`workbench.lesions.export` finds it
    again: one DICOM series can make several volumes (orientations of a localizer, magnitude
    and phase), each with volume index 0 and its own checksum. Whether a series may go into
    a case at all (not another case's, not in this case already) is the importer's check.
    """
    require(actor, Action.IMPORT_IMAGES)
    clash = session.scalars(
        select(Series).where(
            Series.study_id == study.id,
            Series.series_instance_uid.is_(None)
            if record.series_instance_uid is None
            else Series.series_instance_uid == record.series_instance_uid,
            Series.content_sha256 == record.content_sha256,
            Series.volume_index == record.volume_index,
        )
    ).first()
    if clash is not None:
        name = record.series_instance_uid or record.source_uri
        raise ValidationError(
            f"series {name} (volume {record.volume_index}) is already in this study "
            f"(series #{clash.id}); nothing was added"
        )
    series = Series(
        study_id=study.id,
        source_kind=record.source_kind,
        source_uri=record.source_uri,
        series_instance_uid=record.series_instance_uid,
        volume_index=record.volume_index,
        frame_of_reference_uid=record.frame_of_reference_uid,
        content_sha256=record.content_sha256,
        sequence_class=record.sequence_class,
        sequence_evidence=dict(record.sequence_evidence),
        description=record.description,
        shape=[int(n) for n in record.shape],
        spacing=list(record.spacing),
        affine=[float(v) for v in record.affine.ravel()],
        dtype=record.dtype,
        n_files=record.n_files,
        cache_path=record.cache_path,
    )
    session.add(series)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="series.create",
        entity_type="series",
        entity_id=series.id,
        after={
            "study": study.id,
            "series_instance_uid": record.series_instance_uid,
            "sequence_class": record.sequence_class.value,
            "shape": list(record.shape),
            "content_sha256": record.content_sha256,
        },
    )
    return series


def correct_sequence_class(
    session: Session,
    actor: Actor,
    series_id: int,
    sequence_class: SequenceClass,
    *,
    reason: str,
    expected_version: int | None = None,
) -> Series:
    """Set a series' sequence class by hand, keeping the header evidence and the reason.

    The inferred class and its evidence stay in ``sequence_evidence`` (under ``inferred``),
    so the correction is visible next to what the headers said.
    """
    require(actor, Action.CORRECT_SEQUENCE_CLASS)
    if not reason.strip():
        raise ValidationError("reason: say why the sequence class is corrected")
    series = session.get(Series, series_id)
    if series is None:
        raise NotFoundError(f"no series #{series_id} in this registry")
    if expected_version is not None and series.version != expected_version:
        raise ConflictError(
            f"series #{series_id} was changed by someone else since you opened it; "
            "nothing was saved"
        )
    before = series.sequence_class
    evidence = dict(series.sequence_evidence or {})
    evidence.setdefault("inferred", before.value)
    evidence["corrected"] = {"to": sequence_class.value, "by": actor.username, "reason": reason}
    series.sequence_class = sequence_class
    series.sequence_evidence = evidence
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="series.correct_class",
        entity_type="series",
        entity_id=series_id,
        before={"sequence_class": before.value},
        after={"sequence_class": sequence_class.value},
        reason=reason,
    )
    return series


def series_affine(series: Series) -> np.ndarray:
    """The stored row-major affine as a 4x4 array."""
    return np.asarray(series.affine, dtype=float).reshape(4, 4)


def describe_geometry(series: Series) -> str:
    """``176×256×256 · 1.00×1.00×1.00 mm`` for a case page."""
    shape = "×".join(str(n) for n in series.shape)
    spacing: Sequence[float] = series.spacing
    return f"{shape} · {'×'.join(f'{s:.2f}' for s in spacing)} mm"
