"""The one image type of the workbench: a voxel array with a 4x4 affine in DICOM LPS mm.

``Volume.array`` is indexed ``(i, j, k)`` or ``(i, j, k, t)``: ``i`` runs along a DICOM row
(the column index, direction ``ImageOrientationPatient[:3]``), ``j`` down the columns (the
row index, direction ``ImageOrientationPatient[3:]``) and ``k`` along the slice normal.
RGB volumes (``meta["photometric"] == "RGB"``) carry their three channels as one extra last
axis of ``uint8`` (``(i, j, k, 3)`` or ``(i, j, k, t, 3)``).

The affine maps ``(i, j, k, 1)`` to LPS millimetres. NIfTI's RAS convention is met only at
the edge: :meth:`Volume.ras_affine` and :meth:`Volume.to_nibabel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.domain import SequenceClass, SourceKind
from workbench.imaging.errors import ImagingError

if TYPE_CHECKING:
    import nibabel as nib

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
"""Flip of x and y: DICOM LPS millimetres to NIfTI RAS millimetres (and back: it is its own
inverse)."""

RGB_DTYPE = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])
"""NIfTI RGB24 voxel type (as nibabel and dcm2niix store colour maps)."""


@dataclass(frozen=True, slots=True)
class SourceIdentity:
    """Where a volume came from, so annotations can point at it independent of any viewer.

    ``content_sha256`` is the SHA-256 of the source file's bytes when there is one file;
    for several files it is the SHA-256 of their sorted per-file hex digests (one per line),
    so it does not depend on file names or the order they were listed in.
    """

    kind: SourceKind
    content_sha256: str
    paths: tuple[str, ...]
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    frame_of_reference_uid: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", SourceKind(self.kind))
        object.__setattr__(self, "paths", tuple(str(p) for p in self.paths))
        digest = self.content_sha256
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ImagingError(f"content_sha256: {digest!r} is not a SHA-256 hex digest")


@dataclass(frozen=True, slots=True, eq=False)
class Volume:
    """A 3D or 4D image on a regular grid, placed in the world by an LPS affine.

    ``eq=False``: two volumes are compared through their identity, arrays and affines
    explicitly (``==`` on numpy arrays is element-wise, not a truth value).
    """

    array: np.ndarray
    affine: np.ndarray
    identity: SourceIdentity
    sequence_class: SequenceClass = SequenceClass.OTHER
    sequence_evidence: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        affine = np.array(self.affine, dtype=np.float64)
        where = self.identity.paths[0] if self.identity.paths else "volume"
        if affine.shape != (4, 4):
            raise ImagingError(f"{where}: affine has shape {affine.shape}, expected (4, 4)")
        if not np.all(np.isfinite(affine)):
            raise ImagingError(f"{where}: affine holds non-finite values")
        if not np.allclose(affine[3], [0.0, 0.0, 0.0, 1.0]):
            raise ImagingError(f"{where}: affine's last row is {affine[3]}, not 0 0 0 1")
        if abs(np.linalg.det(affine[:3, :3])) < 1e-9:
            raise ImagingError(f"{where}: affine is singular (zero voxel size or collinear axes)")
        affine.setflags(write=False)
        object.__setattr__(self, "affine", affine)
        array = np.asanyarray(self.array)
        if self.is_rgb:
            if array.ndim not in (4, 5) or array.shape[-1] != 3 or array.dtype != np.uint8:
                raise ImagingError(
                    f"{where}: an RGB volume must be uint8 with a last axis of 3 channels, "
                    f"got {array.dtype} {array.shape}"
                )
        elif array.ndim not in (3, 4):
            raise ImagingError(f"{where}: array has {array.ndim} dimensions, expected 3 or 4")
        if any(n < 1 for n in array.shape):
            raise ImagingError(f"{where}: array shape {array.shape} has an empty axis")
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "sequence_class", SequenceClass(self.sequence_class))

    @property
    def is_rgb(self) -> bool:
        """Whether voxels are RGB triplets (the last array axis holds R, G, B)."""
        return str(self.meta.get("photometric", "")).upper() == "RGB"

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape ``(i, j, k)`` or ``(i, j, k, t)`` (without an RGB channel axis)."""
        shape = tuple(int(n) for n in self.array.shape)
        return shape[:-1] if self.is_rgb else shape

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along i, j, k."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(norms[0]), float(norms[1]), float(norms[2]))

    def ras_affine(self) -> np.ndarray:
        """The affine mapping ``(i, j, k)`` to RAS millimetres (NIfTI's convention)."""
        return LPS_TO_RAS @ self.affine

    def voxel_to_world(self, ijk: np.ndarray) -> np.ndarray:
        """LPS mm of voxel coordinates; ``ijk`` is ``(3,)`` or ``(n, 3)``."""
        points = np.asarray(ijk, dtype=np.float64)
        return points @ self.affine[:3, :3].T + self.affine[:3, 3]

    def world_to_voxel(self, xyz: np.ndarray) -> np.ndarray:
        """Continuous voxel coordinates of LPS mm points; ``xyz`` is ``(3,)`` or ``(n, 3)``."""
        points = np.asarray(xyz, dtype=np.float64)
        inverse = np.linalg.inv(self.affine)
        return points @ inverse[:3, :3].T + inverse[:3, 3]

    def to_nibabel(self) -> nib.Nifti1Image:
        """A NIfTI-1 image with the RAS affine in sform and qform (code 1, scanner).

        RGB volumes become NIfTI RGB24 (a structured ``R, G, B`` voxel type).
        """
        import nibabel as nib

        data = self.array
        if self.is_rgb:
            data = np.ascontiguousarray(data).view(RGB_DTYPE)[..., 0]
        affine = self.ras_affine()
        image = nib.Nifti1Image(data, affine)
        image.set_sform(affine, code=1)
        image.set_qform(affine, code=1)
        image.header.set_xyzt_units("mm", "sec")
        repetition = self.meta.get("repetition_time")
        if len(self.shape) == 4 and isinstance(repetition, int | float) and repetition > 0:
            # The time step of a 4D series is TR, in seconds (as dcm2niix writes it).
            image.header.set_zooms((*image.header.get_zooms()[:3], float(repetition) / 1000))
        description = str(self.meta.get("description") or "")
        if description:
            image.header["descrip"] = description.encode("ascii", "replace")[:79]
        return image
