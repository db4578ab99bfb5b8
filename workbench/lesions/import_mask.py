"""Bring a lesion mask made elsewhere (NIfTI label map or DICOM SEG) into a reader's draft.

A mask drawn in 3D Slicer, ITK-SNAP or OHIF is added to the reader's draft read of the case,
on the grid of the named series: a NIfTI mask must lie on that grid exactly (a mask on
another grid is refused, never overlaid by voxel index), a SEG is placed through the source
instances it references. A binary mask is split into 26-connected lesions; a label map keeps
its lesions. New lesions get label numbers not yet used in the read and only fill voxels no
existing lesion holds; the draft's existing lesions and their details are kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from adjudication.lesions import Hemisphere, Location
from viewers.measure import connected_lesions
from workbench.errors import NotFoundError, ValidationError
from workbench.lesions.errors import LesionMaskError
from workbench.lesions.export import _dicom_volume
from workbench.lesions.nifti_io import import_label_nifti
from workbench.reads import (
    LesionDetails,
    LesionDraft,
    list_lesions,
    load_draft_labels,
    save_draft,
    start_or_resume_draft,
)
from workbench.registry.models import Read, Series
from workbench.studies import series_affine
from workbench.users import Actor

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def read_mask_on_series(session: Session, series: Series, path: Path) -> np.ndarray:
    """The mask's labels on ``series``' grid ``(i, j, k)``; refuses a mask on another grid."""
    shape = tuple(int(n) for n in series.shape[:3])
    if path.name.lower().endswith(NIFTI_SUFFIXES):
        return import_label_nifti(path, series_affine(series), shape)
    from workbench.lesions.seg_io import import_seg

    return import_seg(path, _dicom_volume(series))


def import_mask_into_draft(
    session: Session, actor: Actor, registry_id: str, series_id: int, path: Path
) -> Read:
    """Add the lesions of ``path`` to ``actor``'s draft of ``registry_id`` on ``series_id``."""
    if not path.exists():
        raise NotFoundError(f"{path}: no such file")
    read = start_or_resume_draft(session, actor, registry_id)
    series = session.get(Series, series_id)
    if series is None or series.study.case_id != read.case_id:
        raise NotFoundError(f"series #{series_id} is not a series of case {registry_id}")
    labels = np.asarray(read_mask_on_series(session, series, path))
    values = np.unique(labels[labels != 0])
    if values.size == 0:
        raise LesionMaskError(f"{path}: the mask is empty; nothing to import")
    if values.size == 1:
        labels = connected_lesions(labels != 0, series_affine(series))
    existing = list_lesions(session, actor, read.id)
    used = {lesion.label for lesion in existing}
    next_label = max(used, default=0) + 1
    by_series: dict[int, np.ndarray] = {
        sid: load_draft_labels(session, actor, read.id, sid)
        for sid in {lesion.series_id for lesion in existing}
    }
    target = by_series.get(series_id)
    if target is None:
        target = np.zeros(labels.shape, dtype=np.uint16)
    merged = np.asarray(target, dtype=np.uint32).copy()
    added = 0
    for value in np.unique(labels[labels != 0]):
        voxels = (labels == value) & (merged == 0)
        if not voxels.any():
            continue
        merged[voxels] = next_label
        next_label += 1
        added += 1
    if added == 0:
        raise ValidationError(f"{path}: every lesion voxel is already marked in the draft")
    by_series[series_id] = merged
    details = {
        lesion.label: LesionDetails(
            hemisphere=Hemisphere(lesion.hemisphere) if lesion.hemisphere else None,
            location=Location(lesion.location) if lesion.location else None,
            features=lesion.features,
        )
        for lesion in existing
    }
    drafts = [
        LesionDraft(
            sid,
            array,
            {label: d for label, d in details.items() if np.any(array == label)},
        )
        for sid, array in by_series.items()
    ]
    return save_draft(
        session,
        actor,
        read.id,
        read.version,
        lesions=drafts,
        judgement=read.imaging_judgement,
        confidence=read.confidence,
        comment=read.comment,
        features=read.features,
    )
