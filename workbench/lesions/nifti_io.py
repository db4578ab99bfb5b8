"""Lesion label maps as NIfTI files on the series grid, and explicit resampling between grids.

Export writes the label map exactly on the series grid: the same ``(i, j, k)`` array, the
series' LPS affine turned into NIfTI's RAS at this edge (``diag(-1, -1, 1, 1) @ affine``),
in the sform and the qform (both code 1, scanner), intent ``NIFTI_INTENT_LABEL``, as
``uint8`` or ``uint16`` (``uint32`` only beyond 65,535 labels).

Import reads a mask through :func:`workbench.imaging.nifti.load_nifti` (so qform-only files,
LPS-stored files and broken headers are handled the one way the workbench knows) and
**refuses** a mask whose grid is not the series' grid: another shape, or any corner voxel
more than 1e-3 mm from where the series puts it. Overlaying such a mask by voxel index
would draw lesions in the wrong place. Putting a mask on another grid is an explicit step,
:func:`resample_labels_to` (nearest neighbour through world space).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np

from workbench.imaging.volume import LPS_TO_RAS
from workbench.lesions.errors import GridMismatchError, LesionMaskError
from workbench.lesions.labels import checked_labels, label_dtype, mask_values

GRID_TOLERANCE_MM = 1e-3
"""A mask is on the series grid when every corner voxel centre is this close (mm)."""

NIFTI_INTENT_LABEL = 1002
"""NIfTI intent code of a label map (``NIFTI_INTENT_LABEL``)."""


def _matrix(affine: Any, name: str) -> np.ndarray:
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise ValueError(f"{name}: expected a finite 4 x 4 affine, got shape {matrix.shape}")
    if abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
        raise ValueError(f"{name}: singular affine")
    return matrix


def _is_orthogonal(affine: np.ndarray) -> bool:
    """Whether the voxel axes are at right angles (a qform can represent the grid)."""
    axes = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    return bool(np.allclose(axes.T @ axes, np.eye(3), atol=1e-6))


def export_label_nifti(labels: Any, affine_lps: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``labels`` (``(i, j, k)`` on the series grid) as a NIfTI-1 label map; return the path.

    ``affine_lps`` is the series' affine (:attr:`Volume.affine`). The file holds the RAS
    affine in the sform and the qform, both with code 1; a sheared grid (gantry tilt), which
    a qform cannot describe, keeps the qform code 0 and the exact sform. ``.nii.gz`` names
    are gzip-compressed.
    """
    import nibabel as nib

    array = checked_labels(labels, "export_label_nifti")
    matrix = _matrix(affine_lps, "export_label_nifti: affine_lps")
    target = Path(path)
    if not target.name.lower().endswith((".nii", ".nii.gz")):
        raise ValueError(f"{target}: a NIfTI file name must end in .nii or .nii.gz")
    high = int(array.max()) if array.size else 0
    data = np.asarray(array, dtype=label_dtype(max(high, 1)))
    ras = LPS_TO_RAS @ matrix
    image = nib.Nifti1Image(data, ras)
    header = image.header
    header.set_data_dtype(data.dtype)
    image.set_sform(ras, code=1)
    if _is_orthogonal(ras):
        image.set_qform(ras, code=1)
    else:
        image.set_qform(None, code=0)
    header.set_xyzt_units("mm", "sec")
    header.set_intent(NIFTI_INTENT_LABEL)
    header["descrip"] = b"PML registry lesion labels"
    header.set_slope_inter(1.0, 0.0)
    target.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, str(target))
    return target


def _corners(shape: tuple[int, ...]) -> np.ndarray:
    return np.array(list(itertools.product(*[(0, n - 1) for n in shape[:3]])), dtype=np.float64)


def grid_distance_mm(shape: tuple[int, ...], affine_a: Any, affine_b: Any) -> float:
    """Largest distance (mm) between corresponding corner voxel centres of two affines."""
    corners = _corners(shape)
    a = corners @ np.asarray(affine_a)[:3, :3].T + np.asarray(affine_a)[:3, 3]
    b = corners @ np.asarray(affine_b)[:3, :3].T + np.asarray(affine_b)[:3, 3]
    return float(np.max(np.linalg.norm(a - b, axis=1)))


def _describe(shape: tuple[int, ...], affine: np.ndarray) -> str:
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    size = " x ".join(str(n) for n in shape)
    voxel = " x ".join(f"{s:.3g}" for s in spacing)
    return f"{size} voxels of {voxel} mm"


def import_label_nifti(
    path: str | os.PathLike[str], expected_affine_lps: Any, expected_shape: tuple[int, ...]
) -> np.ndarray:
    """The labels of a NIfTI mask that lies on the series grid, ``(i, j, k)`` as the series.

    Raises :class:`~workbench.lesions.errors.GridMismatchError` naming the file when its
    shape differs from ``expected_shape`` or any corner voxel lies more than 1e-3 mm from
    where ``expected_affine_lps`` puts it; :class:`LesionMaskError` for values that are not
    a mask (NaN, non-integer, a float mask other than 0/1, negative); ``ImagingError`` for
    an unreadable file.
    """
    from workbench.imaging.nifti import load_nifti

    source = Path(path)
    expected = _matrix(expected_affine_lps, "import_label_nifti: expected_affine_lps")
    want = tuple(int(n) for n in expected_shape)
    volume = load_nifti(source)
    if volume.is_rgb:
        raise LesionMaskError(f"{source}: an RGB image is not a lesion mask")
    have = volume.shape
    if have != want:
        raise GridMismatchError(
            f"{source}: the mask's grid ({_describe(have, volume.affine)}) is not the series "
            f"grid ({_describe(want, expected)}): shapes differ. A mask is never overlaid by "
            "voxel index on another grid; resample it explicitly (resample_labels_to) if it "
            "belongs to this series"
        )
    distance = grid_distance_mm(want, volume.affine, expected)
    if distance > GRID_TOLERANCE_MM:
        raise GridMismatchError(
            f"{source}: the mask has the series' shape {want} but lies elsewhere in space: a "
            f"corner voxel is {distance:.4g} mm from the series' (tolerance "
            f"{GRID_TOLERANCE_MM} mm). Resample it explicitly (resample_labels_to) if it "
            "belongs to this series"
        )
    return mask_values(volume.array, str(source))


def resample_labels_to(
    labels: Any, src_affine: Any, dst_shape: tuple[int, ...], dst_affine: Any
) -> np.ndarray:
    """``labels`` (on the grid ``src_affine``) resampled onto ``dst_shape`` / ``dst_affine``.

    Nearest neighbour through world space: each destination voxel centre takes the label of
    the nearest source voxel centre, or 0 outside the source grid; labels are never blended.
    Both affines map ``(i, j, k)`` to LPS mm. Grids with right-angled axes go through
    SimpleITK's ``Resample`` (15 times faster than numpy here: 33 ms against 500 ms for the
    S17 mask onto a 320 x 320 x 46 FLAIR); a sheared grid (gantry tilt), which an ITK image
    cannot describe, is resampled with numpy. The result keeps the labels' type.
    """
    source = checked_labels(labels, "resample_labels_to")
    src = _matrix(src_affine, "resample_labels_to: src_affine")
    dst = _matrix(dst_affine, "resample_labels_to: dst_affine")
    shape = tuple(int(n) for n in dst_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"resample_labels_to: dst_shape must be three sizes, got {dst_shape}")
    if _is_orthogonal(src) and _is_orthogonal(dst):
        return _resample_sitk(source, src, shape, dst)
    return _resample_numpy(source, src, shape, dst)


def _sitk_image(array: np.ndarray, affine: np.ndarray) -> Any:
    import SimpleITK as sitk

    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    image = sitk.GetImageFromArray(np.ascontiguousarray(array.transpose(2, 1, 0)))
    image.SetSpacing([float(v) for v in spacing])
    image.SetDirection([float(v) for v in (affine[:3, :3] / spacing).ravel()])
    image.SetOrigin([float(v) for v in affine[:3, 3]])
    return image


def _resample_sitk(
    source: np.ndarray, src: np.ndarray, shape: tuple[int, ...], dst: np.ndarray
) -> np.ndarray:
    import SimpleITK as sitk

    reference = sitk.Image([int(n) for n in shape], sitk.sitkUInt8)
    spacing = np.linalg.norm(dst[:3, :3], axis=0)
    reference.SetSpacing([float(v) for v in spacing])
    reference.SetDirection([float(v) for v in (dst[:3, :3] / spacing).ravel()])
    reference.SetOrigin([float(v) for v in dst[:3, 3]])
    resampled = sitk.Resample(
        _sitk_image(source, src), reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0
    )
    result = sitk.GetArrayFromImage(resampled).transpose(2, 1, 0)
    return np.ascontiguousarray(result, dtype=source.dtype)


def _resample_numpy(
    source: np.ndarray,
    src: np.ndarray,
    shape: tuple[int, ...],
    dst: np.ndarray,
    chunk_voxels: int = 1 << 20,
) -> np.ndarray:
    """Nearest neighbour through world space with numpy, for any (also sheared) affines."""
    to_source = np.linalg.inv(src) @ dst
    rotation, offset = to_source[:3, :3], to_source[:3, 3]
    out = np.zeros(shape, dtype=source.dtype)
    ni, nj, nk = shape
    limits = np.array(source.shape) - 1
    step = max(1, chunk_voxels // (ni * nj))
    ii, jj = np.meshgrid(np.arange(ni), np.arange(nj), indexing="ij")
    plane = np.stack([ii.ravel(), jj.ravel()], axis=1).astype(np.float64)
    base = plane @ rotation[:, :2].T + offset
    for k0 in range(0, nk, step):
        ks = np.arange(k0, min(k0 + step, nk), dtype=np.float64)
        points = base[None, :, :] + ks[:, None, None] * rotation[:, 2][None, None, :]
        index = np.rint(points).astype(np.int64)
        inside = np.all((index >= 0) & (index <= limits), axis=2)
        values = np.zeros(inside.shape, dtype=source.dtype)
        hit = index[inside]
        values[inside] = source[hit[:, 0], hit[:, 1], hit[:, 2]]
        # values is (k, i * j) with (i, j) in C order; place it along k.
        out[:, :, k0 : k0 + ks.size] = values.reshape(ks.size, ni, nj).transpose(1, 2, 0)
    return out
