"""Imaging import: every scanner series and NIfTI file into one :class:`Volume` type.

Architecture:

- :mod:`.volume` — the image type: array ``(i, j, k[, t])`` + 4x4 affine to DICOM LPS mm +
  source identity (UIDs, content SHA-256) + sequence class with its evidence.
- :mod:`.dicom` — discovery (folder walk, header-only reads, series and volume planning,
  geometry checks) and loading of classic, 4D classic, enhanced multi-frame, Siemens
  MOSAIC and UIH grid storage.
- :mod:`.dicom_header` — a fast reader of the few tags the planner needs from classic
  single-frame files (values converted by pydicom's rules); it declines anything unusual and
  discovery then reads that file with pydicom.
- :mod:`.nifti` — ``.nii`` / ``.nii.gz`` (sform/qform as nibabel documents, RAS→LPS).
- :mod:`.sequence` — sequence class (T1, T1+Gd, T2, FLAIR, DWI, ADC, SWI, other) from headers.
- :mod:`.convert` — one ``.nii.gz`` + JSON sidecar per volume.
- :mod:`.errors` — :class:`ImagingError` and subclasses; each message names the file and
  the problem.

World coordinates are DICOM LPS millimetres throughout; RAS appears only at the NIfTI edge
(:meth:`Volume.ras_affine`, :meth:`Volume.to_nibabel`). No Qt here. Names are loaded on
first use, so importing the package for :class:`Volume` does not import pydicom.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.imaging.convert import convert
    from workbench.imaging.dicom import (
        DicomSeries,
        DiscoveryResult,
        discover,
        load_dicom,
        load_series,
    )
    from workbench.imaging.errors import (
        CorruptImageError,
        ImagingError,
        NotDicomError,
        SeriesGeometryError,
        UnsupportedSeriesError,
    )
    from workbench.imaging.nifti import load_nifti
    from workbench.imaging.sequence import classify
    from workbench.imaging.volume import SourceIdentity, Volume

_EXPORTS = {
    "convert": "convert",
    "DicomSeries": "dicom",
    "DiscoveryResult": "dicom",
    "discover": "dicom",
    "load_dicom": "dicom",
    "load_series": "dicom",
    "CorruptImageError": "errors",
    "ImagingError": "errors",
    "NotDicomError": "errors",
    "SeriesGeometryError": "errors",
    "UnsupportedSeriesError": "errors",
    "load_nifti": "nifti",
    "classify": "sequence",
    "SourceIdentity": "volume",
    "Volume": "volume",
}

__all__ = [
    "CorruptImageError",
    "DicomSeries",
    "DiscoveryResult",
    "ImagingError",
    "NotDicomError",
    "SeriesGeometryError",
    "SourceIdentity",
    "UnsupportedSeriesError",
    "Volume",
    "classify",
    "convert",
    "discover",
    "load_dicom",
    "load_nifti",
    "load_series",
]


def __getattr__(name: str) -> Any:
    """Import the public names lazily (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.imaging' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"workbench.imaging.{module}"), name)
    globals()[name] = value
    return value
