"""The de-identification gate on DICOM: each Annex E rule, and nothing identifying reported."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.deid.builders import (
    PLANTED,
    assert_nothing_planted,
    clean_dataset,
    codes,
    identifying_dataset,
    write,
)
from workbench.deid import DeidOption, Policy, Rule, check, check_dataset
from workbench.deid.commands import deid_check_main


def _policy_with(*codes: str) -> Policy:
    """The strict policy, also accepting these options."""
    extra = {DeidOption(code) for code in codes}
    return Policy(accepted_options=Policy.strict().accepted_options | extra)


def test_clean_file_passes(tmp_path: Path) -> None:
    path = write(clean_dataset(), tmp_path / "clean.dcm")
    report = check(path)
    assert report.findings == ()
    assert report.unreadable == ()
    assert report.clean
    assert report.exit_code == 0
    assert report.files_checked == 1


def _set(**values: object) -> Callable[[Dataset], None]:
    def mutate(ds: Dataset) -> None:
        for keyword, value in values.items():
            setattr(ds, keyword, value)

    return mutate


def _delete(*keywords: str) -> Callable[[Dataset], None]:
    def mutate(ds: Dataset) -> None:
        for keyword in keywords:
            delattr(ds, keyword)

    return mutate


def _nested_name(ds: Dataset) -> None:
    step = Dataset()
    step.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.3"
    step.ReferencedSOPInstanceUID = "1.2.3.4.5.6.10"
    step.PerformingPhysicianName = PLANTED["nested_name"]
    ds.ReferencedPerformedProcedureStepSequence = Sequence([step])


def _request_attributes(ds: Dataset) -> None:
    request = Dataset()
    request.AccessionNumber = PLANTED["nested_accession"]
    ds.RequestAttributesSequence = Sequence([request])


def _private(ds: Dataset) -> None:
    ds.private_block(0x0009, "ACME 1.0", create=True).add_new(0x01, "LO", PLANTED["private"])


def _private_in_sequence(ds: Dataset) -> None:
    item = Dataset()
    item.CodeValue = "T-A0100"
    item.private_block(0x0011, "ACME 1.0", create=True).add_new(0x02, "LO", PLANTED["private"])
    ds.AnatomicRegionSequence = Sequence([item])


def _original_attributes(ds: Dataset) -> None:
    modified = Dataset()
    modified.PatientName = PLANTED["original"]
    original = Dataset()
    original.ModifiedAttributesSequence = Sequence([modified])
    ds.OriginalAttributesSequence = Sequence([original])


def _real_dates(ds: Dataset) -> None:
    ds.DeidentificationMethodCodeSequence = codes("113100", "113105", "113108")
    del ds.LongitudinalTemporalInformationModified
    ds.StudyDate = PLANTED["study_date"]


CASES = [
    pytest.param(
        _set(PatientName=PLANTED["patient_name"]),
        "PatientName",
        "(0010,0010)",
        Rule.PERSON_NAME,
        id="name",
    ),
    pytest.param(
        _set(ReferringPhysicianName=PLANTED["referring"]),
        "ReferringPhysicianName",
        "(0008,0090)",
        Rule.PERSON_NAME,
        id="referring",
    ),
    pytest.param(
        _nested_name,
        "ReferencedPerformedProcedureStepSequence[0].PerformingPhysicianName",
        "(0008,1111)[0].(0008,1050)",
        Rule.PERSON_NAME,
        id="nested name",
    ),
    pytest.param(
        _request_attributes,
        "RequestAttributesSequence",
        "(0040,0275)",
        Rule.ANNEX_E,
        id="request attributes",
    ),
    pytest.param(
        _request_attributes,
        "RequestAttributesSequence[0].AccessionNumber",
        "(0040,0275)[0].(0008,0050)",
        Rule.ANNEX_E,
        id="nested accession",
    ),
    pytest.param(
        _set(PatientID=PLANTED["patient_id"]),
        "PatientID",
        "(0010,0020)",
        Rule.PATIENT_ID,
        id="patient id",
    ),
    pytest.param(
        _set(PatientBirthDate=PLANTED["birth_date"]),
        "PatientBirthDate",
        "(0010,0030)",
        Rule.BIRTH_DATE,
        id="birth date",
    ),
    pytest.param(
        _set(AccessionNumber=PLANTED["accession"]),
        "AccessionNumber",
        "(0008,0050)",
        Rule.ANNEX_E,
        id="accession",
    ),
    pytest.param(
        _set(InstitutionName=PLANTED["institution"]),
        "InstitutionName",
        "(0008,0080)",
        Rule.ANNEX_E,
        id="institution",
    ),
    pytest.param(
        _set(DeviceSerialNumber=PLANTED["serial"]),
        "DeviceSerialNumber",
        "(0018,1000)",
        Rule.ANNEX_E,
        id="device serial",
    ),
    pytest.param(
        _set(StationName=PLANTED["station"]),
        "StationName",
        "(0008,1010)",
        Rule.ANNEX_E,
        id="station",
    ),
    pytest.param(_set(StudyID="99812"), "StudyID", "(0020,0010)", Rule.ANNEX_E, id="study id"),
    pytest.param(_private, "Private", "(0009,xxxx)", Rule.PRIVATE, id="private"),
    pytest.param(
        _private_in_sequence,
        "AnatomicRegionSequence[0].Private",
        "(0008,2218)[0].(0011,xxxx)",
        Rule.PRIVATE,
        id="private nested",
    ),
    pytest.param(
        _set(BurnedInAnnotation="YES"),
        "BurnedInAnnotation",
        "(0028,0301)",
        Rule.BURNED_IN,
        id="burned in",
    ),
    pytest.param(
        _original_attributes,
        "OriginalAttributesSequence",
        "(0400,0561)",
        Rule.EMBEDDED_ORIGINAL,
        id="original attributes",
    ),
    pytest.param(_real_dates, "StudyDate", "(0008,0020)", Rule.DATE, id="real study date"),
    pytest.param(
        _delete("PatientIdentityRemoved"),
        "PatientIdentityRemoved",
        "(0012,0062)",
        Rule.IDENTITY_REMOVED,
        id="identity removed missing",
    ),
    pytest.param(
        _set(PatientIdentityRemoved="NO"),
        "PatientIdentityRemoved",
        "(0012,0062)",
        Rule.IDENTITY_REMOVED,
        id="identity removed NO",
    ),
    pytest.param(
        _delete("DeidentificationMethodCodeSequence"),
        "DeidentificationMethodCodeSequence",
        "(0012,0064)",
        Rule.METHOD_CODE,
        id="no method codes",
    ),
    pytest.param(
        _set(DeidentificationMethodCodeSequence=codes("113105", "113107", "113108")),
        "DeidentificationMethodCodeSequence",
        "(0012,0064)",
        Rule.METHOD_CODE,
        id="no 113100",
    ),
    pytest.param(
        _set(DeidentificationMethodCodeSequence=codes("113100", "113105", "113107")),
        "PatientAge",
        "(0010,1010)",
        Rule.ANNEX_E,
        id="age without 113108",
    ),
    pytest.param(
        _set(DeidentificationMethodCodeSequence=codes("113100", "113107", "113108")),
        "SeriesDescription",
        "(0008,103E)",
        Rule.ANNEX_E,
        id="description without 113105",
    ),
    pytest.param(
        _set(SeriesDescription="FLAIR 17.03.2019"),
        "SeriesDescription",
        "(0008,103E)",
        Rule.DESCRIPTOR,
        id="description with a date",
    ),
    pytest.param(
        _set(ProtocolName="brain Smith^John"),
        "ProtocolName",
        "(0018,1030)",
        Rule.DESCRIPTOR,
        id="description with a name",
    ),
]


@pytest.mark.parametrize(("mutate", "keyword", "tag", "rule"), CASES)
def test_each_identifier_is_found(
    tmp_path: Path, mutate: Callable[[Dataset], None], keyword: str, tag: str, rule: Rule
) -> None:
    ds = clean_dataset()
    mutate(ds)
    path = write(ds, tmp_path / "case.dcm")
    report = check(path)
    found = [(f.keyword, f.tag, f.rule) for f in report.findings]
    assert (keyword, tag, rule) in found
    assert report.exit_code == 1
    assert all(f.file == path for f in report.findings)
    assert_nothing_planted(report.lines())


def test_every_planted_identifier_is_found_and_none_is_shown(tmp_path: Path) -> None:
    path = write(identifying_dataset(), tmp_path / "all.dcm")
    report = check(path)
    keywords = {f.keyword for f in report.findings}
    assert {
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "AccessionNumber",
        "InstitutionName",
        "DeviceSerialNumber",
        "StationName",
        "ReferringPhysicianName",
        "StudyDate",
        "BurnedInAnnotation",
        "PatientIdentityRemoved",
        "ReferencedPerformedProcedureStepSequence[0].PerformingPhysicianName",
        "RequestAttributesSequence[0].AccessionNumber",
        "RequestAttributesSequence[0].RequestingPhysician",
        "OriginalAttributesSequence",
        "Private",
    } <= keywords
    out = io.StringIO()
    assert deid_check_main(path, None, out) == 1
    assert_nothing_planted(
        [out.getvalue(), report.to_text(), repr(report), *(repr(f) for f in report.findings)]
    )


def test_dates_accepted_with_modified_dates_flag_only(tmp_path: Path) -> None:
    ds = clean_dataset()
    ds.DeidentificationMethodCodeSequence = codes("113100", "113105", "113108")
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    assert check(write(ds, tmp_path / "a.dcm")).clean


def test_full_dates_option_needs_the_policy(tmp_path: Path) -> None:
    ds = clean_dataset()
    ds.DeidentificationMethodCodeSequence = codes("113100", "113105", "113106", "113108")
    del ds.LongitudinalTemporalInformationModified
    path = write(ds, tmp_path / "a.dcm")
    strict = check(path)
    assert {f.keyword for f in strict.findings} == {
        "StudyDate",
        "StudyTime",
        "ContentDate",
        "AcquisitionDateTime",
    }
    assert any("113106" in note.message for note in strict.notes)
    accepting = _policy_with("113106")
    assert check(path, accepting).clean


def test_birth_date_refused_whatever_the_options(tmp_path: Path) -> None:
    ds = clean_dataset()
    ds.PatientBirthDate = PLANTED["birth_date"]
    policy = Policy(accepted_options=frozenset(o for o in DeidOption if o.value != "113100"))
    ds.DeidentificationMethodCodeSequence = codes(*(o.value for o in DeidOption))
    report = check(write(ds, tmp_path / "a.dcm"), policy)
    assert [(f.keyword, f.rule) for f in report.findings] == [("PatientBirthDate", Rule.BIRTH_DATE)]


def test_options_relax_only_when_declared_and_accepted(tmp_path: Path) -> None:
    ds = clean_dataset()
    ds.DeviceSerialNumber = PLANTED["serial"]
    ds.StationName = PLANTED["station"]
    ds.InstitutionName = PLANTED["institution"]
    path = write(ds, tmp_path / "a.dcm")
    declared = clean_dataset()
    declared.DeviceSerialNumber = PLANTED["serial"]
    declared.StationName = PLANTED["station"]
    declared.InstitutionName = PLANTED["institution"]
    declared.DeidentificationMethodCodeSequence = codes(
        "113100", "113105", "113107", "113108", "113109", "113112"
    )
    declared_path = write(declared, tmp_path / "b.dcm")
    lenient = _policy_with("113109", "113112")

    assert {f.keyword for f in check(path, lenient).findings} == {
        "DeviceSerialNumber",
        "StationName",
        "InstitutionName",
    }
    assert {f.keyword for f in check(declared_path).findings} == {
        "DeviceSerialNumber",
        "StationName",
        "InstitutionName",
    }
    assert check(declared_path, lenient).clean


def test_private_elements_with_safe_private_option(tmp_path: Path) -> None:
    ds = clean_dataset()
    _private(ds)
    ds.DeidentificationMethodCodeSequence = codes("113100", "113105", "113107", "113108", "113111")
    path = write(ds, tmp_path / "a.dcm")
    assert [f.rule for f in check(path).findings] == [Rule.PRIVATE]
    lenient = check(path, _policy_with("113111"))
    assert lenient.clean
    assert any("113111" in note.message for note in lenient.notes)


def test_missing_burned_in_annotation_is_a_note_or_refused(tmp_path: Path) -> None:
    ds = clean_dataset()
    del ds.BurnedInAnnotation
    path = write(ds, tmp_path / "a.dcm")
    report = check(path)
    assert report.clean
    assert any("BurnedInAnnotation" in note.message for note in report.notes)
    strict = check(path, Policy(refuse_missing_burned_in_annotation=True))
    assert [(f.keyword, f.rule) for f in strict.findings] == [
        ("BurnedInAnnotation", Rule.BURNED_IN)
    ]


def test_pseudonym_pattern_is_configurable(tmp_path: Path) -> None:
    ds = clean_dataset()
    ds.PatientName = "SITE7-0001"
    ds.PatientID = "SITE7-0001"
    path = write(ds, tmp_path / "a.dcm")
    assert {f.rule for f in check(path).findings} == {Rule.PERSON_NAME, Rule.PATIENT_ID}
    assert check(path, Policy(pseudonym_pattern=r"SITE\d-\d{4}")).clean


def test_empty_names_and_separators_only_are_empty(tmp_path: Path) -> None:
    ds = clean_dataset()
    ds.PatientName = "^^^^"
    ds.PatientID = ""
    ds.OperatorsName = ""
    assert check(write(ds, tmp_path / "a.dcm")).clean


def test_uids_are_accepted(tmp_path: Path) -> None:
    ds = clean_dataset()
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    item.ReferencedSOPInstanceUID = "1.2.3.4.99"
    ds.ReferencedImageSequence = Sequence([item])
    assert check(write(ds, tmp_path / "a.dcm")).clean


def test_folder_mixes_files_and_notes_what_it_did_not_check(tmp_path: Path) -> None:
    for index in range(3):
        write(clean_dataset(index), tmp_path / "series" / f"IM{index}.dcm")
    (tmp_path / "series" / "README.txt").write_text("scanned at site 7\n")
    write(identifying_dataset(), tmp_path / "other" / "x.dcm")
    report = check(tmp_path)
    assert report.files_checked == 4
    assert report.files_with_findings == 1
    assert report.not_checked == (tmp_path / "series" / "README.txt",)
    assert {f.file for f in report.findings} == {tmp_path / "other" / "x.dcm"}


def test_dicom_without_preamble_is_read(tmp_path: Path) -> None:
    path = write(identifying_dataset(), tmp_path / "a.dcm")
    raw = path.read_bytes()
    start = raw.index(b"\x08\x00\x05\x00")  # first element after the file meta group
    bare = tmp_path / "bare"
    bare.write_bytes(raw[start:])
    report = check(bare)
    assert report.unreadable == ()
    assert "PatientName" in {f.keyword for f in report.findings}


def test_truncated_and_corrupt_files_are_unreadable(tmp_path: Path) -> None:
    path = write(identifying_dataset(), tmp_path / "a.dcm")
    raw = path.read_bytes()
    (tmp_path / "a.dcm").write_bytes(raw[:300])
    (tmp_path / "b.dcm").write_bytes(raw[:132] + b"\xff" * 64)
    report = check(tmp_path)
    assert {u.file.name for u in report.unreadable} == {"a.dcm", "b.dcm"}
    assert report.exit_code == 2
    assert_nothing_planted(report.lines())


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        check(tmp_path / "nowhere")


def test_check_dataset_in_memory() -> None:
    report = check_dataset(identifying_dataset())
    assert report.exit_code == 1
    assert "PatientName" in {f.keyword for f in report.findings}
    assert check_dataset(clean_dataset()).clean


def test_report_is_frozen(tmp_path: Path) -> None:
    report = check(write(identifying_dataset(), tmp_path / "a.dcm"))
    with pytest.raises(AttributeError):
        report.findings = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        report.findings[0].message = "x"  # type: ignore[misc]


def test_demo_writer_passes_the_strict_gate(tmp_path: Path) -> None:
    from workbench.demo.dicom_series import new_uid, write_series
    from workbench.domain import SequenceClass

    volume = (np.arange(4 * 8 * 8, dtype=np.int16).reshape(4, 8, 8) % 300).astype(np.int16)
    for number, (sequence, sex) in enumerate(
        [(SequenceClass.FLAIR, "F"), (SequenceClass.T1_GD, ""), (SequenceClass.DWI, "M")], 1
    ):
        write_series(
            volume,
            tmp_path / sequence.name,
            spacing_mm=(1.0, 1.0, 3.0),
            origin_lps=(-4.0, -4.0, 0.0),
            study_instance_uid=new_uid("study"),
            series_instance_uid=new_uid("series", str(number)),
            frame_of_reference_uid=new_uid("frame"),
            series_number=number,
            sequence=sequence,
            patient_pseudonym="PML-DEMO-0001",
            study_description="Brain MRI, week 12",
            patient_sex=sex,
        )
    out = io.StringIO()
    assert deid_check_main(tmp_path, None, out) == 0, out.getvalue()
    assert "12 file(s) checked, 0 finding(s)" in out.getvalue()
