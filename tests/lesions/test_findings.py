"""The lesion domain values of ``adjudication.lesions``: validation, vocabularies, changes."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from adjudication.lesions import (
    ContrastEnhancement,
    DwiPattern,
    Hemisphere,
    LesionFeatures,
    LesionFinding,
    LesionMeasurement,
    Location,
    SeriesRef,
    UFibreInvolvement,
    VolumeChange,
    finding_from_dict,
    finding_to_dict,
    total_volume_ml,
    volume_change,
)
from adjudication.vocabulary import TriState

AFFINE = ((0.8, 0.0, 0.0, -10.0), (0.0, 0.9, 0.0, -20.0), (0.0, 0.0, 3.0, 5.0), (0, 0, 0, 1))
SERIES_UID = "1.2.826.0.1.3680043.8.498.1"


def series(**changes: object) -> SeriesRef:
    values: dict[str, object] = {
        "shape": (20, 24, 7),
        "affine": AFFINE,
        "series_instance_uid": SERIES_UID,
        "study_instance_uid": "1.2.3",
        "frame_of_reference_uid": "1.2.4",
    }
    values.update(changes)
    return SeriesRef(**values)  # type: ignore[arg-type]


def measurement(label: int = 1, voxels: int = 40) -> LesionMeasurement:
    return LesionMeasurement(
        label=label,
        voxel_count=voxels,
        volume_ml=voxels * 0.00216,
        centroid_lps=(3.0, -2.0, 10.0),
        bbox_min=(2, 3, 1),
        bbox_max=(5, 7, 2),
    )


def test_vocabularies_are_documented_str_enums() -> None:
    assert Hemisphere("left") is Hemisphere.LEFT
    assert {h.value for h in Hemisphere} == {"left", "right", "midline", "bilateral"}
    assert len(Location) == 10
    assert Location.BRAINSTEM.infratentorial
    assert Location.CEREBELLUM.infratentorial
    assert not Location.FRONTAL.infratentorial
    assert UFibreInvolvement is TriState
    assert {p.value for p in DwiPattern} == {"rim", "diffuse", "none", "not_assessed"}
    assert {c.value for c in ContrastEnhancement} == {
        "none",
        "faint_punctate",
        "rim",
        "not_assessed",
    }
    for enum in (Hemisphere, Location, DwiPattern, ContrastEnhancement):
        assert enum.__doc__


def test_features_default_to_not_assessed_and_coerce_strings() -> None:
    features = LesionFeatures()
    assert all(value == "not_assessed" for value in features.as_dict().values())
    assert features.assessed == ()
    coerced = LesionFeatures(u_fibres="present", dwi_pattern="rim")  # type: ignore[arg-type]
    assert coerced.u_fibres is TriState.PRESENT
    assert coerced.dwi_pattern is DwiPattern.RIM
    assert coerced.assessed == ("u_fibres", "dwi_pattern")
    with pytest.raises(ValueError, match="dwi_pattern: 'ring' is not one of"):
        LesionFeatures(dwi_pattern="ring")  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        features.u_fibres = TriState.PRESENT  # type: ignore[misc]


def test_series_ref_needs_identity_and_a_valid_grid() -> None:
    ref = series()
    assert ref.key == f"dicom:{SERIES_UID}"
    assert math.isclose(ref.voxel_volume_ml, 0.8 * 0.9 * 3.0 / 1000)
    nifti = series(series_instance_uid=None, content_sha256="AB" * 32)
    assert nifti.content_sha256 == "ab" * 32
    assert nifti.key == "sha256:" + "ab" * 32
    with pytest.raises(ValueError, match=r"Series Instance UID .* or the content SHA-256"):
        series(series_instance_uid=None)
    with pytest.raises(ValueError, match="not a DICOM UID"):
        series(series_instance_uid="1.2.03")
    with pytest.raises(ValueError, match="not a SHA-256"):
        series(content_sha256="xyz")
    with pytest.raises(ValueError, match="singular"):
        series(affine=((0, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)))
    with pytest.raises(ValueError, match="last row"):
        series(affine=((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 1, 1)))
    with pytest.raises(ValueError, match="shape"):
        series(shape=(20, 0, 7))


def test_series_ref_grid_comparison() -> None:
    ref = series()
    assert ref.same_grid(series(series_instance_uid="1.2.5"))
    moved = series(affine=(AFFINE[0], AFFINE[1], (0.0, 0.0, 3.0, 5.002), AFFINE[3]))
    assert not ref.same_grid(moved)
    assert math.isclose(ref.grid_distance_mm(moved), 0.002, rel_tol=1e-6)
    assert ref.grid_distance_mm(series(shape=(20, 24, 8))) == math.inf
    assert ref.same_series(moved)
    assert not ref.same_series(series(series_instance_uid="1.2.5"))


def test_measurement_invariants() -> None:
    m = measurement()
    assert m.centroid_ras == (-3.0, 2.0, 10.0)
    with pytest.raises(ValueError, match="label: must be at least 1"):
        measurement(label=0)
    with pytest.raises(ValueError, match="cannot fit in the bounding box"):
        measurement(voxels=41)
    with pytest.raises(ValueError, match="bbox_min"):
        dataclasses.replace(m, bbox_min=(6, 3, 1))
    with pytest.raises(ValueError, match="finite"):
        dataclasses.replace(m, centroid_lps=(math.nan, 0.0, 0.0))


def test_finding_keeps_readers_choice_beside_the_suggestion() -> None:
    finding = LesionFinding(
        label=1,
        series=series(),
        measurement=measurement(),
        hemisphere="right",  # type: ignore[arg-type]
        suggested_hemisphere=Hemisphere.LEFT,
        suggested_location=Location.FRONTAL,
        features=LesionFeatures(u_fibres=TriState.PRESENT),
    )
    assert finding.hemisphere is Hemisphere.RIGHT
    assert finding.effective_hemisphere is Hemisphere.RIGHT
    assert finding.effective_location is Location.FRONTAL
    assert finding.overrides_suggestion
    assert not dataclasses.replace(finding, hemisphere=Hemisphere.LEFT).overrides_suggestion
    with pytest.raises(ValueError, match="label 2 but its measurement is of label 1"):
        dataclasses.replace(finding, label=2)
    with pytest.raises(ValueError, match="outside the series grid"):
        dataclasses.replace(finding, series=series(shape=(5, 24, 7)))
    with pytest.raises(ValueError, match="location: 'lobe' is not one of"):
        dataclasses.replace(finding, location="lobe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most"):
        dataclasses.replace(finding, note="x" * 5000)


def test_finding_round_trips_through_json() -> None:
    finding = LesionFinding(
        label=3,
        series=series(),
        measurement=measurement(label=3),
        location=Location.PARIETAL,
        suggested_hemisphere=Hemisphere.LEFT,
        features=LesionFeatures(
            dwi_pattern=DwiPattern.RIM, contrast_enhancement=ContrastEnhancement.FAINT_PUNCTATE
        ),
        note="scalloped U-fibre border",
    )
    data = json.loads(json.dumps(finding_to_dict(finding)))
    assert finding_from_dict(data) == finding
    data["features"]["colour"] = "blue"
    with pytest.raises(ValueError, match="unknown lesion features: colour"):
        finding_from_dict(data)
    del data["measurement"]
    with pytest.raises(ValueError, match="missing field 'measurement'"):
        finding_from_dict(data)


def test_volume_change() -> None:
    change = volume_change(2.0, 3.0)
    assert change == VolumeChange(2.0, 3.0, 1.0, 50.0)
    shrink = volume_change(measurement(voxels=40), measurement(voxels=10))
    assert math.isclose(shrink.absolute_ml, -30 * 0.00216)
    assert shrink.relative_percent is not None
    assert math.isclose(shrink.relative_percent, -75.0)
    new = volume_change(0, 1.5)
    assert new.relative_percent is None
    assert new.absolute_ml == 1.5
    with pytest.raises(ValueError, match="negative"):
        volume_change(-1.0, 1.0)
    with pytest.raises(ValueError, match="absolute_ml must equal"):
        VolumeChange(1.0, 2.0, 3.0, 100.0)
    assert math.isclose(total_volume_ml([measurement(voxels=40), measurement(voxels=10)]), 0.108)
