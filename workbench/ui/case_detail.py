"""What a case page shows, as frozen plain values taken from the ORM while its session is open.

A registry session is short (``registry.read()`` rolls back and expires its objects at the
end), so the page never holds ORM objects: :func:`case_detail` copies what it needs, including
the texts that need domain code (geometry, labels). No Qt here, so this is testable headless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from adjudication.vocabulary import TriState
from workbench.domain import CaseStatus, Condition, LabQualitative, LabTest, SequenceClass
from workbench.registry.models import Case
from workbench.studies import describe_geometry

_RESULT_LABELS = {
    LabQualitative.DETECTED: "detected",
    LabQualitative.DETECTED_BELOW_LOQ: "detected, below LOQ",
    LabQualitative.NOT_DETECTED: "not detected",
    LabQualitative.POSITIVE: "positive",
    LabQualitative.NEGATIVE: "negative",
    LabQualitative.INDETERMINATE: "indeterminate",
    LabQualitative.NOT_DONE: "not done",
    LabQualitative.QUANTITATIVE: "measured",
}

_TRISTATE_LABELS = {
    TriState.PRESENT: "present",
    TriState.ABSENT: "absent",
    TriState.NOT_ASSESSED: "not assessed",
}


def result_label(result: LabQualitative) -> str:
    """How a qualitative lab result reads on screen (``detected, below LOQ``)."""
    return _RESULT_LABELS[result]


def tristate_label(value: TriState) -> str:
    """``present``, ``absent`` or ``not assessed``."""
    return _TRISTATE_LABELS[value]


def format_number(value: float | None) -> str:
    """A lab number without float noise: ``1200``, ``0.35``, ``1.2e+07``; empty for none."""
    if value is None:
        return ""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e9:
        return f"{int(value)}"
    return f"{value:.6g}"


def format_day(day: int | None) -> str:
    """A relative day as a signed number (``-14``, ``0``, ``+90``); empty for none."""
    if day is None:
        return ""
    return f"{day:+d}" if day else "0"


def elide_middle(text: str, keep: int = 26) -> str:
    """``text`` shortened to about ``keep`` characters by cutting its middle (for UIDs)."""
    if len(text) <= keep:
        return text
    head = (keep - 1) // 2
    tail = keep - 1 - head
    return f"{text[:head]}…{text[-tail:]}"


@dataclass(frozen=True, slots=True)
class ExposureRow:
    """One drug exposure on the case page."""

    drug: str
    start_day: int | None
    stop_day: int | None
    infusion_count: int | None


@dataclass(frozen=True, slots=True)
class FeatureRow:
    """One clinical feature on the case page."""

    feature: str
    status: TriState
    onset_day: int | None
    note: str | None


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """One series of a timepoint, with its geometry already described."""

    sequence_class: SequenceClass
    description: str
    geometry: str
    series_instance_uid: str | None
    source_uri: str
    n_files: int


@dataclass(frozen=True, slots=True)
class Timepoint:
    """One imaging study: a day relative to the index date and its series."""

    day: int
    description: str
    study_instance_uid: str | None
    series: tuple[SeriesRow, ...]


@dataclass(frozen=True, slots=True)
class LabRow:
    """One lab result as the page lists it."""

    test: LabTest
    test_label: str
    day: int
    result: LabQualitative
    value: float | None
    unit: str | None
    assay: str | None
    lod: float | None
    loq: float | None
    note: str | None

    @property
    def is_csf_jcv_pcr(self) -> bool:
        """Whether this is the CSF JCV PCR that the AAN 2013 criteria turn on."""
        return self.test == LabTest.CSF_JCV_PCR


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """Everything the case page shows about one case."""

    registry_id: str
    version: int
    site: str
    sex: str
    age_band: str
    condition: Condition
    condition_detail: str | None
    status: CaseStatus
    clinical_consistent: TriState
    clinical_summary: str | None
    index_event: str
    readers_required: int
    exposures: tuple[ExposureRow, ...]
    features: tuple[FeatureRow, ...]
    timepoints: tuple[Timepoint, ...]
    labs: tuple[LabRow, ...]

    @property
    def series_count(self) -> int:
        """Number of series over all timepoints."""
        return sum(len(t.series) for t in self.timepoints)


def case_detail(case: Case) -> CaseDetail:
    """Copy a case loaded by :func:`workbench.cases.get_case` into plain values.

    Call it inside the session that loaded ``case``.
    """
    timepoints = tuple(
        Timepoint(
            day=study.day,
            description=study.description or "",
            study_instance_uid=study.study_instance_uid,
            series=tuple(
                SeriesRow(
                    sequence_class=s.sequence_class,
                    description=s.description or "",
                    geometry=describe_geometry(s),
                    series_instance_uid=s.series_instance_uid,
                    source_uri=s.source_uri,
                    n_files=s.n_files,
                )
                for s in study.series
            ),
        )
        for study in sorted(case.studies, key=lambda st: (st.day, st.id))
    )
    labs = tuple(
        LabRow(
            test=r.test,
            test_label=r.test_name if r.test == LabTest.OTHER and r.test_name else r.test.label,
            day=r.day,
            result=r.qualitative,
            value=r.value,
            unit=r.unit,
            assay=r.assay,
            lod=r.lod,
            loq=r.loq,
            note=r.note,
        )
        for r in sorted(case.lab_results, key=lambda r: (r.day, r.id))
    )
    return CaseDetail(
        registry_id=case.registry_id,
        version=case.version,
        site=case.site.code,
        sex=case.sex.value,
        age_band=case.age_band,
        condition=case.condition,
        condition_detail=case.condition_detail,
        status=case.status,
        clinical_consistent=case.clinical_consistent,
        clinical_summary=case.clinical_summary,
        index_event=case.index_event,
        readers_required=case.readers_required,
        exposures=tuple(
            ExposureRow(e.drug, e.start_day, e.stop_day, e.infusion_count) for e in case.exposures
        ),
        features=tuple(
            FeatureRow(f.feature, f.status, f.onset_day, f.note) for f in case.clinical_features
        ),
        timepoints=timepoints,
        labs=labs,
    )
