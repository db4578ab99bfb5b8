"""The voxel cache: imported volumes as plain ``.npy`` files, memory-mapped on reopen.

A case opened for review must not wait for DICOM parsing again, so the first import writes
each volume once, uncompressed, in the array order the viewers use; reopening maps the file
(``numpy.load(..., mmap_mode="r")``), which costs about what reading the bytes costs.

Files are content-addressed (``<sha[:2]>/<sha>_<volume index>.npy``, ``sha`` being the
series' source checksum), written to a temporary name and renamed into place, so a crash
never leaves a half-written file under a real name and importing the same series twice
reuses the file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from workbench.errors import ValidationError


class CacheError(ValidationError):
    """A cached volume is missing or does not match what the registry recorded."""


def cache_path(root: Path, content_sha256: str, volume_index: int) -> Path:
    """Where the volume of that source and index lives in the cache under ``root``."""
    return root / content_sha256[:2] / f"{content_sha256}_{volume_index}.npy"


def store(
    root: Path, content_sha256: str, volume_index: int, array: np.ndarray
) -> tuple[Path, bool]:
    """Write ``array`` into the cache unless it is there already; return (path, newly written).

    The write goes to a temporary file in the same folder and is renamed into place, so a
    reader never sees a partial file.
    """
    target = cache_path(root, content_sha256, volume_index)
    if target.exists():
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".partial-", suffix=".npy", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.lib.format.write_array(handle, np.ascontiguousarray(array), allow_pickle=False)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target, True


def open_cached(path: Path, *, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Memory-map a cached volume read-only, checking it is what the registry recorded."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise CacheError(
            f"{path}: the cached voxels of this series are missing; import the series again"
        ) from None
    except (ValueError, OSError) as exc:
        raise CacheError(f"{path}: the cached voxels are unreadable ({exc})") from exc
    if tuple(array.shape[: len(shape)]) != tuple(shape) or str(array.dtype) != dtype:
        raise CacheError(
            f"{path}: cached voxels are {array.dtype} {array.shape}, but the registry recorded "
            f"{dtype} {tuple(shape)}; import the series again"
        )
    return array
