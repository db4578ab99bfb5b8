"""DICOM SEG export and import: references, geometry, de-identification, exact round trips."""

from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from adjudication.lesions import Location
from tests.lesions.conftest import PSEUDONYM, SourceSeries, paint, write_source
from workbench.deid.gate import check
from workbench.imaging.dicom import load_dicom
from workbench.lesions.errors import GridMismatchError, LesionMaskError
from workbench.lesions.measure import findings_from_labels, lesion_measurements, measure_mask_file
from workbench.lesions.nifti_io import export_label_nifti
from workbench.lesions.seg_io import (
    SEG_SOP_CLASS_UID,
    export_seg,
    import_seg,
    source_datasets_of,
    source_grid,
)


def _export(series: SourceSeries, tmp_path: Path, name: str = "lesions.dcm") -> Path:
    volume = series.volume
    labels = paint(volume.shape)
    findings = [
        dataclasses.replace(f, location=Location.OCCIPITAL) if f.label == 2 else f
        for f in findings_from_labels(labels, volume)
    ]
    return export_seg(labels, source_datasets_of(volume), findings, tmp_path / name)


@pytest.mark.parametrize("series_fixture", ["axial_series", "oblique_series"])
def test_seg_references_the_source_and_round_trips(
    series_fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    series: SourceSeries = request.getfixturevalue(series_fixture)
    volume = series.volume
    labels = paint(volume.shape)
    path = _export(series, tmp_path)
    ds = pydicom.dcmread(path)
    source = [pydicom.dcmread(p, stop_before_pixels=True) for p in series.paths]
    assert ds.SOPClassUID == SEG_SOP_CLASS_UID
    assert ds.Modality == "SEG"
    assert ds.SegmentationType == "BINARY"
    assert ds.StudyInstanceUID == source[0].StudyInstanceUID
    assert ds.FrameOfReferenceUID == source[0].FrameOfReferenceUID
    assert ds.SeriesInstanceUID != source[0].SeriesInstanceUID
    (referenced_series,) = ds.ReferencedSeriesSequence
    assert referenced_series.SeriesInstanceUID == source[0].SeriesInstanceUID
    assert {
        item.ReferencedSOPInstanceUID for item in referenced_series.ReferencedInstanceSequence
    } == {s.SOPInstanceUID for s in source}
    # Segments: one per label, labelled with the mask's label, lesion codes, MANUAL.
    segments = ds.SegmentSequence
    assert [s.SegmentLabel for s in segments] == ["Lesion 1", "Lesion 2", "Lesion 5"]
    for segment in segments:
        assert segment.SegmentAlgorithmType == "MANUAL"
        assert segment.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
        assert segment.SegmentedPropertyTypeCodeSequence[0].CodeValue == "52988006"
        assert segment.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator == "SCT"
    assert segments[1].AnatomicRegionSequence[0].CodeValue == "31065004"  # occipital lobe
    assert "AnatomicRegionSequence" not in segments[0]
    # Each frame is derived from the source slice at its position.
    by_uid = {s.SOPInstanceUID: s for s in source}
    for frame in ds.PerFrameFunctionalGroupsSequence:
        (derivation,) = frame.DerivationImageSequence
        uid = derivation.SourceImageSequence[0].ReferencedSOPInstanceUID
        position = frame.PlanePositionSequence[0].ImagePositionPatient
        np.testing.assert_allclose(
            [float(v) for v in position],
            [float(v) for v in by_uid[uid].ImagePositionPatient],
            atol=1e-3,
        )
    # highdicom reads it back the same way.
    seg = hd.seg.segread(path)
    assert seg.number_of_segments == 3
    stack = seg.get_pixels_by_source_instance(
        [s.sop_instance_uid for s in source_grid(source).slices], combine_segments=True
    )
    assert np.array_equal(stack.transpose(2, 1, 0) != 0, labels != 0)
    # And import_seg puts every voxel back, from the volume or from the datasets.
    assert np.array_equal(import_seg(path, volume), labels)
    assert np.array_equal(import_seg(path, list(reversed(source))), labels)


def test_source_grid_rebuilds_the_volume_affine(oblique_series: SourceSeries) -> None:
    datasets = source_datasets_of(oblique_series.volume)
    grid = source_grid(list(reversed(datasets)))
    np.testing.assert_allclose(grid.affine, oblique_series.volume.affine, atol=1e-4)
    assert grid.shape == oblique_series.volume.shape


def test_seg_is_deidentified_like_its_source(axial_series: SourceSeries, tmp_path: Path) -> None:
    path = _export(axial_series, tmp_path)
    ds = pydicom.dcmread(path)
    assert str(ds.PatientName) == PSEUDONYM
    assert ds.PatientID == PSEUDONYM
    assert not ds.get("PatientBirthDate")
    assert ds.PatientIdentityRemoved == "YES"
    assert "113100" in {item.CodeValue for item in ds.DeidentificationMethodCodeSequence}
    for keyword in ("InstanceCreationDate", "InstanceCreationTime"):
        assert keyword not in ds
    for item in ds.ContributingEquipmentSequence:
        assert "ContributionDateTime" not in item
    # The source has no dates, so the Type 1 content date is the Annex E dummy.
    assert (ds.ContentDate, ds.ContentTime) == ("19000101", "000000")
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    report = check(path)
    # DeviceSerialNumber is Type 1 in a SEG: it holds a dummy, which the strict gate flags.
    assert [f.keyword for f in report.findings] == ["DeviceSerialNumber"]
    assert ds.DeviceSerialNumber == "0"


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) not installed")
@pytest.mark.parametrize("series_fixture", ["axial_series", "oblique_series"])
def test_dciodvfy_finds_no_error(
    series_fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    path = _export(request.getfixturevalue(series_fixture), tmp_path)
    result = subprocess.run(
        ["dciodvfy", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    lines = (result.stdout + result.stderr).splitlines()
    assert "Segmentation" in lines
    assert [line for line in lines if line.startswith("Error")] == []


def test_seg_and_nifti_exports_measure_the_same(
    oblique_series: SourceSeries, tmp_path: Path
) -> None:
    volume = oblique_series.volume
    labels = paint(volume.shape)
    seg = measure_mask_file(_export(oblique_series, tmp_path))
    nifti = measure_mask_file(export_label_nifti(labels, volume.affine, tmp_path / "l.nii.gz"))
    expected = sum(m.volume_ml for m in lesion_measurements(labels, volume.affine))
    assert seg.kind == nifti.kind == "labels"
    assert seg.total_voxels == nifti.total_voxels == int(np.count_nonzero(labels))
    assert math.isclose(seg.total_ml, expected, rel_tol=1e-6)
    assert math.isclose(nifti.total_ml, expected, rel_tol=1e-6)
    assert [r.label for r in seg.lesions] == [r.label for r in nifti.lesions] == [1, 2, 5]
    for a, b in zip(seg.lesions, nifti.lesions, strict=True):
        np.testing.assert_allclose(a.centroid_ras_mm, b.centroid_ras_mm, atol=1e-3)


def test_seg_without_references_to_our_instances_is_placed_by_position(
    axial_series: SourceSeries, tmp_path: Path
) -> None:
    path = _export(axial_series, tmp_path)
    # The same grid and frame of reference, written again with other instance UIDs.
    copy = write_source(
        tmp_path / "copy",
        tag="copy",
        frame_of_reference_uid=axial_series.volume.identity.frame_of_reference_uid,
    )
    assert copy.volume.identity.series_instance_uid != (
        axial_series.volume.identity.series_instance_uid
    )
    assert np.array_equal(import_seg(path, copy.volume), paint(copy.volume.shape))
    # Shifted by half a voxel: the SEG cannot be placed voxel for voxel.
    shifted = write_source(
        tmp_path / "shifted",
        tag="shifted",
        origin_lps=(-7.6, -11.0, 20.0),
        frame_of_reference_uid=axial_series.volume.identity.frame_of_reference_uid,
    )
    with pytest.raises(GridMismatchError, match="between the source grid's voxel centres"):
        import_seg(path, shifted.volume)


def test_seg_of_another_frame_of_reference_is_refused(
    axial_series: SourceSeries, tmp_path: Path
) -> None:
    path = _export(axial_series, tmp_path)
    other = write_source(tmp_path / "other", tag="other", frame_of_reference_uid="1.2.3.4")
    with pytest.raises(GridMismatchError, match="Frame of Reference"):
        import_seg(path, other.volume)


def test_export_refuses_inconsistent_input(axial_series: SourceSeries, tmp_path: Path) -> None:
    volume = axial_series.volume
    datasets = source_datasets_of(volume)
    labels = paint(volume.shape)
    with pytest.raises(LesionMaskError, match="not the source grid"):
        export_seg(labels[:, :, :5], datasets, [], tmp_path / "a.dcm")
    with pytest.raises(LesionMaskError, match="empty"):
        export_seg(np.zeros_like(labels), datasets, [], tmp_path / "b.dcm")
    findings = findings_from_labels(labels, volume)
    labels[labels == 5] = 0
    with pytest.raises(LesionMaskError, match="finding 5 has no voxels"):
        export_seg(labels, datasets, findings, tmp_path / "c.dcm")
    with pytest.raises(LesionMaskError, match="share a slice position"):
        source_grid(datasets + datasets[:1])


def test_import_refuses_what_is_not_a_seg(axial_series: SourceSeries, tmp_path: Path) -> None:
    with pytest.raises(LesionMaskError, match="not a Segmentation"):
        import_seg(axial_series.paths[0], axial_series.volume)
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom at all")
    with pytest.raises(LesionMaskError, match=r"junk\.dcm: not a readable DICOM file"):
        import_seg(junk, axial_series.volume)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "folder",
    [
        "dcm_qa_xa30/In/11_DWI_dir80_PA",  # enhanced multi-frame, per-frame geometry
        "dcm_qa_xa30/In/5_anat-T1w_acq-tfl",  # enhanced, sagittal
        "dcm_qa_cs_dl/In/Philips/501_T1W_FFE_Sno_CS4",  # classic, 24 files
    ],
)
def test_real_scanner_series_round_trip(shared_data: Path, folder: str, tmp_path: Path) -> None:
    (volume,) = load_dicom(shared_data / folder)
    labels = np.zeros(volume.shape, dtype=np.uint8)
    ni, nj, nk = volume.shape
    labels[ni // 4 : ni // 4 + 5, nj // 3 : nj // 3 + 4, 1:4] = 1
    labels[ni // 2, nj // 2, nk - 1] = 2
    path = export_seg(labels, source_datasets_of(volume), [], tmp_path / "seg.dcm")
    assert np.array_equal(import_seg(path, volume), labels)
    expected = sum(m.volume_ml for m in lesion_measurements(labels, volume.affine))
    assert math.isclose(measure_mask_file(path).total_ml, expected, rel_tol=1e-6)
