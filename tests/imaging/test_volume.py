"""The Volume type: validation, world/voxel mapping and the NIfTI edge."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from workbench.domain import SequenceClass, SourceKind
from workbench.imaging import ImagingError, SourceIdentity, Volume

IDENTITY = SourceIdentity(kind=SourceKind.NIFTI, content_sha256="0" * 64, paths=("x.nii",))


def _volume(affine: np.ndarray | None = None, **kw: object) -> Volume:
    base = np.array([[0.0, 0, 2, 10], [-1, 0, 0, 20], [0, -1.5, 0, 30], [0, 0, 0, 1]])
    return Volume(
        array=kw.pop("array", np.zeros((4, 5, 6), np.int16)),  # type: ignore[arg-type]
        affine=base if affine is None else affine,
        identity=IDENTITY,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("affine", "message"),
    [
        (np.eye(3), "shape"),
        (np.full((4, 4), np.nan), "non-finite"),
        (np.array([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]]), "last row"),
        (np.diag([1.0, 1, 0, 1]), "singular"),
    ],
)
def test_bad_affines_are_refused(affine: np.ndarray, message: str) -> None:
    with pytest.raises(ImagingError, match=message):
        _volume(affine)


def test_bad_arrays_are_refused() -> None:
    with pytest.raises(ImagingError, match="dimensions"):
        _volume(array=np.zeros((4, 4)))
    with pytest.raises(ImagingError, match="RGB"):
        _volume(array=np.zeros((4, 4, 4)), meta={"photometric": "RGB"})


def test_world_voxel_round_trip_and_spacing() -> None:
    volume = _volume()
    assert volume.spacing == (1.0, 1.5, 2.0)
    ijk = np.array([[0, 0, 0], [3, 4, 5], [1.5, 2.5, 0.5]])
    xyz = volume.voxel_to_world(ijk)
    np.testing.assert_allclose(xyz[0], [10, 20, 30])
    np.testing.assert_allclose(volume.world_to_voxel(xyz), ijk)


def test_frozen_and_replace() -> None:
    volume = _volume()
    with pytest.raises(dataclasses.FrozenInstanceError):
        volume.sequence_class = SequenceClass.T1  # type: ignore[misc]
    changed = dataclasses.replace(volume, sequence_class="FLAIR")  # type: ignore[arg-type]
    assert changed.sequence_class is SequenceClass.FLAIR
    assert not volume.affine.flags.writeable


def test_to_nibabel_is_ras_with_scanner_codes() -> None:
    volume = _volume()
    image = volume.to_nibabel()
    assert int(image.header["sform_code"]) == 1
    assert int(image.header["qform_code"]) == 1
    np.testing.assert_allclose(image.affine, np.diag([-1.0, -1, 1, 1]) @ volume.affine)
    np.testing.assert_allclose(image.get_qform(), image.affine, atol=1e-5)
    assert image.shape == (4, 5, 6)


def test_identity_validates_its_digest() -> None:
    with pytest.raises(ImagingError, match="SHA-256"):
        SourceIdentity(kind=SourceKind.DICOM, content_sha256="abc", paths=())
