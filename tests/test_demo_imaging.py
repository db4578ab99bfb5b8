"""The synthetic demo imaging: phantom anatomy, PML-like lesions, contrasts, DICOM series."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from adjudication.lesions import Hemisphere
from workbench.demo.dicom_series import (
    DEIDENTIFICATION_METHOD,
    MANUFACTURER,
    MR_IMAGE_STORAGE,
    SeriesGeometry,
    new_uid,
    series_geometry,
    write_series,
)
from workbench.demo.phantom import (
    SIDES,
    SYNTHESIZED_SEQUENCES,
    Anatomy,
    Lesion,
    LesionMaps,
    Lobe,
    Tissue,
    grown,
    make_anatomy,
    place_lesion,
    random_lesions,
    render_lesions,
    synthesize,
)
from workbench.domain import SequenceClass

PSEUDONYM = "PML-DEMO-0042"


@pytest.fixture(scope="module")
def anatomy() -> Anatomy:
    return make_anatomy(seed=11)


@pytest.fixture(scope="module")
def case(anatomy: Anatomy) -> tuple[tuple[Lesion, ...], LesionMaps]:
    lesions = random_lesions(anatomy, seed=11, count=3)
    return lesions, render_lesions(anatomy, lesions)


def _dilate_in_plane(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    out[:, :, 1:] |= mask[:, :, :-1]
    out[:, :, :-1] |= mask[:, :, 1:]
    return out


def _erode_in_plane(mask: np.ndarray) -> np.ndarray:
    return ~_dilate_in_plane(~mask)


# --- anatomy ---------------------------------------------------------------------------------


def test_anatomy_is_deterministic_per_seed_and_differs_across_seeds() -> None:
    first = make_anatomy(seed=5)
    again = make_anatomy(seed=5)
    other = make_anatomy(seed=6)
    assert np.array_equal(first.labels, again.labels)
    assert np.array_equal(first.cerebral_depth_mm, again.cerebral_depth_mm)
    assert not np.array_equal(first.labels, other.labels)
    assert np.mean(first.labels != other.labels) > 0.01


def test_anatomy_has_the_layers_of_a_head(anatomy: Anatomy) -> None:
    labels = anatomy.labels
    assert labels.shape == (40, 128, 128)
    assert labels.dtype == np.uint8
    assert set(np.unique(labels)) == {int(t) for t in Tissue}
    brain = np.isin(labels, [Tissue.GREY_MATTER, Tissue.WHITE_MATTER, Tissue.DEEP_GREY])
    grey = np.count_nonzero(labels == Tissue.GREY_MATTER)
    white = np.count_nonzero(labels == Tissue.WHITE_MATTER)
    assert 0.5 < grey / white < 1.5
    assert 1.0 < np.count_nonzero(brain) * np.prod(anatomy.spacing_mm) / 1e6 < 1.8  # litres
    # Along the middle row of a mid slice, from the left edge inwards: background, scalp,
    # skull, CSF, then grey matter before any white matter.
    row = labels[22, 64, :64]
    order = [int(v) for i, v in enumerate(row) if i == 0 or v != row[i - 1]]
    assert order[:4] == [Tissue.BACKGROUND, Tissue.SCALP, Tissue.SKULL, Tissue.CSF]
    assert order.index(Tissue.GREY_MATTER) < order.index(Tissue.WHITE_MATTER)
    # Lateral ventricles: CSF deep inside the cerebrum, on both sides of the midline.
    deep_csf = (labels == Tissue.CSF) & (anatomy.cerebral_depth_mm > 20)
    _, _, columns = np.nonzero(deep_csf)
    assert np.count_nonzero(columns < 63) > 50
    assert np.count_nonzero(columns > 64) > 50


def test_anatomy_is_read_only_and_validated(anatomy: Anatomy) -> None:
    with pytest.raises(ValueError, match="read-only"):
        anatomy.labels[0, 0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        anatomy.seed = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="uint8"):
        dataclasses.replace(anatomy, labels=anatomy.labels.astype(np.int16))
    with pytest.raises(ValueError, match="seed"):
        make_anatomy(seed=-1)


def test_anatomy_geometry_is_centred(anatomy: Anatomy) -> None:
    affine = anatomy.affine_lps
    centre = affine @ np.array([63.5, 63.5, 19.5, 1.0])
    assert np.allclose(centre[:3], 0.0)
    assert np.allclose(np.diag(affine)[:3], (1.8, 1.8, 4.0))
    assert anatomy.point_mm((0, 0, 0)) == pytest.approx(anatomy.origin_lps)


def test_other_grids_work() -> None:
    coarse = make_anatomy((20, 64, 64), (8.0, 3.6, 3.6), seed=2)
    assert coarse.shape == (20, 64, 64)
    assert np.count_nonzero(coarse.labels == Tissue.WHITE_MATTER) > 1000
    volume = synthesize(coarse, None, "T2", seed=1)
    assert volume.shape == (20, 64, 64)


# --- lesions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_lesions_lie_in_white_matter_and_reach_the_u_fibres(seed: int) -> None:
    anatomy = make_anatomy(seed=seed)
    lesions = random_lesions(anatomy, seed=seed)
    maps = render_lesions(anatomy, [grown(lesion, 90) for lesion in lesions])
    assert maps.mask.any()
    assert np.all(anatomy.labels[maps.mask] == Tissue.WHITE_MATTER)
    # Subcortical: the largest lesion touches the cortex (U-fibres) somewhere.
    first = maps.labels == 1
    grey = anatomy.labels == Tissue.GREY_MATTER
    assert np.any(first & _dilate_in_plane(grey))
    assert np.all(maps.rim <= maps.mask)


def test_lesions_are_asymmetric(
    anatomy: Anatomy, case: tuple[tuple[Lesion, ...], LesionMaps]
) -> None:
    lesions, maps = case
    left_of_midline = np.zeros(anatomy.shape, bool)
    left_of_midline[:, :, 64:] = True  # LPS: the patient's left is +x, higher column index
    left = np.count_nonzero(maps.mask & left_of_midline)
    right = np.count_nonzero(maps.mask & ~left_of_midline)
    assert max(left, right) > 1.5 * min(left, right)
    assert {lesion.hemisphere for lesion in lesions} <= set(SIDES)
    assert all(isinstance(lesion.lobe, Lobe) for lesion in lesions)


def test_lesions_are_deterministic(anatomy: Anatomy) -> None:
    assert random_lesions(anatomy, seed=4) == random_lesions(anatomy, seed=4)
    assert random_lesions(anatomy, seed=4) != random_lesions(anatomy, seed=5)
    a = render_lesions(anatomy, random_lesions(anatomy, seed=4))
    b = render_lesions(anatomy, random_lesions(anatomy, seed=4))
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.rim, b.rim)


def test_lesion_grows_between_timepoints(anatomy: Anatomy, case) -> None:
    lesions, maps = case
    later = render_lesions(anatomy, [grown(lesion, 60) for lesion in lesions])
    assert later.volume_ml > maps.volume_ml * 1.3
    # Without satellites (which move out with the radii) the later lesion contains the earlier.
    solid = [dataclasses.replace(lesion, satellites=0) for lesion in lesions]
    before = render_lesions(anatomy, solid).mask
    after = render_lesions(anatomy, [grown(lesion, 60) for lesion in solid]).mask
    assert np.all(before <= after)
    assert np.count_nonzero(after) > np.count_nonzero(before)


def test_grown_scales_radii_by_the_growth_factor() -> None:
    lesion = Lesion((0, 0, 0), (10, 8, 6), Hemisphere.LEFT, Lobe.FRONTAL, growth_per_30_days=1.5)
    assert grown(lesion, 30).radii_mm == pytest.approx((15.0, 12.0, 9.0))
    assert grown(lesion, 60).radii_mm == pytest.approx((22.5, 18.0, 13.5))
    assert grown(lesion, 0) == lesion
    assert lesion.hemisphere is Hemisphere.LEFT
    assert lesion.lobe is Lobe.FRONTAL


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"radii_mm": (10, -1, 5)}, "radii_mm"),
        ({"radii_mm": (10, 5)}, "radii_mm"),
        ({"centre_mm": (0, float("nan"), 0)}, "centre_mm"),
        ({"growth_per_30_days": 0.0}, "growth"),
        ({"satellites": -1}, "satellites"),
        ({"irregularity": 0.7}, "irregularity"),
        ({"hemisphere": "middle"}, "middle"),
        ({"hemisphere": "midline"}, "left or right"),
    ],
)
def test_lesion_is_validated(change: dict[str, object], message: str) -> None:
    lesion = Lesion((0, 0, 0), (10, 8, 6), Hemisphere.RIGHT, Lobe.PARIETAL)
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(lesion, **change)  # type: ignore[arg-type]


@pytest.mark.parametrize("hemisphere", SIDES)
@pytest.mark.parametrize("lobe", list(Lobe))
def test_place_lesion_puts_it_where_the_words_say(
    anatomy: Anatomy, hemisphere: Hemisphere, lobe: Lobe
) -> None:
    lesion = place_lesion(anatomy, hemisphere.value, lobe.value, 9.0, seed=2, satellites=2)
    assert (lesion.hemisphere, lesion.lobe, lesion.satellites) == (hemisphere, lobe, 2)
    assert lesion == place_lesion(anatomy, hemisphere, lobe, 9.0, seed=2, satellites=2)
    maps = render_lesions(anatomy, [lesion])
    assert maps.volume_ml > 0.2
    assert np.all(anatomy.labels[maps.mask] == Tissue.WHITE_MATTER)
    _, _, columns = np.nonzero(maps.mask)
    on_left = columns.mean() > (anatomy.shape[2] - 1) / 2  # LPS: left is +x, high columns
    assert on_left == (hemisphere is Hemisphere.LEFT)
    below = anatomy.cerebral_depth_mm[maps.mask] < 0
    assert below.all() if lobe is Lobe.INFRATENTORIAL else not below.any()


def test_satellites_are_punctate_foci_near_the_lesion(anatomy: Anatomy) -> None:
    wm = np.argwhere(anatomy.cerebral_depth_mm > 25)
    k, j, i = (int(v) for v in wm[len(wm) // 2])
    centre = anatomy.point_mm((k, j, i))
    plain = Lesion(centre, (8, 8, 8), Hemisphere.LEFT, Lobe.PARIETAL, shape_seed=3)
    starry = dataclasses.replace(plain, satellites=6)
    extra = render_lesions(anatomy, [starry]).mask & ~render_lesions(anatomy, [plain]).mask
    assert 0 < np.count_nonzero(extra) <= 6 * 12


# --- contrasts -------------------------------------------------------------------------------


def _means(anatomy: Anatomy, maps: LesionMaps, sequence: SequenceClass) -> dict[str, float]:
    volume = synthesize(anatomy, maps, sequence, seed=2).astype(float)
    labels = anatomy.labels
    interior = {
        "wm": _erode_in_plane((labels == Tissue.WHITE_MATTER) & ~_dilate_in_plane(maps.mask)),
        "gm": labels == Tissue.GREY_MATTER,
        "csf": _erode_in_plane(labels == Tissue.CSF),
        "lesion": maps.mask,
        "core": _erode_in_plane(maps.core),
        "rim": maps.rim,
    }
    return {name: float(volume[mask].mean()) for name, mask in interior.items()}


def test_contrast_ordering_per_sequence(anatomy: Anatomy, case) -> None:
    _, maps = case
    flair = _means(anatomy, maps, SequenceClass.FLAIR)
    assert flair["lesion"] > 1.5 * flair["wm"]
    assert flair["gm"] > flair["wm"] > flair["csf"]
    t1 = _means(anatomy, maps, SequenceClass.T1)
    assert t1["wm"] > t1["gm"] > t1["lesion"] > t1["csf"]
    t2 = _means(anatomy, maps, SequenceClass.T2)
    assert t2["csf"] > t2["gm"] > t2["wm"]
    assert t2["lesion"] > 1.5 * t2["wm"]
    dwi = _means(anatomy, maps, SequenceClass.DWI)
    assert dwi["rim"] > dwi["core"]
    assert dwi["rim"] > 1.3 * dwi["wm"]
    adc = _means(anatomy, maps, SequenceClass.ADC)
    assert adc["core"] > 1.5 * adc["wm"]
    assert adc["rim"] < adc["wm"]
    assert adc["csf"] > adc["core"]


def test_enhancing_lesion_shows_on_t1_gd_only(anatomy: Anatomy, case) -> None:
    lesions, _ = case
    enhancing = [dataclasses.replace(lesions[0], enhancing=True)]
    maps = render_lesions(anatomy, enhancing)
    assert maps.enhancing.any()
    t1 = synthesize(anatomy, maps, "T1", seed=1).astype(float)
    gd = synthesize(anatomy, maps, "T1+Gd", seed=1).astype(float)
    assert gd[maps.enhancing].mean() > 1.5 * t1[maps.enhancing].mean()
    quiet = render_lesions(anatomy, [dataclasses.replace(lesions[0], enhancing=False)])
    assert not quiet.enhancing.any()


@pytest.mark.parametrize("sequence", SYNTHESIZED_SEQUENCES)
def test_synthesis_is_deterministic_and_in_range(anatomy: Anatomy, case, sequence) -> None:
    _, maps = case
    volume = synthesize(anatomy, maps, sequence, seed=3)
    assert volume.dtype == np.int16
    assert volume.shape == anatomy.shape
    assert np.array_equal(volume, synthesize(anatomy, maps, sequence, seed=3))
    assert not np.array_equal(volume, synthesize(anatomy, maps, sequence, seed=4))
    assert volume.min() >= 0
    top = 4000 if sequence is SequenceClass.ADC else 2600
    assert volume.max() < top
    assert volume[anatomy.labels == Tissue.BACKGROUND].mean() < 0.1 * volume.max()


def test_synthesize_accepts_a_plain_mask_and_no_lesions(anatomy: Anatomy, case) -> None:
    _, maps = case
    from_mask = synthesize(anatomy, maps.mask, "FLAIR", seed=1)
    normal = synthesize(anatomy, None, "FLAIR", seed=1)
    assert from_mask[maps.mask].mean() > 1.5 * normal[maps.mask].mean()
    rim_only = LesionMaps.from_mask(maps.mask, anatomy.spacing_mm)
    assert rim_only.rim.any()
    assert rim_only.core.any()


def test_synthesize_refuses_what_it_cannot_make(anatomy: Anatomy) -> None:
    with pytest.raises(ValueError, match="SWI"):
        synthesize(anatomy, None, SequenceClass.SWI)
    with pytest.raises(ValueError, match="grids"):
        synthesize(anatomy, LesionMaps.empty((2, 2, 2), anatomy.spacing_mm), "T1")


# --- DICOM series ----------------------------------------------------------------------------


OBLIQUE_ROW = (np.cos(0.3), np.sin(0.3), 0.0)
OBLIQUE_COLUMN = tuple(
    np.array((-np.sin(0.3) * np.cos(0.4), np.cos(0.3) * np.cos(0.4), -np.sin(0.4)))
)


def _small_volume() -> np.ndarray:
    rng = np.random.default_rng(7)
    # Rows differ from columns so that a swapped order shows; negative values test signedness.
    return rng.integers(-300, 2000, size=(5, 12, 16)).astype(np.int16)


def _write(
    out: Path,
    volume: np.ndarray,
    *,
    sequence: str = "FLAIR",
    row: tuple[float, ...] = (1.0, 0.0, 0.0),
    column: tuple[float, ...] = (0.0, 1.0, 0.0),
    **kwargs: object,
) -> list[Path]:
    return write_series(
        volume,
        out,
        spacing_mm=(0.9, 1.1, 3.0),
        origin_lps=(-10.0, 20.5, -33.25),
        row_direction=row,
        column_direction=column,
        study_instance_uid=new_uid("test", "study"),
        series_instance_uid=new_uid("test", "series", sequence, str(out)),
        frame_of_reference_uid=new_uid("test", "frame"),
        series_number=4,
        sequence=sequence,
        patient_pseudonym=PSEUDONYM,
        study_description="day 0",
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("row", "column"),
    [((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)), (OBLIQUE_ROW, OBLIQUE_COLUMN)],
    ids=["axial", "oblique"],
)
def test_series_geometry_tags_and_pixels_round_trip(tmp_path: Path, row, column) -> None:
    volume = _small_volume()
    paths = _write(tmp_path, volume, row=row, column=column)
    assert [p.name for p in paths] == [f"IM{k:04d}.dcm" for k in range(1, 6)]
    datasets = [pydicom.dcmread(p) for p in paths]
    normal = np.cross(row, column)
    first = np.array([float(v) for v in datasets[0].ImagePositionPatient])
    assert first == pytest.approx((-10.0, 20.5, -33.25), abs=1e-6)
    for k, ds in enumerate(datasets):
        position = np.array([float(v) for v in ds.ImagePositionPatient])
        assert position == pytest.approx(first + k * 3.0 * normal, abs=1e-4)
        assert [float(v) for v in ds.ImageOrientationPatient] == pytest.approx(
            [*row, *column], abs=1e-9
        )
        assert [float(v) for v in ds.PixelSpacing] == [0.9, 1.1]
        assert float(ds.SliceThickness) == 3.0
        assert float(ds.SpacingBetweenSlices) == 3.0
        assert (ds.Rows, ds.Columns) == (12, 16)
        assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (
            16,
            16,
            15,
            1,
        )
        assert ds.InstanceNumber == k + 1
        assert (float(ds.RescaleSlope), float(ds.RescaleIntercept)) == (1.0, 0.0)
        assert np.array_equal(ds.pixel_array, volume[k])
    assert len({ds.SOPInstanceUID for ds in datasets}) == 5
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 1


def test_series_geometry_affine_maps_voxels_to_positions() -> None:
    geometry = series_geometry(
        (5, 12, 16),
        spacing_mm=(0.9, 1.1, 3.0),
        origin_lps=(1.0, 2.0, 3.0),
        row_direction=OBLIQUE_ROW,
        column_direction=OBLIQUE_COLUMN,
    )
    affine = geometry.affine
    # Voxel (i=column 1, j=row 0, k=0) is one column spacing along the row direction.
    assert affine @ [1, 0, 0, 1] == pytest.approx(
        [*(np.add((1, 2, 3), np.multiply(OBLIQUE_ROW, 1.1))), 1]
    )
    assert affine @ [0, 1, 0, 1] == pytest.approx(
        [*(np.add((1, 2, 3), np.multiply(OBLIQUE_COLUMN, 0.9))), 1]
    )
    assert affine[:3, 3] @ [1, 1, 1] == pytest.approx(6.0)
    assert affine @ [0, 0, 2, 1] == pytest.approx([*geometry.slice_position(2), 1])
    assert np.linalg.det(affine[:3, :3]) == pytest.approx(0.9 * 1.1 * 3.0)


def test_series_geometry_refuses_bad_directions() -> None:
    with pytest.raises(ValueError, match="right angles"):
        SeriesGeometry((2, 2, 2), 1.0, 1.0, 1.0, (0, 0, 0), (1, 0, 0), (0.6, 0.8, 0))
    with pytest.raises(ValueError, match="unit"):
        SeriesGeometry((2, 2, 2), 1.0, 1.0, 1.0, (0, 0, 0), (2, 0, 0), (0, 1, 0))
    with pytest.raises(ValueError, match="spacings"):
        SeriesGeometry((2, 2, 2), 0.0, 1.0, 1.0, (0, 0, 0))


def test_series_is_deidentified_by_construction(tmp_path: Path) -> None:
    paths = _write(tmp_path, _small_volume(), patient_sex="F")
    for path in paths:
        raw = path.read_bytes()
        assert raw[128:132] == b"DICM"
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.file_meta.MediaStorageSOPClassUID == MR_IMAGE_STORAGE
        assert ds.SOPClassUID == MR_IMAGE_STORAGE
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.PatientIdentityRemoved == "YES"
        assert re.fullmatch(r"^PML-[A-Z0-9-]+$", str(ds.PatientName))
        assert ds.PatientName == PSEUDONYM
        assert ds.PatientID == PSEUDONYM
        assert ds.PatientSex == "F"
        assert ds.DeidentificationMethod == DEIDENTIFICATION_METHOD
        codes = {
            (item.CodeValue, item.CodingSchemeDesignator)
            for item in ds.DeidentificationMethodCodeSequence
        }
        assert ("113100", "DCM") in codes
        assert ("113108", "DCM") in codes  # the sex was kept
        assert ds.Manufacturer == MANUFACTURER
        assert ds.BurnedInAnnotation == "NO"
        assert not any(element.tag.is_private for element in ds.iterall())
        # Present-but-empty Type 2 attributes, and nothing that names a place or a person.
        for keyword in ("PatientBirthDate", "ReferringPhysicianName", "AccessionNumber", "StudyID"):
            assert keyword in ds
            assert ds[keyword].value in ("", None)
        for keyword in (
            "InstitutionName",
            "InstitutionAddress",
            "StationName",
            "DeviceSerialNumber",
            "OperatorsName",
            "PerformingPhysicianName",
            "OtherPatientIDs",
            "PatientAddress",
            "SeriesDate",
            "AcquisitionDate",
            "ContentDate",
            "AcquisitionDateTime",
            "InstanceCreationDate",
        ):
            assert keyword not in ds
        dated = [
            e for e in ds.iterall() if e.VR in ("DA", "DT", "TM") and e.value not in ("", None)
        ]
        assert dated == []


def test_series_without_sex_claims_no_retained_characteristics(tmp_path: Path) -> None:
    ds = pydicom.dcmread(_write(tmp_path, _small_volume())[0])
    assert ds.PatientSex == ""
    assert "113108" not in {item.CodeValue for item in ds.DeidentificationMethodCodeSequence}


@pytest.mark.parametrize("pseudonym", ["Doe^John", "PML-abc", "pml-0001", "PML-"])
def test_write_series_refuses_a_name_that_is_not_a_pseudonym(
    tmp_path: Path, pseudonym: str
) -> None:
    with pytest.raises(ValueError, match="pseudonym"):
        write_series(
            _small_volume(),
            tmp_path,
            spacing_mm=(1, 1, 1),
            origin_lps=(0, 0, 0),
            study_instance_uid=new_uid(),
            series_instance_uid=new_uid(),
            frame_of_reference_uid=new_uid(),
            series_number=1,
            sequence="T1",
            patient_pseudonym=pseudonym,
        )
    assert list(tmp_path.iterdir()) == []


def test_write_series_refuses_a_float_volume(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="int16"):
        _write(tmp_path, _small_volume().astype(np.float32))


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        ("FLAIR", {"RepetitionTime": 9000, "EchoTime": 120, "InversionTime": 2500}),
        ("T2", {"RepetitionTime": 4000, "EchoTime": 100}),
        ("T1", {"RepetitionTime": 600, "EchoTime": 10}),
        ("T1+Gd", {"RepetitionTime": 600, "EchoTime": 10, "ContrastBolusAgent": "gadobutrol"}),
        ("DWI", {"DiffusionBValue": 1000}),
        ("ADC", {}),
    ],
)
def test_sequence_headers_name_the_sequence(tmp_path: Path, sequence: str, expected) -> None:
    ds = pydicom.dcmread(_write(tmp_path, _small_volume(), sequence=sequence)[0])
    assert ds.Modality == "MR"
    for keyword, value in expected.items():
        actual = ds[keyword].value
        assert (float(actual) if isinstance(value, int) else actual) == value
    scanning = list(ds.ScanningSequence) if ds["ScanningSequence"].VM > 1 else [ds.ScanningSequence]
    image_type = list(ds.ImageType)
    if sequence == "FLAIR":
        assert "IR" in scanning
        assert ds.SeriesDescription == "AX FLAIR"
    if sequence in ("DWI", "ADC"):
        assert scanning == ["EP"]
        assert image_type[2] == "DIFFUSION"
    if sequence == "DWI":
        assert image_type[:2] == ["ORIGINAL", "PRIMARY"]
        assert image_type[3] == "TRACEW"
    if sequence == "ADC":
        assert image_type == ["DERIVED", "PRIMARY", "DIFFUSION", "ADC"]
        assert "DiffusionBValue" not in ds
    if sequence in ("T1", "T2", "FLAIR"):
        assert "ContrastBolusAgent" not in ds
    assert ds.ProtocolName == ds.SeriesDescription
    assert float(ds.WindowWidth) > 0


@pytest.mark.parametrize(
    ("row", "column"),
    [((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)), (OBLIQUE_ROW, OBLIQUE_COLUMN)],
    ids=["axial", "oblique"],
)
def test_simpleitk_reads_what_was_written(tmp_path: Path, row, column) -> None:
    sitk = pytest.importorskip("SimpleITK")
    volume = _small_volume()
    _write(tmp_path, volume, row=row, column=column)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path)))
    image = reader.Execute()
    geometry = series_geometry(
        volume.shape,
        spacing_mm=(0.9, 1.1, 3.0),
        origin_lps=(-10.0, 20.5, -33.25),
        row_direction=row,
        column_direction=column,
    )
    assert image.GetSize() == (16, 12, 5)
    assert image.GetSpacing() == pytest.approx((1.1, 0.9, 3.0), abs=1e-6)
    assert image.GetOrigin() == pytest.approx((-10.0, 20.5, -33.25), abs=1e-6)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    assert direction == pytest.approx(geometry.affine[:3, :3] / [1.1, 0.9, 3.0], abs=1e-6)
    for index in [(0, 0, 0), (15, 0, 0), (0, 11, 0), (3, 7, 4)]:
        expected = geometry.affine @ [*index, 1]
        assert image.TransformIndexToPhysicalPoint(index) == pytest.approx(expected[:3], abs=1e-4)
    array = sitk.GetArrayFromImage(image)
    assert array.dtype == np.int16
    assert np.array_equal(array, volume)


def test_phantom_volume_round_trips_through_dicom(tmp_path: Path, anatomy: Anatomy, case) -> None:
    _, maps = case
    volume = synthesize(anatomy, maps, "DWI", seed=1)
    sz, sy, sx = anatomy.spacing_mm
    paths = write_series(
        volume,
        tmp_path,
        spacing_mm=(sy, sx, sz),
        origin_lps=anatomy.origin_lps,
        study_instance_uid=new_uid(),
        series_instance_uid=new_uid(),
        frame_of_reference_uid=new_uid(),
        series_number=5,
        sequence="DWI",
        patient_pseudonym=PSEUDONYM,
    )
    assert len(paths) == anatomy.shape[0]
    read = np.stack([pydicom.dcmread(p).pixel_array for p in paths])
    assert np.array_equal(read, volume)
    geometry = series_geometry(volume.shape, spacing_mm=(sy, sx, sz), origin_lps=anatomy.origin_lps)
    assert np.allclose(geometry.affine, anatomy.affine_lps)


def test_new_uid_is_repeatable_with_entropy() -> None:
    assert new_uid("a", "b") == new_uid("a", "b")
    assert new_uid("a", "b") != new_uid("a", "c")
    assert new_uid() != new_uid()
    assert len(new_uid()) <= 64
