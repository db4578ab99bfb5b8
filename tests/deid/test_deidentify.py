"""``deidentify``: a copy that passes the gate, consistent UIDs, shifted dates, originals intact."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.conftest import shared_data_or_skip
from tests.deid.builders import (
    CASE,
    assert_nothing_planted,
    clean_dataset,
    identifying_dataset,
    tree_hashes,
    write,
)
from workbench.deid import DeidentifyError, DeidOption, Policy, check, deidentify
from workbench.deid.commands import deid_check_main, deidentify_main
from workbench.deid.deidentify import SHIFT_RANGE_DAYS, derive_date_shift


def _days(before: str, after: str) -> int:
    parse = dt.datetime.strptime
    return (parse(after[:8], "%Y%m%d") - parse(before[:8], "%Y%m%d")).days


def _identifying_series(folder: Path, count: int = 3) -> list[Path]:
    paths = []
    for index in range(count):
        ds = identifying_dataset()
        ds.BurnedInAnnotation = "NO"
        ds.InstanceNumber = index + 1
        ds.SOPInstanceUID = f"1.2.3.4.5.6.100.{index}"
        if index:  # the later slices point back at the first one
            ref = Dataset()
            ref.ReferencedSOPClassUID = ds.SOPClassUID
            ref.ReferencedSOPInstanceUID = "1.2.3.4.5.6.100.0"
            ds.ReferencedImageSequence = Sequence([ref])
        paths.append(write(ds, folder / "series" / f"IM{index:04d}.dcm"))
    (folder / "series" / "notes.txt").write_text("Zyxwvut scanned on 2019-03-17\n")
    return paths


def test_identifying_series_becomes_clean(tmp_path: Path) -> None:
    source = tmp_path / "in"
    originals = _identifying_series(source)
    before = tree_hashes(source)
    assert check(source).exit_code == 1

    result = deidentify(source, tmp_path / "out", CASE, secret="case-secret", date_shift_days=-400)

    assert result.report.clean, result.report.to_text()
    assert tree_hashes(source) == before
    assert result.written == tuple(tmp_path / "out" / "series" / p.name for p in originals)
    assert [n.file.name for n in result.skipped] == ["notes.txt"]
    assert not (tmp_path / "out" / "series" / "notes.txt").exists()
    assert result.date_shift_days == -400

    old = [pydicom.dcmread(p) for p in originals]
    new = [pydicom.dcmread(p) for p in result.written]
    for o, n in zip(old, new, strict=True):
        assert n.PatientName == CASE
        assert n.PatientID == CASE
        assert n.PatientIdentityRemoved == "YES"
        assert n.LongitudinalTemporalInformationModified == "MODIFIED"
        assert [c.CodeValue for c in n.DeidentificationMethodCodeSequence] == [
            "113100",
            "113107",
            "113105",
            "113108",
        ]
        assert n.PatientBirthDate == ""
        assert "OriginalAttributesSequence" not in n
        assert "RequestAttributesSequence" not in n
        assert "InstitutionName" not in n or n.InstitutionName == ""
        assert not any(element.tag.is_private for element in n)
        assert _days(o.StudyDate, n.StudyDate) == -400
        assert _days(o.AcquisitionDateTime, n.AcquisitionDateTime) == -400
        assert n.AcquisitionDateTime[8:] == o.AcquisitionDateTime[8:]
        assert n.StudyTime == o.StudyTime
        assert n.SOPInstanceUID != o.SOPInstanceUID
        assert n.file_meta.MediaStorageSOPInstanceUID == n.SOPInstanceUID
        assert n.PixelData == o.PixelData
        assert n.SeriesDescription == o.SeriesDescription
    assert len({n.SeriesInstanceUID for n in new}) == 1
    assert new[0].SeriesInstanceUID != old[0].SeriesInstanceUID
    assert len({n.SOPInstanceUID for n in new}) == len(new)
    first = new[0].SOPInstanceUID
    assert all(n.ReferencedImageSequence[0].ReferencedSOPInstanceUID == first for n in new[1:])
    step = new[0].get("ReferencedPerformedProcedureStepSequence")
    assert step is None or len(step) == 0
    assert_nothing_planted([p.read_bytes().decode("latin-1") for p in result.written])


def test_same_secret_same_uids_and_shift(tmp_path: Path) -> None:
    source = tmp_path / "in"
    _identifying_series(source, count=1)
    a = deidentify(source, tmp_path / "a", CASE, secret="s1")
    b = deidentify(source, tmp_path / "b", CASE, secret="s1")
    c = deidentify(source, tmp_path / "c", CASE, secret="s2")
    uid = [pydicom.dcmread(r.written[0]).SeriesInstanceUID for r in (a, b, c)]
    assert uid[0] == uid[1] != uid[2]
    assert a.date_shift_days == b.date_shift_days == derive_date_shift("s1", CASE)
    low, high = SHIFT_RANGE_DAYS
    assert all(-high <= derive_date_shift(str(i), CASE) <= -low for i in range(200))


def test_policy_without_dates_option_removes_dates(tmp_path: Path) -> None:
    ds = identifying_dataset()
    ds.BurnedInAnnotation = "NO"
    source = write(ds, tmp_path / "in" / "a.dcm")
    policy = Policy(
        accepted_options=frozenset(
            {DeidOption.CLEAN_DESCRIPTORS, DeidOption.RETAIN_PATIENT_CHARACTERISTICS}
        )
    )
    result = deidentify(source, tmp_path / "out", CASE, policy)
    assert result.date_shift_days is None
    assert result.report.clean, result.report.to_text()
    ds = pydicom.dcmread(result.written[0])
    assert ds.StudyDate == ""
    assert "LongitudinalTemporalInformationModified" not in ds
    assert "113107" not in [c.CodeValue for c in ds.DeidentificationMethodCodeSequence]


def test_burned_in_annotation_stops_the_run(tmp_path: Path) -> None:
    write(clean_dataset(0), tmp_path / "in" / "a.dcm")
    burned = clean_dataset(1)
    burned.BurnedInAnnotation = "YES"
    write(burned, tmp_path / "in" / "b.dcm")
    with pytest.raises(DeidentifyError, match=r"BurnedInAnnotation is YES .*b\.dcm"):
        deidentify(tmp_path / "in", tmp_path / "out", CASE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_identifying_names_are_replaced(tmp_path: Path) -> None:
    source = tmp_path / "in"
    write(clean_dataset(0), source / "20190317_Zyxwvut" / "1.2.840.113619.2.44.7088985.1.dcm")
    write(clean_dataset(1), source / "20190317_Zyxwvut" / "IM2.dcm")
    write(clean_dataset(2), source / "AX_FLAIR" / "1.2.840.113619.2.44.7088985.3")
    report = check(source)
    assert report.clean
    assert [n.file.name for n in report.notes if "name" in n.message] == [
        "1.2.840.113619.2.44.7088985.1.dcm",
        "IM2.dcm",  # its folder's name
        "1.2.840.113619.2.44.7088985.3",
    ]
    result = deidentify(source, tmp_path / "out", CASE)
    assert result.renamed == 3
    assert [p.relative_to(tmp_path / "out").as_posix() for p in result.written] == [
        "folder001/IM00001.dcm",
        "folder001/IM2.dcm",
        "AX_FLAIR/IM00002",
    ]
    assert not [n for n in check(tmp_path / "out").notes if "name" in n.message]


def test_single_file_input(tmp_path: Path) -> None:
    source = write(clean_dataset(), tmp_path / "one.dcm")
    result = deidentify(source, tmp_path / "out", CASE)
    assert result.written == (tmp_path / "out" / "one.dcm",)
    assert result.report.clean


@pytest.mark.parametrize(
    ("case_id", "outdir", "message"),
    [
        ("Smith", "out", "not a registry pseudonym"),
        (CASE, "in/sub", "inside the input"),
        (CASE, "in", "inside the input"),
        (CASE, "full", "not an empty folder"),
    ],
)
def test_refuses_to_write(tmp_path: Path, case_id: str, outdir: str, message: str) -> None:
    write(clean_dataset(), tmp_path / "in" / "a.dcm")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(DeidentifyError, match=message):
        deidentify(tmp_path / "in", tmp_path / outdir, case_id)


def test_refuses_missing_input_nothing_to_write_and_zero_shift(tmp_path: Path) -> None:
    with pytest.raises(DeidentifyError, match="no such file"):
        deidentify(tmp_path / "nowhere", tmp_path / "out", CASE)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("hello")
    with pytest.raises(DeidentifyError, match="no DICOM or NIfTI"):
        deidentify(tmp_path / "text", tmp_path / "out", CASE)
    write(clean_dataset(), tmp_path / "in" / "a.dcm")
    with pytest.raises(DeidentifyError, match="0 days"):
        deidentify(tmp_path / "in", tmp_path / "out", CASE, date_shift_days=0)
    assert not (tmp_path / "out").exists()


def test_unreadable_input_leaves_nothing_behind(tmp_path: Path) -> None:
    write(clean_dataset(0), tmp_path / "in" / "a.dcm")
    broken = write(clean_dataset(1), tmp_path / "in" / "b.dcm")
    broken.write_bytes(broken.read_bytes()[:400])
    with pytest.raises(DeidentifyError, match=r"b\.dcm"):
        deidentify(tmp_path / "in", tmp_path / "out", CASE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_output_of_an_empty_existing_folder(tmp_path: Path) -> None:
    write(clean_dataset(), tmp_path / "in" / "a.dcm")
    (tmp_path / "out").mkdir()
    assert deidentify(tmp_path / "in", tmp_path / "out", CASE).report.clean
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]


REAL_SERIES = [
    pytest.param("dcm_qa_ge/In/01_Ax_DWI_TENSOR_R2", 14, id="ge-classic-dwi"),
    pytest.param("dcm_qa_xa30/In/5_anat-T1w_acq-tfl", 1, id="siemens-enhanced-t1"),
]


@pytest.mark.shared_data
@pytest.mark.parametrize(("folder", "count"), REAL_SERIES)
def test_real_scanner_series(tmp_path: Path, folder: str, count: int) -> None:
    series = shared_data_or_skip() / folder
    before = tree_hashes(series)
    first = sorted(p for p in series.iterdir() if p.is_file())[0]

    out = io.StringIO()
    assert deid_check_main(first, None, out) == 1
    printed = out.getvalue().replace(str(first), "FILE")  # the input's own name is printed
    assert "[identity-removed]" in printed
    header = pydicom.dcmread(first, stop_before_pixels=True)
    leaky = [
        str(header.get(keyword, "") or "")
        for keyword in ("InstitutionName", "StationName", "DeviceSerialNumber", "StudyDate")
    ]
    for value in leaky:
        assert len(value) < 4 or value not in printed

    out = io.StringIO()
    assert deidentify_main(series, tmp_path / "by-command", CASE, None, out) == 0, out.getvalue()
    assert out.getvalue().count("wrote ") == count
    result = deidentify(series, tmp_path / "copy", CASE, secret="case secret")
    assert result.report.clean, result.report.to_text()
    assert len(result.written) == count
    out = io.StringIO()
    assert deid_check_main(tmp_path / "copy", None, out) == 0, out.getvalue()
    assert tree_hashes(series) == before
    for path in result.written:  # names made of UIDs carry serial numbers and dates
        assert all(len(value) < 4 or value not in path.name for value in leaky)

    originals = sorted(series / name for name in before)
    pairs = [
        (pydicom.dcmread(o), pydicom.dcmread(n))
        for o, n in zip(originals, result.written, strict=True)
    ]
    assert len(pairs) == count
    for keyword in ("SeriesInstanceUID", "StudyInstanceUID", "FrameOfReferenceUID"):
        new = {str(n.get(keyword, "")) for _, n in pairs}
        old = {str(o.get(keyword, "")) for o, _ in pairs}
        assert len(new) == len(old) == 1, keyword
        assert new != old, keyword
    assert len({n.SOPInstanceUID for _, n in pairs}) == count
    shifts = set()
    for o, n in pairs:
        assert n.PixelData == o.PixelData
        assert n.PatientName == CASE
        assert n.PatientIdentityRemoved == "YES"
        assert not any(element.tag.is_private for element in n)
        for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
            if o.get(keyword):
                shifts.add(_days(o.get(keyword), n.get(keyword)))
        if "PerFrameFunctionalGroupsSequence" in o:
            frames = zip(
                o.PerFrameFunctionalGroupsSequence, n.PerFrameFunctionalGroupsSequence, strict=True
            )
            for fo, fn in frames:
                old_time = fo.FrameContentSequence[0].FrameAcquisitionDateTime
                new_time = fn.FrameContentSequence[0].FrameAcquisitionDateTime
                shifts.add(_days(old_time, new_time))
                assert new_time[8:] == old_time[8:]
    assert len(shifts) == 1
    assert shifts.pop() < 0
