"""Vocabularies of the registry's case, imaging and laboratory records.

Values are what the database stores; labels are what a window shows.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from workbench.errors import ValidationError

E = TypeVar("E", bound=StrEnum)


def coerce_enum(kind: type[E], value: object, what: str) -> E:
    """``kind(value)``, or a :class:`ValidationError` naming ``what`` and the allowed values."""
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ValidationError(f"{what}: {value!r} is not one of {allowed}", field=what) from None


class CaseStatus(StrEnum):
    """Where a case stands in the review queue (DESIGN.md §9 status flow)."""

    INCOMPLETE = "incomplete"
    """Data still missing: not yet ready for reading."""
    READY = "ready"
    """Complete and de-identified; waiting for readers."""
    IN_READING = "in_reading"
    DISCORDANT = "discordant"
    """All reads are in and they disagree by a configured rule."""
    IN_ADJUDICATION = "in_adjudication"
    FINAL = "final"
    """The panel's decision is signed."""

    @property
    def label(self) -> str:
        """Human-readable label."""
        return self.value.replace("_", " ")


class Sex(StrEnum):
    """Sex as recorded by the site."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class Condition(StrEnum):
    """The underlying condition that predisposes to PML."""

    HIV = "hiv"
    MS_NATALIZUMAB = "ms_natalizumab"
    """Multiple sclerosis treated with natalizumab."""
    OTHER_IMMUNOMODULATOR = "other_immunomodulator"
    """MS, Crohn's disease, psoriasis, rheumatic disease on another immunomodulator."""
    TRANSPLANT = "transplant"
    HAEMATOLOGICAL_MALIGNANCY = "haematological_malignancy"
    """Lymphoma, leukaemia, myeloma and related."""
    SOLID_NEOPLASM = "solid_neoplasm"
    PRIMARY_IMMUNODEFICIENCY = "primary_immunodeficiency"
    NON_MS_INFLAMMATORY = "non_ms_inflammatory"
    """Rheumatic, inflammatory bowel, skin or other inflammatory disease (not MS)."""
    OTHER = "other"

    @property
    def label(self) -> str:
        """Human-readable label."""
        return _CONDITION_LABELS[self]


_CONDITION_LABELS = {
    Condition.HIV: "HIV",
    Condition.MS_NATALIZUMAB: "MS on natalizumab",
    Condition.OTHER_IMMUNOMODULATOR: "other immunomodulator",
    Condition.TRANSPLANT: "transplant",
    Condition.HAEMATOLOGICAL_MALIGNANCY: "lymphoma / leukaemia",
    Condition.SOLID_NEOPLASM: "solid neoplasm",
    Condition.PRIMARY_IMMUNODEFICIENCY: "primary immunodeficiency",
    Condition.NON_MS_INFLAMMATORY: "non-MS inflammatory disease",
    Condition.OTHER: "other",
}


class Outcome(StrEnum):
    """Outcome at last follow-up."""

    ALIVE = "alive"
    DIED = "died"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"
    UNKNOWN = "unknown"


class SequenceClass(StrEnum):
    """MR sequence class of a series, as a reader groups them."""

    T1 = "T1"
    T1_GD = "T1+Gd"
    T2 = "T2"
    FLAIR = "FLAIR"
    DWI = "DWI"
    ADC = "ADC"
    SWI = "SWI"
    PHASE = "phase"
    """A phase image (ImageType P / PHASE), not a contrast a reader grades."""
    FIELD_MAP = "field map"
    """A B0 field map (in Hz, or the phase difference it is made from)."""
    FIELD_MAP_MAGNITUDE = "field map magnitude"
    """The magnitude image that comes with a field map (same acquisition)."""
    SCOUT = "scout"
    """A localizer / scout / survey: for planning, not for reading."""
    OTHER = "other"


class SourceKind(StrEnum):
    """Where a series came from."""

    DICOM = "dicom"
    NIFTI = "nifti"
    DICOMWEB = "dicomweb"


class LabTest(StrEnum):
    """Laboratory tests the registry records."""

    CSF_JCV_PCR = "csf_jcv_pcr"
    """JC virus DNA by PCR in cerebrospinal fluid."""
    SERUM_JCV_ANTIBODY_INDEX = "serum_jcv_antibody_index"
    """Anti-JCV antibody index in serum (e.g. STRATIFY JCV DxSelect)."""
    CD4_COUNT = "cd4_count"
    """CD4+ T-lymphocytes in blood."""
    PLASMA_HIV_RNA = "plasma_hiv_rna"
    OTHER = "other"

    @property
    def label(self) -> str:
        """Human-readable label."""
        return _LAB_LABELS[self]


_LAB_LABELS = {
    LabTest.CSF_JCV_PCR: "CSF JCV PCR",
    LabTest.SERUM_JCV_ANTIBODY_INDEX: "anti-JCV antibody index",
    LabTest.CD4_COUNT: "CD4 count",
    LabTest.PLASMA_HIV_RNA: "plasma HIV RNA",
    LabTest.OTHER: "other",
}


class LabQualitative(StrEnum):
    """Qualitative result of a lab test.

    ``DETECTED_BELOW_LOQ`` is a real and common CSF JCV result: the virus was seen but
    below the assay's limit of quantification, so there is no copy number.
    """

    DETECTED = "detected"
    DETECTED_BELOW_LOQ = "detected_below_loq"
    NOT_DETECTED = "not_detected"
    POSITIVE = "positive"
    NEGATIVE = "negative"
    INDETERMINATE = "indeterminate"
    NOT_DONE = "not_done"
    QUANTITATIVE = "quantitative"
    """A plain measured value (CD4 count, antibody index) with no qualitative call."""
