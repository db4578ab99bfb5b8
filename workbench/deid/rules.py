"""The vocabulary of the de-identification gate: rules, options, Annex E look-ups, heuristics.

Everything here is plain data and small pure functions; nothing reads a file.

- :class:`Rule` names why a finding was raised (printed in brackets by ``deid-check``).
- :class:`DeidOption` are the PS3.15 de-identification method codes (CID 7050) that a file
  declares in ``DeidentificationMethodCodeSequence`` and that a :class:`~.policy.Policy`
  accepts or not.
- :func:`annex_e_attribute` looks an attribute up in PS3.15 Table E.1-1 (the generated
  :mod:`workbench.deid.annex_e`).
- ``OPTION_KEEPS`` says which identifying attributes an option lets a file keep. Table E.1-1
  carries one column per option; the package the Basic Profile column comes from does not
  ship those columns, so these short lists are transcribed from the table's "Rtn. Pat. Chars.",
  "Rtn. Dev. Id.", "Rtn. Inst. Id." and "Clean Desc." columns (K or C there). A test checks
  that each of them is an attribute of the generated table.
- :func:`suspicious_text` is the heuristic for free text that a file may keep (cleaned
  descriptors, NIfTI header strings): a date, a ``Surname^Given`` name, a long digit run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from workbench.deid.annex_e import BASIC_PROFILE, REPEATING_GROUPS


class Rule(StrEnum):
    """Why the gate refused an attribute; the value is what ``deid-check`` prints."""

    IDENTITY_REMOVED = "identity-removed"
    """PatientIdentityRemoved (0012,0062) is missing or not ``YES``."""
    METHOD_CODE = "method-code"
    """DeidentificationMethodCodeSequence (0012,0064) lacks 113100 (Basic Profile)."""
    ANNEX_E = "annex-e"
    """An attribute whose Basic Profile action is X, Z or D holds a value."""
    PERSON_NAME = "person-name"
    """A person name (VR PN), anywhere, that is neither empty nor a registry pseudonym."""
    PATIENT_ID = "patient-id"
    """PatientID is neither empty nor a registry pseudonym."""
    DATE = "date"
    """A date or time kept without an accepted longitudinal temporal option."""
    BIRTH_DATE = "birth-date"
    """The patient's birth date or time: refused whenever it holds a value."""
    PRIVATE = "private"
    """Private elements without an accepted Retain Safe Private option (113111)."""
    BURNED_IN = "burned-in"
    """BurnedInAnnotation is ``YES`` (or absent, where the policy refuses that)."""
    EMBEDDED_ORIGINAL = "embedded-original"
    """Original or modified attribute values embedded in the file (0400,0561), (0400,0550)."""
    DESCRIPTOR = "descriptor"
    """A descriptor kept under Clean Descriptors (113105) that still looks identifying."""
    NIFTI_TEXT = "nifti-text"
    """A NIfTI header text field (descrip, aux_file, ...) that looks identifying."""
    NIFTI_EXTENSION = "nifti-extension"
    """A NIfTI header extension with content (it may hold a whole DICOM header)."""
    SIDECAR = "sidecar"
    """A JSON sidecar field named after an Annex E attribute that holds a value."""


class DeidOption(StrEnum):
    """De-identification method codes of PS3.15 Table E.1-1 (DCM, CID 7050), by code value.

    113100 is the Basic Profile itself, always required; the others are options a file may
    declare and a registry policy may accept.
    """

    BASIC_PROFILE = "113100"
    """Basic Application Confidentiality Profile."""
    CLEAN_PIXEL_DATA = "113101"
    """Clean Pixel Data Option."""
    CLEAN_RECOGNIZABLE_VISUAL_FEATURES = "113102"
    """Clean Recognizable Visual Features Option."""
    CLEAN_GRAPHICS = "113103"
    """Clean Graphics Option."""
    CLEAN_STRUCTURED_CONTENT = "113104"
    """Clean Structured Content Option."""
    CLEAN_DESCRIPTORS = "113105"
    """Clean Descriptors Option: descriptions kept after removing identifying text."""
    RETAIN_LONGITUDINAL_FULL_DATES = "113106"
    """Retain Longitudinal Temporal Information Full Dates Option: real dates kept."""
    RETAIN_LONGITUDINAL_MODIFIED_DATES = "113107"
    """Retain Longitudinal Temporal Information Modified Dates Option: dates shifted."""
    RETAIN_PATIENT_CHARACTERISTICS = "113108"
    """Retain Patient Characteristics Option: sex, age, size, weight, ..."""
    RETAIN_DEVICE_IDENTITY = "113109"
    """Retain Device Identity Option: station name, device serial number, ..."""
    RETAIN_UIDS = "113110"
    """Retain UIDs Option."""
    RETAIN_SAFE_PRIVATE = "113111"
    """Retain Safe Private Option."""
    RETAIN_INSTITUTION_IDENTITY = "113112"
    """Retain Institution Identity Option."""

    @property
    def meaning(self) -> str:
        """The code meaning, as written in DeidentificationMethodCodeSequence."""
        return _MEANINGS[self]

    @classmethod
    def coerce(cls, value: str | DeidOption) -> DeidOption:
        """An option from its code value (``"113107"``) or its name (``"CLEAN_DESCRIPTORS"``)."""
        if isinstance(value, cls):
            return value
        text = str(value).strip()
        try:
            return cls(text)
        except ValueError:
            pass
        try:
            return cls[text.upper()]
        except KeyError:
            known = ", ".join(f"{o.value} ({o.name})" for o in cls)
            raise ValueError(f"unknown de-identification option {text!r}; known: {known}") from None


_MEANINGS: Final[dict[DeidOption, str]] = {
    DeidOption.BASIC_PROFILE: "Basic Application Confidentiality Profile",
    DeidOption.CLEAN_PIXEL_DATA: "Clean Pixel Data Option",
    DeidOption.CLEAN_RECOGNIZABLE_VISUAL_FEATURES: "Clean Recognizable Visual Features Option",
    DeidOption.CLEAN_GRAPHICS: "Clean Graphics Option",
    DeidOption.CLEAN_STRUCTURED_CONTENT: "Clean Structured Content Option",
    DeidOption.CLEAN_DESCRIPTORS: "Clean Descriptors Option",
    DeidOption.RETAIN_LONGITUDINAL_FULL_DATES: (
        "Retain Longitudinal Temporal Information Full Dates Option"
    ),
    DeidOption.RETAIN_LONGITUDINAL_MODIFIED_DATES: (
        "Retain Longitudinal Temporal Information Modified Dates Option"
    ),
    DeidOption.RETAIN_PATIENT_CHARACTERISTICS: "Retain Patient Characteristics Option",
    DeidOption.RETAIN_DEVICE_IDENTITY: "Retain Device Identity Option",
    DeidOption.RETAIN_UIDS: "Retain UIDs Option",
    DeidOption.RETAIN_SAFE_PRIVATE: "Retain Safe Private Option",
    DeidOption.RETAIN_INSTITUTION_IDENTITY: "Retain Institution Identity Option",
}

DATE_OPTIONS: Final = frozenset(
    {DeidOption.RETAIN_LONGITUDINAL_FULL_DATES, DeidOption.RETAIN_LONGITUDINAL_MODIFIED_DATES}
)
"""Either of these lets a file keep dates and times (PatientBirthDate excepted)."""

OPTION_KEEPS: Final[dict[DeidOption, frozenset[str]]] = {
    DeidOption.CLEAN_DESCRIPTORS: frozenset(
        {
            "StudyDescription",
            "SeriesDescription",
            "ProtocolName",
            "ImageComments",
            "AcquisitionComments",
            "AcquisitionProtocolDescription",
            "AcquisitionDeviceProcessingDescription",
            "AcquisitionContextDescription",
            "ContrastBolusAgent",
            "RequestedContrastAgent",
            "DerivationDescription",
            "FrameComments",
            "ImagePresentationComments",
            "PerformedProcedureStepDescription",
            "RequestedProcedureDescription",
            "ScheduledProcedureStepDescription",
            "ClinicalTrialSeriesDescription",
            "ClinicalTrialTimePointDescription",
        }
    ),
    DeidOption.RETAIN_PATIENT_CHARACTERISTICS: frozenset(
        {
            "PatientSex",
            "PatientAge",
            "PatientSize",
            "PatientWeight",
            "PatientSexNeutered",
            "EthnicGroup",
            "SmokingStatus",
            "PregnancyStatus",
        }
    ),
    DeidOption.RETAIN_DEVICE_IDENTITY: frozenset(
        {
            "DeviceSerialNumber",
            "StationName",
            "StationAETitle",
            "PerformedStationName",
            "PerformedStationAETitle",
            "PerformedStationNameCodeSequence",
            "ScheduledStationName",
            "ScheduledStationAETitle",
            "ScheduledStationNameCodeSequence",
            "DeviceDescription",
            "LongDeviceDescription",
            "DeviceLabel",
            "DetectorID",
            "GantryID",
            "GeneratorID",
            "PlateID",
            "CassetteID",
            "SourceSerialNumber",
            "SecondaryCaptureDeviceID",
            "HardcopyCreationDeviceID",
            "XRayDetectorID",
            "XRaySourceID",
            "TreatmentMachineName",
            "UniqueDeviceIdentifier",
            "DeviceAlternateIdentifier",
            "ManufacturerDeviceIdentifier",
            "UDISequence",
            "TransducerIdentificationSequence",
        }
    ),
    DeidOption.RETAIN_INSTITUTION_IDENTITY: frozenset(
        {
            "InstitutionName",
            "InstitutionAddress",
            "InstitutionalDepartmentName",
            "InstitutionCodeSequence",
            "InstitutionalDepartmentTypeCodeSequence",
        }
    ),
}
"""Identifying attributes (by keyword) that an option lets a file keep."""

BIRTH_KEYWORDS: Final = frozenset(
    {
        "PatientBirthDate",
        "PatientBirthTime",
    }
)
"""Refused with a value whatever option a file declares."""

EMBEDDED_ORIGINAL_KEYWORDS: Final = frozenset(
    {
        "OriginalAttributesSequence",
        "ModifiedAttributesSequence",
        "NonconformingModifiedAttributesSequence",
    }
)
"""Sequences that carry copies of the values a de-identifier replaced."""

DATE_VRS: Final = frozenset({"DA", "DT", "TM"})
"""Value representations of dates and times."""


@dataclass(frozen=True, slots=True)
class AnnexEAttribute:
    """One row of PS3.15 Table E.1-1: an attribute and its Basic Profile action."""

    keyword: str
    name: str
    action: str
    """``X``, ``Z``, ``D``, ``U``, or a choice such as ``X/Z/D`` or ``X/Z/U*``."""

    @property
    def is_uid(self) -> bool:
        """The action replaces UIDs (``U`` or ``U*``): a consistent new value is fine."""
        return "U" in self.action

    def __post_init__(self) -> None:
        allowed = {"X", "Z", "D", "U", "U*", "K", "C"}
        if not self.action or not set(self.action.split("/")) <= allowed:
            raise ValueError(f"unknown Basic Profile action {self.action!r} for {self.keyword}")


ANNEX_E: Final[dict[int, AnnexEAttribute]] = {
    tag: AnnexEAttribute(keyword, name, action)
    for tag, (keyword, name, action) in BASIC_PROFILE.items()
}
"""Table E.1-1 by tag."""

_REPEATING: Final = tuple(
    (tag, mask, AnnexEAttribute(name.replace(" ", ""), name, action))
    for tag, mask, name, action in REPEATING_GROUPS
)

ANNEX_E_KEYWORDS: Final[dict[str, AnnexEAttribute]] = {
    attribute.keyword: attribute for attribute in ANNEX_E.values()
}
"""Table E.1-1 by keyword (for JSON sidecars, whose keys are DICOM keywords)."""


def annex_e_attribute(tag: int) -> AnnexEAttribute | None:
    """The Table E.1-1 row of ``tag`` (including Curve 50xx and Overlay 60xx groups), or None."""
    attribute = ANNEX_E.get(tag)
    if attribute is not None or (tag >> 24) not in (0x50, 0x60):
        return attribute
    for base, mask, repeating in _REPEATING:
        if tag & mask == base:
            return repeating
    return None


def option_keeping(keyword: str) -> DeidOption | None:
    """The option that lets a file keep the attribute ``keyword``, if any."""
    for option, keywords in OPTION_KEEPS.items():
        if keyword in keywords:
            return option
    return None


_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_SUSPICIOUS: Final = (
    (
        "a date",
        re.compile(
            r"(?<!\d)(?:19|20)\d\d([-/.]?)(?:0[1-9]|1[0-2])\1(?:0[1-9]|[12]\d|3[01])(?!\d)"
            r"|(?<!\d)\d{1,2}([-/.])\d{1,2}\2(?:\d{4}|\d{2})(?![\d.])"
            rf"|(?<![A-Za-z0-9])\d{{1,2}}[ -]?(?:{_MONTHS})[a-z]*[ ,-]*(?:19|20)\d\d(?!\d)"
            rf"|(?<![A-Za-z])(?:{_MONTHS})[a-z]*\.? \d{{1,2}},? (?:19|20)\d\d(?!\d)",
            re.IGNORECASE,
        ),
    ),
    ("a name in Surname^Given form", re.compile(r"[^\W\d_][\w'-]*\^[^\W\d_][\w'^-]*")),
    ("a run of six or more digits", re.compile(r"\d{6,}")),
)


def suspicious_text(text: str) -> str | None:
    """What in ``text`` looks like identity (``"a date"``, ...), or None when nothing does.

    The answer names the kind of thing found, never the text itself.
    """
    for reason, pattern in _SUSPICIOUS:
        if pattern.search(text):
            return reason
    return None


def clean_text(text: str) -> str:
    """``text`` without what :func:`suspicious_text` finds, whitespace tidied."""
    for _ in range(4):
        for _, pattern in _SUSPICIOUS:
            text = pattern.sub(" ", text)
        text = " ".join(text.split())
        if suspicious_text(text) is None:
            return text
    return ""
