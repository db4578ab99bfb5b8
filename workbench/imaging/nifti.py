"""NIfTI-1/2 (``.nii``, ``.nii.gz``) into a :class:`~workbench.imaging.volume.Volume`.

The affine is the one nibabel documents (``img.affine``): the sform when ``sform_code > 0``,
else the qform when ``qform_code > 0``; with both codes 0 the file says nothing about the
patient, and the voxel-size-only fallback is used with a note in ``meta``. NIfTI's RAS
millimetres become DICOM LPS here (``diag(-1, -1, 1, 1) @ affine``). A ``scl_slope`` of 0
or NaN means "no scaling" (NIfTI standard). NaN or infinite voxels are refused, as are
broken headers (wrong ``sizeof_hdr``, bad dimensions, data beyond the end of the file).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from workbench.domain import SequenceClass, SourceKind
from workbench.imaging.errors import CorruptImageError, ImagingError, UnsupportedSeriesError
from workbench.imaging.sequence import classify
from workbench.imaging.sidecar_units import TIME_KEYS, from_bids_seconds
from workbench.imaging.volume import LPS_TO_RAS, SourceIdentity, Volume

NIFTI_SUFFIXES = (".nii", ".nii.gz")
_HEADER_SIZES = {348: 1, 540: 2}


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _sidecar(path: Path) -> tuple[dict[str, Any], str | None]:
    """The JSON sidecar next to the image (BIDS / dcm2niix), and a note if it is unusable."""
    candidate = path.with_name(_stem(path) + ".json")
    if not candidate.is_file():
        return {}, None
    try:
        data = json.loads(candidate.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"{candidate}: sidecar ignored, not readable JSON ({exc})"
    if not isinstance(data, dict):
        return {}, f"{candidate}: sidecar ignored, not a JSON object"
    return data, None


def _check_header(path: Path, raw: bytes) -> tuple[int, str]:
    """NIfTI version and byte order, after checking sizeof_hdr, dims and vox_offset."""
    if len(raw) < 348:
        raise CorruptImageError(
            f"{path}: truncated NIfTI: {len(raw)} bytes, shorter than a NIfTI-1 header (348)"
        )
    version, order = 0, "<"
    for candidate in ("<", ">"):
        size = struct.unpack(candidate + "i", raw[:4])[0]
        if size in _HEADER_SIZES:
            version, order = _HEADER_SIZES[size], candidate
            break
    if not version:
        size = struct.unpack("<i", raw[:4])[0]
        raise CorruptImageError(
            f"{path}: broken NIfTI header: sizeof_hdr is {size}, not 348 (NIfTI-1) or 540 (NIfTI-2)"
        )
    if version == 1:
        dims = struct.unpack(order + "8h", raw[40:56])
        vox_offset = struct.unpack(order + "f", raw[108:112])[0]
        datatype_bits = struct.unpack(order + "h", raw[72:74])[0]
    else:
        if len(raw) < 540:
            raise CorruptImageError(f"{path}: truncated NIfTI-2 header ({len(raw)} bytes)")
        dims = struct.unpack(order + "8q", raw[16:80])
        vox_offset = struct.unpack(order + "q", raw[168:176])[0]
        datatype_bits = struct.unpack(order + "h", raw[14:16])[0]
    ndim = dims[0]
    if not 1 <= ndim <= 7:
        raise CorruptImageError(f"{path}: broken NIfTI header: dim[0] is {ndim}, not 1..7")
    sizes = dims[1 : ndim + 1]
    if any(n < 1 for n in sizes):
        raise CorruptImageError(
            f"{path}: broken NIfTI header: dimensions {list(sizes)} include zero or negative"
        )
    if datatype_bits <= 0:
        raise CorruptImageError(f"{path}: broken NIfTI header: bitpix {datatype_bits}")
    if not np.isfinite(vox_offset) or vox_offset < (352 if version == 1 else 544) - 4:
        raise CorruptImageError(f"{path}: broken NIfTI header: vox_offset {vox_offset}")
    needed = int(vox_offset) + int(np.prod(sizes, dtype=np.int64)) * datatype_bits // 8
    if needed > len(raw):
        raise CorruptImageError(
            f"{path}: truncated NIfTI: the header needs {needed:,} bytes (voxel data from "
            f"offset {int(vox_offset)}) but the file holds {len(raw):,}"
        )
    return version, order


def load_nifti(path: str | os.PathLike[str]) -> Volume:
    """Read a ``.nii`` / ``.nii.gz`` file into a Volume (LPS affine, content hash, class)."""
    import nibabel as nib

    source = Path(path)
    if not source.is_file():
        raise ImagingError(f"{source}: no such file")
    if not source.name.lower().endswith(NIFTI_SUFFIXES):
        raise ImagingError(f"{source}: not a NIfTI file name (.nii or .nii.gz expected)")
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ImagingError(f"{source}: cannot read: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    raw = data
    if data[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise CorruptImageError(f"{source}: broken gzip stream (truncated?): {exc}") from exc
    version, _ = _check_header(source, raw)
    image_class = nib.Nifti1Image if version == 1 else nib.Nifti2Image
    try:
        image = image_class.from_stream(io.BytesIO(raw))
        values = np.asanyarray(image.dataobj)
    except Exception as exc:
        raise CorruptImageError(f"{source}: broken NIfTI: {exc}") from exc
    header = image.header
    notes: list[str] = []
    sform_code = int(header["sform_code"])
    qform_code = int(header["qform_code"])
    if sform_code > 0:
        affine_source = "sform"
    elif qform_code > 0:
        affine_source = "qform"
    else:
        affine_source = "pixdim fallback"
        notes.append(
            f"{source}: sform_code and qform_code are both 0; the position in the patient is "
            "unknown, so only the voxel size (pixdim) was used"
        )
    affine = np.asarray(image.affine, dtype=np.float64)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise CorruptImageError(f"{source}: broken NIfTI header: unusable affine {affine!r}")
    rgb = values.dtype.names is not None
    if rgb:
        names = list(values.dtype.names or ())
        values = np.stack([values[n] for n in names[:3]], axis=-1).astype(np.uint8)
    elif values.dtype.kind in "fc":
        bad = ~np.isfinite(values)
        n_bad = int(np.count_nonzero(bad))
        if n_bad:
            n_nan = int(np.count_nonzero(np.isnan(values)))
            raise CorruptImageError(
                f"{source}: {n_bad:,} NaN or infinite voxel values ({n_nan:,} NaN, "
                f"{n_bad - n_nan:,} infinite); refused"
            )
        if values.dtype.kind == "c":
            raise UnsupportedSeriesError(f"{source}: complex-valued voxels are not supported")
        if values.dtype == np.float64:
            values = values.astype(np.float32)
    values = _to_grid(source, values, rgb)
    sidecar, note = _sidecar(source)
    if note:
        notes.append(note)
    description = str(sidecar.get("SeriesDescription") or _stem(source))
    # BIDS seconds become the milliseconds DICOM gives, for the classifier and for meta.
    times_ms, time_notes = from_bids_seconds(
        sidecar, str(source.with_name(_stem(source) + ".json"))
    )
    notes.extend(time_notes)
    summary = {key: value for key, value in sidecar.items() if key not in TIME_KEYS}
    summary.update(times_ms)
    summary.setdefault("SeriesDescription", description)
    sequence_class, evidence = classify(summary)
    evidence["source"] = "JSON sidecar" if sidecar else "file name"
    meta: dict[str, Any] = {
        "description": description,
        "protocol": sidecar.get("ProtocolName"),
        "vendor": sidecar.get("Manufacturer"),
        "echo_time": times_ms.get("EchoTime"),
        "repetition_time": times_ms.get("RepetitionTime"),
        "inversion_time": times_ms.get("InversionTime"),
        "series_number": sidecar.get("SeriesNumber"),
        "affine_source": affine_source,
        "sform_code": sform_code,
        "qform_code": qform_code,
        "nifti_version": version,
        "storage": "nifti",
        "n_files": 1,
        "notes": notes,
    }
    if rgb:
        meta["photometric"] = "RGB"
    identity = SourceIdentity(
        kind=SourceKind.NIFTI,
        content_sha256=digest,
        paths=(str(source),),
        study_instance_uid=_text(sidecar.get("StudyInstanceUID")),
        series_instance_uid=_text(sidecar.get("SeriesInstanceUID")),
        frame_of_reference_uid=_text(sidecar.get("FrameOfReferenceUID")),
    )
    return Volume(
        array=values,
        affine=LPS_TO_RAS @ affine,
        identity=identity,
        sequence_class=SequenceClass(sequence_class),
        sequence_evidence=evidence,
        meta=meta,
    )


def _text(value: Any) -> str | None:
    return str(value) if value else None


def _to_grid(source: Path, values: np.ndarray, rgb: bool) -> np.ndarray:
    """3D or 4D (plus the RGB axis): pad 1D/2D with unit axes, drop trailing unit axes."""
    extra = 1 if rgb else 0
    spatial = values.ndim - extra
    if spatial < 3:
        shape = values.shape[:spatial] + (1,) * (3 - spatial) + values.shape[spatial:]
        return values.reshape(shape)
    while spatial > 3 and values.shape[spatial - 1] == 1:
        values = values.reshape(values.shape[: spatial - 1] + values.shape[spatial:])
        spatial -= 1
    if spatial > 4:
        raise UnsupportedSeriesError(
            f"{source}: {spatial}-dimensional NIfTI (shape {values.shape}); 3D or 4D expected"
        )
    return values
