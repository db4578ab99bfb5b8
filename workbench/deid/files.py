"""Finding and opening the files the gate and ``deidentify`` look at.

A file is classified by its first 132 bytes and its name, never by reading it whole:
DICOM (the ``DICM`` magic after the 128-byte preamble, or a preamble-less file starting with
an explicit group 0002/0008 element), NIfTI (``.nii``, ``.nii.gz``), the JSON sidecar of a
NIfTI (same stem, ``.json``; checked with its image), or anything else (not checked).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

if TYPE_CHECKING:
    from pydicom.dataset import FileDataset

NIFTI_SUFFIXES: Final = (".nii.gz", ".nii")


class FileKind(Enum):
    """What a file found under the checked path is."""

    DICOM = "dicom"
    """A DICOM Part 10 file (preamble and ``DICM``)."""
    DICOM_NO_PREAMBLE = "dicom-no-preamble"
    """A DICOM data set written without the Part 10 preamble (old ACR-NEMA style)."""
    NIFTI = "nifti"
    """A ``.nii`` or ``.nii.gz`` image."""
    SIDECAR = "sidecar"
    """The ``.json`` sidecar of a NIfTI image beside it."""
    OTHER = "other"
    """Anything else: not checked, not copied."""


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def error_reason(exc: BaseException) -> str:
    """An exception as a short reason for a report, with quoted parts (maybe values) elided."""
    text = _QUOTED.sub("'…'", str(exc)).strip() or "no detail"
    return f"{type(exc).__name__}: {text[:160]}"


def nifti_stem(path: Path) -> str | None:
    """The name of ``path`` without ``.nii``/``.nii.gz``, or None if it is not NIfTI."""
    name = path.name
    lowered = name.lower()
    for suffix in NIFTI_SUFFIXES:
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def sidecar_of(nifti: Path) -> Path:
    """Where the JSON sidecar of the NIfTI image ``nifti`` is (it may not exist)."""
    stem = nifti_stem(nifti)
    if stem is None:
        raise ValueError(f"{nifti} is not a NIfTI file name")
    return nifti.with_name(stem + ".json")


def _is_sidecar(path: Path) -> bool:
    stem = path.name[: -len(".json")]
    return any(path.with_name(stem + suffix).is_file() for suffix in (".nii", ".nii.gz"))


def _looks_like_dicom_without_preamble(head: bytes) -> bool:
    """A data set that starts with an explicit-VR or implicit-VR group 0002/0008 element."""
    if len(head) < 8:
        return False
    group = int.from_bytes(head[0:2], "little")
    element = int.from_bytes(head[2:4], "little")
    return group in (0x0002, 0x0008) and element <= 0x0020


def classify(path: Path) -> FileKind:
    """What ``path`` is (reads at most 132 bytes; ``OSError`` if it cannot be opened)."""
    if nifti_stem(path) is not None:
        return FileKind.NIFTI
    if path.name.lower().endswith(".json") and _is_sidecar(path):
        return FileKind.SIDECAR
    with path.open("rb") as handle:
        head = handle.read(132)
    if len(head) == 132 and head[128:132] == b"DICM":
        return FileKind.DICOM
    if _looks_like_dicom_without_preamble(head):
        return FileKind.DICOM_NO_PREAMBLE
    return FileKind.OTHER


def iter_files(root: Path) -> Iterator[Path]:
    """``root`` itself if it is a file, else every file below it, in sorted order."""
    if not root.is_dir():
        yield root
        return
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            yield Path(folder, name)


def read_dicom(path: Path, kind: FileKind, *, stop_before_pixels: bool) -> FileDataset:
    """Read a file :func:`classify` called DICOM; ``ValueError`` (or pydicom's error) if broken.

    pydicom reads a truncated file without complaint, cutting the last value short or
    dropping the last element; a gate must not vouch for a header it did not see whole, so
    this checks that every top-level value has its declared length, that the data set is
    not empty and, for image storage, that the header runs up to the pixel data.
    """
    from pydicom import dcmread
    from pydicom.dataelem import RawDataElement
    from pydicom.uid import UID

    with path.open("rb") as handle, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = dcmread(
            handle,
            stop_before_pixels=stop_before_pixels,
            force=kind is FileKind.DICOM_NO_PREAMBLE,
        )
        size = os.fstat(handle.fileno()).st_size
        at_end = handle.tell() >= size
        if stop_before_pixels and not at_end:
            _check_pixel_data_length(handle, size, dataset.original_encoding)
    if any("end of file" in str(w.message).lower() for w in caught):
        raise ValueError("truncated: the file ends inside an item or sequence")
    if len(dataset) == 0:
        raise ValueError("truncated or empty: no data set after the file meta information")
    for element in dataset.values():
        if (
            isinstance(element, RawDataElement)
            and element.length != 0xFFFFFFFF
            and element.value is not None
            and len(element.value) < element.length
        ):
            tag = int(element.tag)
            raise ValueError(f"truncated: the value of ({tag >> 16:04X},{tag & 0xFFFF:04X}) is cut")
    if at_end:
        sop_class = dataset.get("SOPClassUID", None) or dataset.file_meta.get(
            "MediaStorageSOPClassUID", ""
        )
        if "Image Storage" in UID(str(sop_class or "")).name and not any(
            tag in dataset for tag in _PIXEL_TAGS
        ):
            raise ValueError("truncated: an image whose data set ends before its pixel data")
    return dataset


_PIXEL_TAGS: Final = (0x7FE00008, 0x7FE00009, 0x7FE00010)


def _check_pixel_data_length(
    handle: BinaryIO, size: int, encoding: tuple[bool | None, bool | None]
) -> None:
    """Where reading stopped before the pixel data, check the file holds all of it.

    Reads only the element's header (at most 12 bytes) at the current position.
    """
    implicit, little = encoding
    if little is False:
        return  # big endian is retired and rare: not worth a second parser
    start = handle.tell()
    head = handle.read(12)
    if len(head) < 8:
        raise ValueError("truncated: the file ends inside the pixel data element")
    tag = (int.from_bytes(head[0:2], "little") << 16) | int.from_bytes(head[2:4], "little")
    if tag not in _PIXEL_TAGS:
        return
    if implicit:
        length, header_length = int.from_bytes(head[4:8], "little"), 8
    else:
        if len(head) < 12:
            raise ValueError("truncated: the file ends inside the pixel data element")
        length, header_length = int.from_bytes(head[8:12], "little"), 12
    if length != 0xFFFFFFFF and start + header_length + length > size:
        raise ValueError(
            f"truncated: the pixel data needs {length} bytes, the file holds "
            f"{max(size - start - header_length, 0)}"
        )


@contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Silence value validation and warnings while reading untrusted headers.

    pydicom's validation warnings quote the offending value, which may be the very
    identifier the gate must never repeat; and the gate reports its own findings. This
    changes process-wide settings for the duration (as pydicom's own context managers do).
    """
    from pydicom import config

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with config.disable_value_validation():
            yield
