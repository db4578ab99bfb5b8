"""Convert DICOM (or NIfTI) sources to ``.nii.gz`` + JSON sidecar, one pair per volume.

The NIfTI carries the RAS affine in sform and qform (code 1); the sidecar carries what the
registry needs to trust the file: ``EchoTime`` / ``RepetitionTime`` / ``InversionTime`` in
seconds (BIDS, as dcm2niix writes them; the workbench keeps milliseconds inside),
``ImageType`` as a list, description, UIDs, the sequence class and its evidence (the header
values as DICOM gives them, so its times are in milliseconds), the number of source files,
their content SHA-256, the vendor and any b-values.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from workbench.imaging.dicom import load_dicom
from workbench.imaging.errors import ImagingError
from workbench.imaging.nifti import NIFTI_SUFFIXES, load_nifti
from workbench.imaging.sidecar_units import TIME_KEYS, to_bids_seconds
from workbench.imaging.volume import Volume


def _slug(text: str) -> str:
    """File-name-safe, readable: letters, digits, '-' and '_' only, at most 60 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_-")
    return cleaned[:60] or "series"


def volume_name(volume: Volume) -> str:
    """Base file name of a volume: ``<series number>_<description>[_<frame type>]``."""
    parts: list[str] = []
    number = volume.meta.get("series_number")
    if number not in (None, ""):
        parts.append(str(number))
    parts.append(_slug(str(volume.meta.get("description") or "series")))
    return "_".join(parts)


def sidecar(volume: Volume) -> dict[str, Any]:
    """The JSON sidecar of a volume (plain JSON types only)."""
    ident = volume.identity
    data: dict[str, Any] = {
        "SeriesDescription": volume.meta.get("description"),
        "ProtocolName": volume.meta.get("protocol"),
        "SeriesNumber": volume.meta.get("series_number"),
        "Manufacturer": volume.meta.get("vendor"),
        "ManufacturersModelName": volume.meta.get("model"),
        # A list, as dcm2niix writes it (GE's private image type added as MAGNITUDE, PHASE...).
        "ImageType": [t for t in str(volume.meta.get("frame_type") or "").split("\\") if t] or None,
        # BIDS gives times in seconds; the workbench keeps DICOM's milliseconds.
        **{key: to_bids_seconds(volume.meta.get(meta_key)) for key, meta_key in TIME_KEYS.items()},
        "StudyInstanceUID": ident.study_instance_uid,
        "SeriesInstanceUID": ident.series_instance_uid,
        "FrameOfReferenceUID": ident.frame_of_reference_uid,
        "SourceKind": ident.kind.value,
        "SourceFileCount": len(ident.paths),
        "SourceContentSHA256": ident.content_sha256,
        "SequenceClass": volume.sequence_class.value,
        "SequenceEvidence": volume.sequence_evidence,
        "Shape": list(volume.shape),
        "VoxelSizeMM": list(volume.spacing),
        "AffineLPS": volume.affine.tolist(),
        "Storage": volume.meta.get("storage"),
    }
    if volume.meta.get("b_values"):
        data["BValues"] = volume.meta["b_values"]
        data["BVectors"] = volume.meta.get("b_vectors")
    return {key: _jsonable(value) for key, value in data.items() if value not in (None, "")}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def convert(input_path: str | os.PathLike[str], outdir: str | os.PathLike[str]) -> list[Path]:
    """Write one ``.nii.gz`` and one ``.json`` per volume under ``outdir``; NIfTI paths.

    ``input_path`` is a DICOM folder or file, or a NIfTI file. Names come from the series
    number and description, made file-name safe and unique (``_2``, ``_3`` ... on clashes,
    also with files already in ``outdir``). Raises :class:`ImagingError` when nothing can
    be written.
    """
    import nibabel as nib

    source = Path(input_path)
    if source.is_file() and source.name.lower().endswith(NIFTI_SUFFIXES):
        volumes = [load_nifti(source)]
    else:
        volumes = load_dicom(source)
    if not volumes:
        raise ImagingError(f"{source}: nothing to convert")
    target = Path(outdir)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImagingError(f"{target}: cannot create the output folder: {exc}") from exc
    names = [volume_name(v) for v in volumes]
    clashes = {n for n in names if names.count(n) > 1}
    written: list[Path] = []
    for volume, base in zip(volumes, names, strict=True):
        if base in clashes and volume.meta.get("frame_type"):
            base = f"{base}_{_slug(str(volume.meta['frame_type']).split(chr(92))[-1])}"
        stem, n = base, 1
        while (target / f"{stem}.nii.gz").exists() or (target / f"{stem}.json").exists():
            n += 1
            stem = f"{base}_{n}"
        nifti_path = target / f"{stem}.nii.gz"
        try:
            nib.save(volume.to_nibabel(), nifti_path)
            (target / f"{stem}.json").write_text(
                json.dumps(sidecar(volume), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        except OSError as exc:
            raise ImagingError(f"{nifti_path}: cannot write: {exc}") from exc
        written.append(nifti_path)
    return written
