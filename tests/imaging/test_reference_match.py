"""The proof: every real scanner series matches dcm2niix's reference NIfTI in world space.

Both sides are reoriented to RAS+ (closest canonical), then must agree on shape, affine
(max |diff| of the 4x4 and of the corner voxel centres, both < 0.5 mm) and voxel values:
identical, except Philips references, which dcm2niix stores as the vendor's "precise"
values (a constant factor away from the displayed RescaleSlope/Intercept values), where
the Pearson correlation must be at least 0.9999. 4D references are matched as 4D; S11's
two references (magnitude, field map) must each match a different volume; S14 (RGB) is
compared channel by channel.
"""

from __future__ import annotations

from typing import Any

import nibabel as nib
import numpy as np
import pytest

from tests.imaging.conftest import canonical, corner_distance, entry_params
from workbench.imaging import load_dicom

pytestmark = pytest.mark.shared_data


def _reference_array(image: nib.Nifti1Image) -> np.ndarray:
    data = np.asanyarray(image.dataobj)
    if data.dtype.names:  # NIfTI RGB24: a structured R, G, B voxel
        data = np.stack([data[name] for name in data.dtype.names], axis=-1)
    return data


def _match(
    volume_array: np.ndarray, volume_ras: np.ndarray, ref: nib.Nifti1Image, philips: bool
) -> dict[str, Any]:
    ours, ours_affine = canonical(volume_array, volume_ras)
    theirs, theirs_affine = canonical(_reference_array(ref), ref.affine)
    result: dict[str, Any] = {"shape": (ours.shape, theirs.shape)}
    if ours.shape != theirs.shape:
        result["ok"] = False
        return result
    result["affine_diff"] = float(np.abs(ours_affine - theirs_affine).max())
    result["corner_diff"] = corner_distance(theirs.shape, ours_affine, theirs_affine)
    a = ours.astype(np.float64).ravel()
    b = theirs.astype(np.float64).ravel()
    result["identical"] = bool(np.array_equal(a, b))
    result["correlation"] = float(np.corrcoef(a, b)[0, 1]) if a.std() and b.std() else 0.0
    values_ok = result["correlation"] >= 0.9999 if philips else result["identical"]
    result["ok"] = bool(values_ok and result["affine_diff"] < 0.5 and result["corner_diff"] < 0.5)
    return result


@pytest.mark.parametrize("entry", entry_params(lambda e: e["dicom_dir"]))
def test_series_matches_dcm2niix_reference(entry: dict[str, Any] | None, shared_data) -> None:
    assert entry is not None
    volumes = load_dicom(shared_data / entry["dicom_dir"])
    references = entry["references"]
    assert len(volumes) == len(references), (
        f"{entry['id']}: {len(volumes)} volumes for {len(references)} references: "
        f"{[(v.shape, v.meta['frame_type']) for v in volumes]}"
    )
    philips = entry["vendor"].lower().startswith("philips")
    used: set[int] = set()
    for reference in references:
        ref: Any = nib.load(shared_data / reference["nifti"])
        results = {
            index: _match(volume.array, volume.ras_affine(), ref, philips)
            for index, volume in enumerate(volumes)
            if index not in used
        }
        matching = [index for index, result in results.items() if result["ok"]]
        assert matching, f"{entry['id']} {reference['nifti']}: no volume matches: {results}"
        used.add(matching[0])
        volume = volumes[matching[0]]
        assert volume.identity.series_instance_uid
        assert len(volume.identity.content_sha256) == 64


@pytest.mark.parametrize(
    "entry", entry_params(lambda e: e["dicom_dir"] and len(e["references"][0]["shape"]) == 4)
)
def test_4d_series_are_never_stacked_as_3d(entry: dict[str, Any] | None, shared_data) -> None:
    assert entry is not None
    (volume,) = load_dicom(shared_data / entry["dicom_dir"])
    assert volume.array.ndim == 4
    assert volume.shape == tuple(entry["references"][0]["shape"]) or sorted(
        volume.shape[:3]
    ) == sorted(entry["references"][0]["shape"][:3])
    assert volume.shape[3] == entry["references"][0]["shape"][3]
