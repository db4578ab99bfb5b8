"""Sidecar times in BIDS seconds, the phase / field map / scout classes, the GE B0 split.

The JSON sidecar ``convert`` writes uses BIDS key names, so its times are in seconds, as
dcm2niix writes them; inside the workbench (``Volume.meta``, the classifier) they stay in
DICOM's milliseconds, also when read from a NIfTI's BIDS sidecar.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset

from tests.imaging.conftest import entry_params
from workbench.domain import SequenceClass
from workbench.imaging import ImagingError, classify, load_dicom
from workbench.imaging.convert import convert, sidecar
from workbench.imaging.nifti import load_nifti
from workbench.imaging.sidecar_units import from_bids_seconds, to_bids_seconds

# --------------------------------------------------------------------------- sidecar units


def _close(ours: Any, theirs: float) -> bool:
    """Equal within dcm2niix's rounding (it writes about six significant digits)."""
    return ours is not None and abs(float(ours) - theirs) <= max(1e-6, 1e-5 * abs(theirs))


@pytest.mark.shared_data
@pytest.mark.parametrize("entry", entry_params(lambda e: e["dicom_dir"]))
def test_sidecar_times_equal_dcm2niix_seconds(
    entry: dict[str, Any] | None, shared_data: Path
) -> None:
    assert entry is not None
    ours = [sidecar(v) for v in load_dicom(shared_data / entry["dicom_dir"])]
    checked = 0
    for reference in entry["references"]:
        for path in [p for p in reference.get("sidecars", []) if p.endswith(".json")]:
            theirs = json.loads((shared_data / path).read_text(encoding="utf-8"))
            keys = [k for k in ("EchoTime", "RepetitionTime", "InversionTime") if k in theirs]
            if not keys:
                continue
            matching = [s for s in ours if all(_close(s.get(k), theirs[k]) for k in keys)]
            assert matching, (
                f"{entry['id']} {path}: dcm2niix {[(k, theirs[k]) for k in keys]}, "
                f"ours {[[(k, s.get(k)) for k in keys] for s in ours]}"
            )
            checked += 1
    assert checked or not any(
        "EchoTime" in json.loads((shared_data / p).read_text(encoding="utf-8"))
        for r in entry["references"]
        for p in r.get("sidecars", [])
        if p.endswith(".json")
    )


@pytest.mark.shared_data
def test_converted_sidecar_reads_back_in_milliseconds(shared_data: Path, tmp_path: Path) -> None:
    """DICOM ms → sidecar s → NIfTI loader ms: the same numbers at both ends."""
    folder = shared_data / "dcm_qa_xa30/In/20220720_144137/5_anat-T1w_acq-tfl"
    if not folder.is_dir():
        folder = next(p for p in (shared_data / "dcm_qa_xa30/In").rglob("5_anat-T1w*"))
    (volume,) = load_dicom(folder)
    (written,) = convert(folder, tmp_path)
    data = json.loads(written.with_name(written.name.replace(".nii.gz", ".json")).read_text())
    assert data["EchoTime"] == pytest.approx(0.00241)
    assert data["RepetitionTime"] == pytest.approx(1.8)
    assert data["InversionTime"] == pytest.approx(0.9)
    again = load_nifti(written)
    assert again.meta["echo_time"] == pytest.approx(volume.meta["echo_time"]) == 2.41
    assert again.meta["repetition_time"] == pytest.approx(1800.0)
    assert again.meta["inversion_time"] == pytest.approx(900.0)
    assert again.sequence_class is SequenceClass.T1


def _nifti(tmp_path: Path, name: str, side: dict[str, Any] | str | None) -> Path:
    path = tmp_path / f"{name}.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 3), np.int16), np.eye(4)), path)
    if side is not None:
        text = side if isinstance(side, str) else json.dumps(side)
        (tmp_path / f"{name}.json").write_text(text, encoding="utf-8")
    return path


def test_bids_sidecar_seconds_become_milliseconds_for_meta_and_classifier(
    tmp_path: Path,
) -> None:
    # No telling words: only the physics (TR 9 s, TE 0.12 s, TI 2.5 s) says FLAIR, and only
    # when read as 9000 / 120 / 2500 ms.
    path = _nifti(
        tmp_path,
        "sub-01_run-1",
        {"RepetitionTime": 9, "EchoTime": 0.12, "InversionTime": 2.5, "SeriesDescription": "ax"},
    )
    volume = load_nifti(path)
    assert volume.meta["echo_time"] == 120.0
    assert volume.meta["repetition_time"] == 9000.0
    assert volume.meta["inversion_time"] == 2500.0
    assert volume.sequence_class is SequenceClass.FLAIR, volume.sequence_evidence
    assert volume.sequence_evidence["EchoTime"] == 120.0


def test_millisecond_sidecar_is_read_as_ms_with_a_note(tmp_path: Path) -> None:
    """A sidecar written in ms under BIDS names (as this workbench did before) is noticed."""
    path = _nifti(tmp_path, "old", {"EchoTime": 30.0, "RepetitionTime": 3000.0})
    volume = load_nifti(path)
    assert volume.meta["echo_time"] == 30.0
    assert volume.meta["repetition_time"] == 3000.0
    assert any("read as milliseconds" in n and "old.json" in n for n in volume.meta["notes"])


def test_non_numeric_time_is_ignored_with_a_note_naming_file_and_key(tmp_path: Path) -> None:
    path = _nifti(tmp_path, "bad", {"EchoTime": "short", "RepetitionTime": 2.0})
    volume = load_nifti(path)
    assert volume.meta["echo_time"] is None
    assert volume.meta["repetition_time"] == 2000.0
    (note,) = [n for n in volume.meta["notes"] if "EchoTime" in n]
    assert "bad.json" in note
    assert "'short'" in note


def test_unit_helpers() -> None:
    assert to_bids_seconds(2.41) == 0.00241
    assert to_bids_seconds([30.0, 60.0]) == 0.03
    assert to_bids_seconds(None) is None
    assert to_bids_seconds("n/a") is None
    values, notes = from_bids_seconds({"EchoTime": 0.0305, "InversionTime": -1}, "x.json")
    assert values == {"EchoTime": 30.5}
    assert notes == ["x.json: InversionTime -1 ignored, not a non-negative number of seconds"]


# --------------------------------------------------------------------------- classes


def _ds(**values: Any) -> Dataset:
    ds = Dataset()
    for key, value in values.items():
        setattr(ds, key, value)
    return ds


def _ge(ge_type: int, **values: Any) -> Dataset:
    ds = _ds(Manufacturer="GE MEDICAL SYSTEMS", **values)
    ds.private_block(0x0043, "GEMS_PARM_01", create=True).add_new(0x2F, "SS", ge_type)
    return ds


@pytest.mark.parametrize(
    ("headers", "expected", "rule"),
    [
        pytest.param(
            _ds(ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"], SeriesDescription="3-pl T2* FGRE"),
            SequenceClass.SCOUT,
            "LOCALIZER",
            id="scout-image-type",
        ),
        pytest.param(
            _ds(
                ImageType=["ORIGINAL", "PRIMARY", "M", "ND"],
                SeriesDescription="AAHead_Scout_32ch-head-coil",
                RepetitionTime=8.6,
                EchoTime=4.0,
            ),
            SequenceClass.SCOUT,
            "'scout'",
            id="scout-description-siemens",
        ),
        pytest.param(
            _ds(SeriesDescription="Survey_32ch_HeadCoil"),
            SequenceClass.SCOUT,
            "'survey'",
            id="scout-description-philips",
        ),
        pytest.param(
            _ds(ImageType=["ORIGINAL", "PRIMARY", "P", "ND"], SeriesDescription="SWI_Pha"),
            SequenceClass.PHASE,
            "ImageType has P",
            id="phase-image-type",
        ),
        pytest.param(
            _ds(ImageType=["ORIGINAL", "PRIMARY", "PHASE"], RepetitionTime=500, EchoTime=10),
            SequenceClass.PHASE,
            "PHASE",
            id="phase-not-t1",
        ),
        pytest.param(
            _ds(
                ImageType=["ORIGINAL", "PRIMARY", "P", "ND"], SeriesDescription="gre_field_mapping"
            ),
            SequenceClass.FIELD_MAP,
            "field map series",
            id="fieldmap-phase-difference",
        ),
        pytest.param(
            _ds(
                ImageType=["ORIGINAL", "PRIMARY", "M", "ND"], SeriesDescription="gre_field_mapping"
            ),
            SequenceClass.FIELD_MAP_MAGNITUDE,
            "magnitude",
            id="fieldmap-magnitude",
        ),
        pytest.param(
            _ds(ImageType=["ORIGINAL", "PRIMARY", "T1", "FIELD_MAP"], SeriesDescription="B0 NS"),
            SequenceClass.FIELD_MAP,
            "FIELD_MAP",
            id="fieldmap-image-type",
        ),
        pytest.param(
            _ge(1, ImageType=["ORIGINAL", "PRIMARY", "OTHER"], SeriesDescription="B0map"),
            SequenceClass.FIELD_MAP,
            "GE image type 1",
            id="fieldmap-ge-private",
        ),
        pytest.param(
            _ge(0, ImageType=["ORIGINAL", "PRIMARY", "OTHER"], SeriesDescription="B0map"),
            SequenceClass.FIELD_MAP_MAGNITUDE,
            "GE image type 0",
            id="fieldmap-magnitude-ge-private",
        ),
        pytest.param(
            _ge(1, ImageType=["ORIGINAL", "PRIMARY", "OTHER"], SeriesDescription="Ax 3D SPGR"),
            SequenceClass.PHASE,
            "GE image type 1",
            id="phase-ge-private-not-t1",
        ),
        pytest.param(
            _ge(0, ImageType=["ORIGINAL", "PRIMARY", "OTHER"], SeriesDescription="Ax 3D SPGR"),
            SequenceClass.T1,
            "'spgr'",
            id="ge-magnitude-is-its-contrast",
        ),
        pytest.param(
            _ds(SeriesDescription="B1map_tfl", RepetitionTime=5000, EchoTime=2),
            SequenceClass.OTHER,
            "B1 transmit map",
            id="b1-map-is-not-a-b0-field-map",
        ),
    ],
)
def test_new_classes(headers: Dataset, expected: SequenceClass, rule: str) -> None:
    kind, evidence = classify(headers)
    assert kind is expected, evidence
    assert rule in evidence["rule"]


@pytest.mark.shared_data
def test_real_philips_b0_map_is_magnitude_and_field_map(shared_data: Path) -> None:
    """dcm2niix names them ``..._e1`` (magnitude) and ``..._e2_fieldmaphz``."""
    volumes = load_dicom(shared_data / "dcm_qa_enh/In/Philips")
    assert [v.sequence_class for v in volumes] == [
        SequenceClass.FIELD_MAP_MAGNITUDE,
        SequenceClass.FIELD_MAP,
    ]
    reference = json.loads(
        (shared_data / "dcm_qa_enh/Ref/Philips_WIP_B0_NS_801_e2_fieldmaphz.json").read_text()
    )
    assert "FIELDMAPHZ" in reference["ImageType"]
    assert classify(reference)[0] is SequenceClass.FIELD_MAP


@pytest.mark.shared_data
def test_no_real_anatomical_series_became_a_new_class(shared_data: Path) -> None:
    """Every dcm2niix reference sidecar except the field map pair keeps its old class."""
    new = {
        SequenceClass.PHASE,
        SequenceClass.FIELD_MAP,
        SequenceClass.FIELD_MAP_MAGNITUDE,
        SequenceClass.SCOUT,
    }
    for path in sorted(shared_data.glob("*/Ref/*.json")):
        kind, evidence = classify(json.loads(path.read_text(encoding="utf-8")))
        assert (kind in new) == ("B0" in path.name), (path.name, kind, evidence)


# --------------------------------------------------------------------------- GE B0 split


def _ge_b0_series(folder: Path, *, implicit: bool = False, description: str = "B0map") -> None:
    """A GE-like B0 map series: at each of 3 positions a magnitude and a field map (Hz)
    image, interleaved by instance number, ImageType alike; only (0043,102F) differs."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = pydicom.uid.generate_uid()
    instance = 0
    for k in range(3):
        for ge_type in (0, 1):
            instance += 1
            ds = Dataset()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = (
                pydicom.uid.ImplicitVRLittleEndian
                if implicit
                else pydicom.uid.ExplicitVRLittleEndian
            )
            ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.MRImageStorage
            ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
            ds.SOPClassUID = pydicom.uid.MRImageStorage
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
            ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.14"
            ds.SeriesInstanceUID = series_uid
            ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.15"
            ds.Modality = "MR"
            ds.Manufacturer = "GE MEDICAL SYSTEMS"
            ds.SeriesDescription = description
            ds.SeriesNumber = 7
            ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
            ds.ScanningSequence = "GR"
            ds.RepetitionTime = 8.2
            ds.EchoTime = 2.6
            ds.InstanceNumber = instance
            ds.ImagePositionPatient = [0, 0, 4.0 * k]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.PixelSpacing = [2.0, 2.0]
            ds.SliceThickness = 4.0
            ds.Rows, ds.Columns = 4, 4
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
            ds.RescaleSlope, ds.RescaleIntercept = 1, 0
            block = ds.private_block(0x0043, "GEMS_PARM_01", create=True)
            block.add_new(0x2F, "SS", ge_type)
            values = (
                np.full(16, 500 + k, np.int16)
                if ge_type == 0
                else np.arange(-8, 8, dtype=np.int16) * (k + 1)
            )
            ds.PixelData = values.tobytes()
            ds.save_as(
                folder / f"IM{instance:04d}.dcm", enforce_file_format=True, implicit_vr=implicit
            )


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit-vr", "implicit-vr"])
def test_ge_b0_map_splits_into_magnitude_and_field_map(tmp_path: Path, implicit: bool) -> None:
    _ge_b0_series(tmp_path / "b0", implicit=implicit)
    volumes = load_dicom(tmp_path / "b0")
    assert [v.shape for v in volumes] == [(4, 4, 3), (4, 4, 3)]  # two 3D volumes, not one 4D
    magnitude, field_map = volumes
    assert magnitude.sequence_class is SequenceClass.FIELD_MAP_MAGNITUDE
    assert field_map.sequence_class is SequenceClass.FIELD_MAP
    assert magnitude.meta["frame_type"].endswith("\\MAGNITUDE")
    assert field_map.meta["frame_type"].endswith("\\PHASE")
    assert magnitude.sequence_evidence["GEImageType"] == 0
    assert field_map.sequence_evidence["GEImageType"] == 1
    assert np.all(magnitude.array[:, :, 2] == 502)
    assert field_map.array.min() == -24
    assert field_map.array.max() == 21
    assert len(magnitude.identity.paths) == len(field_map.identity.paths) == 3


def test_ge_b0_map_converts_to_two_labelled_files(tmp_path: Path) -> None:
    _ge_b0_series(tmp_path / "b0")
    written = convert(tmp_path / "b0", tmp_path / "out")
    assert [p.name for p in written] == ["7_B0map_MAGNITUDE.nii.gz", "7_B0map_PHASE.nii.gz"]
    classes = [
        json.loads(p.with_name(p.name.replace(".nii.gz", ".json")).read_text())["SequenceClass"]
        for p in written
    ]
    assert classes == ["field map magnitude", "field map"]
    side = json.loads((tmp_path / "out/7_B0map_PHASE.json").read_text())
    assert side["ImageType"] == ["ORIGINAL", "PRIMARY", "OTHER", "PHASE"]
    assert side["EchoTime"] == pytest.approx(0.0026)
    assert side["RepetitionTime"] == pytest.approx(0.0082)


def test_ge_series_with_one_image_type_is_not_split(tmp_path: Path) -> None:
    """Only differing GE image types split a series; a plain GE series stays one volume."""
    _ge_b0_series(tmp_path / "b0", description="Ax 3D SPGR")
    for path in sorted((tmp_path / "b0").iterdir())[1::2]:
        path.unlink()  # keep the magnitude images only
    (volume,) = load_dicom(tmp_path / "b0")
    assert volume.shape == (4, 4, 3)
    assert volume.sequence_class is SequenceClass.T1


def test_ge_b0_map_parts_are_checked_each_on_its_own(tmp_path: Path) -> None:
    """A field map image missing in the middle leaves the magnitude whole; the field map
    keeps its two slices 8 mm apart (one regular step), as dcm2niix would write it."""
    _ge_b0_series(tmp_path / "b0")
    (tmp_path / "b0/IM0004.dcm").unlink()  # the field map image at the second position
    magnitude, field_map = load_dicom(tmp_path / "b0")
    assert magnitude.shape == (4, 4, 3)
    assert field_map.shape == (4, 4, 2)
    assert field_map.spacing[2] == pytest.approx(8.0)


def test_ge_b0_map_with_a_duplicated_image_is_refused_naming_the_files(tmp_path: Path) -> None:
    _ge_b0_series(tmp_path / "b0")
    ds = pydicom.dcmread(tmp_path / "b0/IM0002.dcm")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.InstanceNumber = 2  # same position, same type, same order: a duplicate
    ds.save_as(tmp_path / "b0/IM0099.dcm", enforce_file_format=True)
    with pytest.raises(ImagingError) as caught:
        load_dicom(tmp_path / "b0")
    message = str(caught.value)
    assert "IM0002.dcm" in message
    assert "IM0099.dcm" in message


def test_ge_b0_map_imports_as_two_labelled_series(tmp_path: Path) -> None:
    """The importer's loader gives one record per part, each with its class and checksum
    (the parts come from different files, so each is volume 0 of its own source)."""
    from workbench.importer import _worker_load

    _ge_b0_series(tmp_path / "b0")
    loaded = _worker_load(str(tmp_path / "b0"), str(tmp_path / "cache"))
    assert [v.sequence_class for v in loaded] == [
        SequenceClass.FIELD_MAP_MAGNITUDE,
        SequenceClass.FIELD_MAP,
    ]
    assert len({v.content_sha256 for v in loaded}) == 2
    assert {v.series_instance_uid for v in loaded} == {loaded[0].series_instance_uid}
    assert [v.meta["frame_type"].rsplit("\\", 1)[-1] for v in loaded] == ["MAGNITUDE", "PHASE"]
    assert all(Path(v.cache_path).is_file() and v.shape == (4, 4, 3) for v in loaded)
