"""The Annex E table, the options and the text heuristics."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from workbench.deid import annex_e
from workbench.deid.rules import (
    ANNEX_E_KEYWORDS,
    BIRTH_KEYWORDS,
    EMBEDDED_ORIGINAL_KEYWORDS,
    OPTION_KEEPS,
    DeidOption,
    annex_e_attribute,
    clean_text,
    option_keeping,
    suspicious_text,
)

GENERATOR = Path(__file__).resolve().parents[2] / "scripts" / "generate_annex_e.py"


@pytest.mark.parametrize(
    ("tag", "keyword", "action"),
    [
        (0x00100010, "PatientName", "Z"),
        (0x00100020, "PatientID", "Z/D"),
        (0x00100030, "PatientBirthDate", "Z"),
        (0x00080050, "AccessionNumber", "Z"),
        (0x00080080, "InstitutionName", "X/Z/D"),
        (0x00081010, "StationName", "X/Z/D"),
        (0x00181000, "DeviceSerialNumber", "X/Z/D"),
        (0x00080090, "ReferringPhysicianName", "Z"),
        (0x00081070, "OperatorsName", "X/Z/D"),
        (0x00101000, "OtherPatientIDs", "X"),
        (0x00104000, "PatientComments", "X"),
        (0x00200010, "StudyID", "Z"),
        (0x0020000E, "SeriesInstanceUID", "U"),
        (0x00400275, "RequestAttributesSequence", "X"),
        (0x04000561, "OriginalAttributesSequence", "X"),
        (0x00081140, "ReferencedImageSequence", "X/Z/U*"),
    ],
)
def test_table_has_the_basic_profile_actions(tag: int, keyword: str, action: str) -> None:
    attribute = annex_e_attribute(tag)
    assert attribute is not None
    assert (attribute.keyword, attribute.action) == (keyword, action)
    assert ANNEX_E_KEYWORDS[keyword] is attribute


def test_table_is_large_and_traceable() -> None:
    assert len(annex_e.BASIC_PROFILE) > 600
    assert annex_e.SOURCE_PACKAGE.startswith("dicom-anonymizer ")
    assert annex_e.STANDARD_EDITION == "2026c"
    assert annex_e_attribute(0x00080060) is None  # Modality is not identifying
    assert annex_e_attribute(0x00080016) is None  # nor the SOP Class


def test_repeating_groups() -> None:
    overlay = annex_e_attribute(0x60023000)
    curve = annex_e_attribute(0x50040010)
    assert overlay is not None
    assert overlay.name == "Overlay Data"
    assert curve is not None
    assert curve.action == "X"
    assert annex_e_attribute(0x60020010) is None  # Overlay Rows


def test_hand_lists_name_attributes_of_the_table() -> None:
    listed = set(BIRTH_KEYWORDS) | set(EMBEDDED_ORIGINAL_KEYWORDS)
    for keywords in OPTION_KEEPS.values():
        listed |= keywords
    assert listed - set(ANNEX_E_KEYWORDS) == set()


def test_options() -> None:
    assert DeidOption.coerce("113107") is DeidOption.RETAIN_LONGITUDINAL_MODIFIED_DATES
    assert DeidOption.coerce("retain_uids") is DeidOption.RETAIN_UIDS
    assert DeidOption.BASIC_PROFILE.meaning == "Basic Application Confidentiality Profile"
    assert option_keeping("SeriesDescription") is DeidOption.CLEAN_DESCRIPTORS
    assert option_keeping("PatientWeight") is DeidOption.RETAIN_PATIENT_CHARACTERISTICS
    assert option_keeping("PatientName") is None
    with pytest.raises(ValueError, match="unknown"):
        DeidOption.coerce("nope")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("John Smith 1970-01-01", "a date"),
        ("FLAIR 17.03.2019", "a date"),
        ("scan 3/17/19", "a date"),
        ("T1 20190317", "a date"),
        ("seen 17 Mar 2019", "a date"),
        ("seen March 17, 2019", "a date"),
        ("Smith^John", "a name in Surname^Given form"),
        ("MRN 1234567", "a run of six or more digits"),
        ("AX FLAIR", None),
        ("ep2d_diff_3scan_trace_p2", None),
        ("T1W_FFE_Sno_CS4 TE=4.6", None),
        ("AX DWI b1000 TRACEW", None),
        ("", None),
    ],
)
def test_suspicious_text(text: str, reason: str | None) -> None:
    assert suspicious_text(text) == reason


def test_clean_text_removes_what_is_suspicious() -> None:
    assert clean_text("T1 MPRAGE 17.03.2019") == "T1 MPRAGE"
    assert clean_text("Smith^John brain 1234567") == "brain"
    assert clean_text("AX FLAIR") == "AX FLAIR"


def test_generated_table_is_current() -> None:
    """The committed table equals what the generator makes from the installed package.

    Compared as data, so a newer dicom-anonymizer with the same table still passes.
    """
    pytest.importorskip("dicomanonymizer", reason="dicom-anonymizer regenerates the table")
    spec = importlib.util.spec_from_file_location("generate_annex_e", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_annex_e"] = module
    try:
        spec.loader.exec_module(module)
        generated: dict[str, object] = {}
        exec(module.render(), generated)
    finally:
        del sys.modules["generate_annex_e"]
    assert generated["STANDARD_EDITION"] == annex_e.STANDARD_EDITION
    assert generated["BASIC_PROFILE"] == annex_e.BASIC_PROFILE
    assert generated["REPEATING_GROUPS"] == annex_e.REPEATING_GROUPS
