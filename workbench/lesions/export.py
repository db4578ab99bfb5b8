"""Exporting a case's lesions: one DICOM SEG (or NIfTI label map) per read and series.

Behind ``pml-workbench export-seg --case ID [--read ID] OUTDIR``. For every read of the case
that has lesions (or the one read asked for) and every series it marked, the label map is
rebuilt from the lesion rows (:func:`workbench.reads.load_draft_labels`) and written:

- DICOM-sourced series: a DICOM Segmentation referencing the source images, which are read
  again from the series' source folder; the files must still be the ones imported (their
  content checksum and grid are compared with the registry) or the export is refused;
- NIfTI-sourced series: a NIfTI label map on the series grid (RAS at the edge).

Files are named ``<registry_id>_read<read id>_series<series id>.seg.dcm`` (or ``.nii.gz``).
Exporting is for coordinators and administrators, and is audited.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from adjudication.lesions import LesionFinding, Location
from workbench.domain import SourceKind
from workbench.errors import NotFoundError, ValidationError
from workbench.imaging.errors import ImagingError
from workbench.imaging.volume import Volume
from workbench.lesions.errors import LesionMaskError
from workbench.policy import Action, require
from workbench.registry import audit
from workbench.registry.models import Case, Lesion, Read, Series
from workbench.studies import series_affine
from workbench.users import Actor

_GRID_TOLERANCE_MM = 1e-3


def _dicom_volume(series: Series) -> Volume:
    """The source volume of a DICOM series, checked against what was imported."""
    from workbench.imaging.dicom import load_dicom

    source = Path(series.source_uri)
    try:
        volumes = load_dicom(source)
    except (ImagingError, OSError) as exc:
        raise ValidationError(
            f"series {series.id}: cannot read its source DICOM files at {source}: {exc}"
        ) from exc
    matches = [
        v
        for v in volumes
        if v.identity.series_instance_uid == series.series_instance_uid
        and v.identity.content_sha256 == series.content_sha256
    ]
    if len(matches) <= series.volume_index:
        raise ValidationError(
            f"series {series.id}: the DICOM files under {source} are no longer the ones imported "
            f"(series {series.series_instance_uid}, checksum {series.content_sha256[:12]}…)"
        )
    volume = matches[series.volume_index]
    shape = tuple(int(n) for n in series.shape)
    distance = float(np.max(np.abs(np.asarray(volume.affine) - series_affine(series))))
    if tuple(volume.shape) != shape or distance > _GRID_TOLERANCE_MM:
        raise ValidationError(
            f"series {series.id}: the source files' grid {tuple(volume.shape)} differs from the "
            f"registry's {shape}"
        )
    return volume


def _findings(labels: np.ndarray, volume: Volume, rows: list[Lesion]) -> list[LesionFinding]:
    """Findings carrying the reader's locations, so the SEG can name the anatomic region."""
    from workbench.lesions.measure import findings_from_labels

    by_label = {row.label: row for row in rows}
    findings = []
    for finding in findings_from_labels(labels, volume):
        row = by_label.get(finding.label)
        if row is not None and row.location:
            finding = dataclasses.replace(finding, location=Location(row.location))
        findings.append(finding)
    return findings


def export_case_segs(
    session: Session,
    registry_id: str,
    outdir: str | os.PathLike[str],
    *,
    actor: Actor,
    read_id: int | None = None,
) -> list[Path]:
    """Write the lesions of case ``registry_id`` into ``outdir``; return the files written.

    One file per read with lesions (or only read ``read_id``) and series it marked: a DICOM
    SEG for DICOM-sourced series, a NIfTI label map for NIfTI ones. Raises
    :class:`ValidationError` when there is nothing to export or a source no longer matches,
    :class:`NotFoundError` for an unknown case or a read of another case. Audited as
    ``lesions.exported`` in the caller's transaction (use a write session to keep it).
    """
    from workbench.lesions.nifti_io import export_label_nifti
    from workbench.lesions.seg_io import export_seg, source_datasets_of
    from workbench.reads import load_draft_labels

    require(actor, Action.EXPORT_LESIONS)
    case_id = session.scalar(select(Case.id).where(Case.registry_id == registry_id))
    if case_id is None:
        raise NotFoundError(f"no case {registry_id!r} in this registry")
    query = select(Read).where(Read.case_id == case_id).order_by(Read.id)
    if read_id is not None:
        query = query.where(Read.id == read_id)
    reads = list(session.scalars(query))
    if read_id is not None and not reads:
        raise NotFoundError(f"case {registry_id}: no read {read_id} of this case")
    target = Path(outdir)
    written: list[Path] = []
    for read in reads:
        rows = list(
            session.scalars(select(Lesion).where(Lesion.read_id == read.id).order_by(Lesion.label))
        )
        for series_id in sorted({row.series_id for row in rows}):
            series = session.get(Series, series_id)
            assert series is not None  # a foreign key
            labels = load_draft_labels(session, actor, read.id, series_id)
            stem = f"{registry_id}_read{read.id}_series{series_id}"
            try:
                if series.source_kind is SourceKind.DICOM:
                    volume = _dicom_volume(series)
                    findings = _findings(
                        labels, volume, [r for r in rows if r.series_id == series_id]
                    )
                    path = export_seg(
                        labels, source_datasets_of(volume), findings, target / f"{stem}.seg.dcm"
                    )
                elif series.source_kind is SourceKind.NIFTI:
                    path = export_label_nifti(
                        labels, series_affine(series), target / f"{stem}.nii.gz"
                    )
                else:
                    raise ValidationError(
                        f"series {series_id}: cannot export lesions of a "
                        f"{series.source_kind.value} series yet"
                    )
            except LesionMaskError as exc:
                raise ValidationError(f"{stem}: {exc}") from exc
            written.append(path)
    if not written:
        which = f"read {read_id} of case {registry_id}" if read_id is not None else registry_id
        raise ValidationError(f"{which}: no lesions to export (no read of it has marked any)")
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="lesions.exported",
        entity_type="case",
        entity_id=registry_id,
        after={"read": read_id, "files": [p.name for p in written]},
    )
    return written
