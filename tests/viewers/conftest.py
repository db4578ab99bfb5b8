"""Fixtures of the viewer tests: small synthetic volumes with known geometry, and real data."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from viewers.image import ImageLayer

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def ramp_volume(shape: tuple[int, int, int] = (20, 30, 12)) -> np.ndarray:
    """int16 volume whose value encodes its index: ``100·i + j + 2000·k`` (distinct for i < 20,
    j < 100, k < 16)."""
    i, j, k = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    return (i * 100 + j + k * 2000).astype(np.int16)


def axial_layer(
    shape: tuple[int, int, int] = (20, 30, 12),
    spacing: tuple[float, float, float] = (0.8, 0.9, 2.5),
    origin: tuple[float, float, float] = (-8.0, -13.0, -14.0),
) -> ImageLayer:
    """An axial acquisition: i → patient Left, j → Posterior, k → Superior."""
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    return ImageLayer("axial", ramp_volume(shape), affine)


def rotation(axis: str, degrees: float) -> np.ndarray:
    """3x3 rotation about a world axis."""
    c, s = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))
    matrices = {
        "x": [[1, 0, 0], [0, c, -s], [0, s, c]],
        "y": [[c, 0, s], [0, 1, 0], [-s, 0, c]],
        "z": [[c, -s, 0], [s, c, 0], [0, 0, 1]],
    }
    return np.array(matrices[axis], dtype=np.float64)


def load_lps(path: Path, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """A NIfTI file's array ``(i, j, k)`` and its affine converted RAS → LPS."""
    image = nib.load(path)
    assert isinstance(image, nib.Nifti1Image)
    return np.asarray(image.dataobj, dtype=dtype), RAS_TO_LPS @ image.affine
