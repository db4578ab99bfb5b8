"""The demo's cases, as data: who they are, what they were exposed to, what the labs said.

Everything here is invented for demonstration; the images made from it are synthetic.
Cases span the registry's conditions and review states and the lab situations that matter to
the AAN 2013 criteria: CSF JCV detected (copies/mL and IU/mL), detected below the LOQ, not
detected by an ultrasensitive and by an insensitive assay, and not done.
"""

from __future__ import annotations

from dataclasses import dataclass

from adjudication.vocabulary import TriState
from workbench.domain import CaseStatus, Condition, LabQualitative, LabTest, SequenceClass, Sex

ALL_SEQUENCES = (
    SequenceClass.FLAIR,
    SequenceClass.T2,
    SequenceClass.T1,
    SequenceClass.T1_GD,
    SequenceClass.DWI,
    SequenceClass.ADC,
)
CORE_SEQUENCES = (SequenceClass.FLAIR, SequenceClass.T1, SequenceClass.DWI, SequenceClass.ADC)


@dataclass(frozen=True, slots=True)
class DemoLesion:
    """A PML-like lesion of the phantom: where, how big at day 0, how fast it grows."""

    hemisphere: str
    lobe: str
    radius_mm: float
    growth_per_30_days: float = 1.35
    enhancing: bool = False
    satellites: int = 0


@dataclass(frozen=True, slots=True)
class DemoLab:
    """One lab result of a demo case."""

    test: LabTest
    day: int
    result: LabQualitative
    value: float | None = None
    unit: str | None = None
    assay: str | None = None
    lod: float | None = None
    loq: float | None = None


@dataclass(frozen=True, slots=True)
class DemoCase:
    """One demo case and how its imaging is made."""

    registry_id: str
    site: str
    sex: Sex
    age_band: str
    condition: Condition
    condition_detail: str
    summary: str
    clinical: TriState
    status: CaseStatus
    exposures: tuple[tuple[str, int | None, int | None, int | None], ...]
    features: tuple[tuple[str, TriState, int | None], ...]
    labs: tuple[DemoLab, ...]
    days: tuple[int, ...]
    sequences: tuple[SequenceClass, ...]
    lesions: tuple[DemoLesion, ...]
    seed: int


_ULTRA = "ultrasensitive CSF JCV qPCR (reference lab)"
_LOCAL = "hospital JCV PCR"
CSF = LabTest.CSF_JCV_PCR
CD4 = LabTest.CD4_COUNT
INDEX = LabTest.SERUM_JCV_ANTIBODY_INDEX
P, A, NA = TriState.PRESENT, TriState.ABSENT, TriState.NOT_ASSESSED

DEMO_CASES: tuple[DemoCase, ...] = (
    DemoCase(
        "PML-DEMO-001", "NL-AMS", Sex.FEMALE, "40-49", Condition.MS_NATALIZUMAB,
        "relapsing-remitting MS, natalizumab every 4 weeks",
        "Subacute right hemiparesis and word-finding difficulty over three weeks.",
        P, CaseStatus.FINAL,
        (("natalizumab", -1450, -7, 52),),
        (("hemiparesis", P, -21), ("aphasia", P, -14), ("seizures", A, None)),
        (
            DemoLab(INDEX, -180, LabQualitative.POSITIVE, 3.1, "index", "STRATIFY JCV DxSelect"),
            DemoLab(CSF, 4, LabQualitative.DETECTED, 450, "copies/mL", _ULTRA, 10, 50),
        ),
        (0, 35), ALL_SEQUENCES,
        (DemoLesion("left", "frontal", 13.5, satellites=5),),
        101,
    ),
    DemoCase(
        "PML-DEMO-002", "US-BOS", Sex.MALE, "30-39", Condition.HIV,
        "HIV, not on antiretroviral therapy at presentation",
        "Progressive left-sided weakness and visual field loss.",
        P, CaseStatus.IN_ADJUDICATION,
        (),
        (("hemiparesis", P, -30), ("visual field deficit", P, -20), ("ataxia", A, None)),
        (
            DemoLab(CD4, -3, LabQualitative.QUANTITATIVE, 45, "cells/µL"),
            DemoLab(LabTest.PLASMA_HIV_RNA, -3, LabQualitative.QUANTITATIVE, 120000, "copies/mL"),
            DemoLab(CSF, 2, LabQualitative.DETECTED, 12000, "copies/mL", _LOCAL, 200, 500),
        ),
        (0, 28, 90), ALL_SEQUENCES,
        (DemoLesion("right", "parietal", 18.0), DemoLesion("right", "occipital", 10.5)),
        102,
    ),
    DemoCase(
        "PML-DEMO-003", "DE-BN", Sex.FEMALE, "30-39", Condition.MS_NATALIZUMAB,
        "MS, natalizumab; lesion found on a screening MRI",
        "No new symptoms: asymptomatic, MRI-detected on 6-monthly screening.",
        A, CaseStatus.DISCORDANT,
        (("natalizumab", -980, 0, 36),),
        (("hemiparesis", A, None), ("cognitive decline", A, None)),
        (
            DemoLab(INDEX, -200, LabQualitative.POSITIVE, 1.8, "index", "STRATIFY JCV DxSelect"),
            DemoLab(CSF, 6, LabQualitative.DETECTED_BELOW_LOQ, None, "copies/mL", _ULTRA, 10, 50),
        ),
        (0, 42), (*CORE_SEQUENCES, SequenceClass.T2),
        (DemoLesion("right", "frontal", 7.5, growth_per_30_days=1.2, satellites=3),),
        103,
    ),
    DemoCase(
        "PML-DEMO-004", "IT-MI", Sex.MALE, "50-59", Condition.OTHER_IMMUNOMODULATOR,
        "MS on dimethyl fumarate with grade 3 lymphopenia",
        "Gait ataxia and dysarthria over two months.",
        P, CaseStatus.IN_READING,
        (("dimethyl fumarate", -1300, -10, None),),
        (("ataxia", P, -60), ("dysarthria", P, -45)),
        (
            DemoLab(CD4, -5, LabQualitative.QUANTITATIVE, 160, "cells/µL"),
            DemoLab(CSF, 3, LabQualitative.NOT_DETECTED, None, "copies/mL", _LOCAL, 200),
        ),
        (0, 30), CORE_SEQUENCES,
        (DemoLesion("left", "infratentorial", 10.5),),
        104,
    ),
    DemoCase(
        "PML-DEMO-005", "FR-PAR", Sex.MALE, "60-69", Condition.TRANSPLANT,
        "kidney transplant, tacrolimus and mycophenolate",
        "Confusion and right homonymous hemianopia.",
        P, CaseStatus.READY,
        (("tacrolimus", -2100, None, None), ("mycophenolate mofetil", -2100, -5, None)),
        (("cognitive decline", P, -25), ("visual field deficit", P, -12)),
        (DemoLab(CSF, 1, LabQualitative.DETECTED, 2300, "IU/mL", "WHO-standard JCV PCR", 20, 50),),
        (0, 30), ALL_SEQUENCES,
        (DemoLesion("left", "occipital", 15.0),),
        105,
    ),
    DemoCase(
        "PML-DEMO-006", "SE-STO", Sex.FEMALE, "70-79", Condition.HAEMATOLOGICAL_MALIGNANCY,
        "chronic lymphocytic leukaemia, rituximab and bendamustine",
        "Rapidly progressive aphasia and right arm weakness.",
        P, CaseStatus.IN_READING,
        (("rituximab", -300, -120, 6), ("bendamustine", -300, -120, 12)),
        (("aphasia", P, -18), ("hemiparesis", P, -10)),
        (
            DemoLab(CD4, -2, LabQualitative.QUANTITATIVE, 210, "cells/µL"),
            DemoLab(CSF, 2, LabQualitative.DETECTED, 89000, "copies/mL", _LOCAL, 200, 500),
        ),
        (0, 21), (*CORE_SEQUENCES, SequenceClass.T2),
        (DemoLesion("left", "temporal", 16.5, growth_per_30_days=1.6),),
        106,
    ),
    DemoCase(
        "PML-DEMO-007", "NL-AMS", Sex.MALE, "60-69", Condition.HAEMATOLOGICAL_MALIGNANCY,
        "diffuse large B-cell lymphoma after R-CHOP",
        "Behavioural change; lumbar puncture not yet done.",
        P, CaseStatus.INCOMPLETE,
        (("rituximab", -240, -90, 6),),
        (("cognitive decline", P, -40),),
        (DemoLab(CSF, 0, LabQualitative.NOT_DONE),),
        (0, 30), (SequenceClass.FLAIR, SequenceClass.T1, SequenceClass.DWI),
        (DemoLesion("right", "frontal", 12.0),),
        107,
    ),
    DemoCase(
        "PML-DEMO-008", "US-BOS", Sex.FEMALE, "40-49", Condition.HIV,
        "HIV on antiretroviral therapy, poor adherence",
        "Left hand clumsiness and hemisensory loss.",
        P, CaseStatus.READY,
        (("antiretroviral therapy", -3000, None, None),),
        (("hemiparesis", P, -20), ("sensory deficit", P, -20)),
        (
            DemoLab(CD4, -1, LabQualitative.QUANTITATIVE, 88, "cells/µL"),
            DemoLab(CSF, 3, LabQualitative.NOT_DETECTED, None, "copies/mL", _ULTRA, 10, 50),
        ),
        (0, 45), (*CORE_SEQUENCES, SequenceClass.T2),
        (DemoLesion("right", "parietal", 12.0),),
        108,
    ),
    DemoCase(
        "PML-DEMO-009", "DE-BN", Sex.FEMALE, "50-59", Condition.OTHER_IMMUNOMODULATOR,
        "MS on fingolimod",
        "Visual disturbance and left hemianopia.",
        P, CaseStatus.FINAL,
        (("fingolimod", -1800, -3, None),),
        (("visual field deficit", P, -30),),
        (DemoLab(CSF, 5, LabQualitative.DETECTED, 160, "copies/mL", _ULTRA, 10, 50),),
        (0, 30), ALL_SEQUENCES,
        (DemoLesion("right", "occipital", 13.5, satellites=4),),
        109,
    ),
    DemoCase(
        "PML-DEMO-010", "IT-MI", Sex.MALE, "30-39", Condition.MS_NATALIZUMAB,
        "MS, natalizumab; PML-IRIS after plasma exchange",
        "Worsening hemiparesis at day 50 with new contrast enhancement (IRIS).",
        P, CaseStatus.IN_ADJUDICATION,
        (("natalizumab", -1500, 0, 55), ("plasma exchange", 3, 12, 5)),
        (("hemiparesis", P, -15), ("IRIS", P, 50)),
        (
            DemoLab(INDEX, -150, LabQualitative.POSITIVE, 2.7, "index", "STRATIFY JCV DxSelect"),
            DemoLab(CSF, 2, LabQualitative.DETECTED, 25, "copies/mL", _ULTRA, 10, 20),
        ),
        (0, 56), ALL_SEQUENCES,
        (DemoLesion("right", "frontal", 15.0, enhancing=True),),
        110,
    ),
)  # fmt: skip
