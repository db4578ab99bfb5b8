"""Label maps as arrays: checks and the smallest unsigned type that holds them.

A label map is a 3D array on a series grid, indexed ``(i, j, k)`` like
:attr:`workbench.imaging.volume.Volume.array`: 0 is background, each positive integer one
lesion. Labels are stored in the smallest unsigned type that holds the largest label
(``uint8`` up to 255, ``uint16`` up to 65,535, else ``uint32``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.lesions.errors import LesionMaskError

MAX_LABEL = 2**32 - 1
"""The largest label value a mask may hold (the ``uint32`` range)."""


def label_dtype(max_label: int) -> np.dtype[Any]:
    """The smallest unsigned integer type that holds ``0..max_label``."""
    if max_label < 0 or max_label > MAX_LABEL:
        raise ValueError(f"label {max_label} is outside 0..{MAX_LABEL}")
    for dtype in (np.uint8, np.uint16, np.uint32):
        if max_label <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise AssertionError("unreachable")  # pragma: no cover


def checked_labels(array: Any, where: str = "label map") -> np.ndarray:
    """``array`` as a 3D label map of non-negative integers (bool becomes ``uint8``).

    The array is returned as it is when it is already unsigned (no copy); signed integers
    with no negative value are returned in the smallest unsigned type. Float arrays are
    refused: turn a float mask into labels with :func:`mask_values` first.
    """
    values = np.asarray(array)
    if values.ndim != 3:
        raise LesionMaskError(
            f"{where}: a label map must be 3-D (i, j, k), got shape {values.shape}"
        )
    if values.dtype == np.bool_:
        return values.view(np.uint8)
    if values.dtype.kind == "u":
        if values.dtype.itemsize > 4 and values.size and int(values.max()) > MAX_LABEL:
            raise LesionMaskError(f"{where}: labels above {MAX_LABEL} are not supported")
        return values
    if values.dtype.kind == "i":
        if values.size == 0:
            return values.astype(np.uint8)
        low, high = int(values.min()), int(values.max())
        if low < 0:
            raise LesionMaskError(f"{where}: negative label values (minimum {low})")
        return values.astype(label_dtype(high))
    raise LesionMaskError(
        f"{where}: labels must be integers, got {values.dtype} values; "
        "a float mask must be converted explicitly"
    )


def mask_values(array: Any, where: str) -> np.ndarray:
    """The labels of a mask read from a file: integers kept, a float mask only if it is 0/1.

    Refused with a :class:`LesionMaskError` naming ``where``: NaN or infinite values,
    non-integer values, float values other than 0 and 1 (a label map must be stored as an
    integer type), negative values, RGB or complex data, and anything not 3-D.
    """
    values = np.asarray(array)
    if values.dtype.names is not None or values.dtype.kind == "c":
        raise LesionMaskError(f"{where}: {values.dtype} voxels cannot be a lesion mask")
    if values.ndim != 3:
        raise LesionMaskError(
            f"{where}: a lesion mask must be 3-D, got {values.ndim}-D data of shape {values.shape}"
        )
    if values.dtype.kind == "f":
        finite = np.isfinite(values)
        if not finite.all():
            n_bad = int(values.size - np.count_nonzero(finite))
            raise LesionMaskError(f"{where}: {n_bad:,} NaN or infinite values in the mask")
        fractional = values != np.round(values)
        if fractional.any():
            example = float(values[fractional].flat[0])
            raise LesionMaskError(
                f"{where}: non-integer mask values (e.g. {example:g}); a lesion mask holds "
                "0 for background and whole-number labels"
            )
        other = (values != 0) & (values != 1)
        if other.any():
            example = float(values[other].flat[0])
            raise LesionMaskError(
                f"{where}: a float mask must hold only 0 and 1, found {example:g}; "
                "store a label map as an integer type"
            )
        return (values != 0).view(np.uint8)
    if values.dtype.kind not in "biu":
        raise LesionMaskError(f"{where}: {values.dtype} voxels cannot be a lesion mask")
    return checked_labels(values, where)


def is_binary(labels: np.ndarray) -> bool:
    """Whether at most one non-zero value occurs (a 0/1 or 0/255 mask, not a label map)."""
    nonzero = labels[labels != 0]
    return nonzero.size == 0 or bool(nonzero.min() == nonzero.max())
