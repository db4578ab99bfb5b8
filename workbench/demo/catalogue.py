"""The demo's cases, as data: who they are, what they were exposed to, what the labs said,
and how far their review has gone.

Everything here is invented for demonstration; the images made from it are synthetic.
Cases span the registry's conditions and review states and the lab situations that matter to
the AAN 2013 criteria: CSF JCV detected (copies/mL and IU/mL), detected below the LOQ, not
detected by an ultrasensitive and by an insensitive assay, and not done.

A case's :class:`DemoReview` says who reads it, what each reader judges and how their lesion
masks differ from the phantom's ground truth, and what the panel decides and who signs; the
build carries it out through the real review flow, and checks that the case ends at
:attr:`DemoCase.status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from adjudication.vocabulary import Certainty, ImagingJudgement, Pathway, TriState
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


class Outline(StrEnum):
    """How a demo reader's mask relates to the phantom's lesion (readers never agree exactly)."""

    EXACT = "exact"
    """The phantom's lesion voxels."""
    GENEROUS = "generous"
    """Dilated by one voxel in plane: a reader who includes the lesion's blurred edge."""
    TIGHT = "tight"
    """Eroded by one voxel in plane: a reader who keeps to the bright core."""


@dataclass(frozen=True, slots=True)
class DemoRead:
    """One reader's read of a demo case, on the FLAIR of the latest timepoint."""

    reader: str
    judgement: ImagingJudgement | None
    outline: Outline = Outline.EXACT
    confidence: int | None = None
    comment: str | None = None
    missed: tuple[int, ...] = ()
    """1-based numbers of the case's lesions (:attr:`DemoCase.lesions`) this reader missed."""
    submitted: bool = True
    """False: the read stays a draft (offered back to the reader when they log in)."""


@dataclass(frozen=True, slots=True)
class DemoDecision:
    """A panel decision: who proposes it, what it says, who signs it."""

    proposed_by: str
    certainty: Certainty
    pathway: Pathway | None
    rationale: str | None
    signers: tuple[str, ...]
    change_reason: str | None = None
    """Set when this decision changes a final one."""
    labs_before: tuple[DemoLab, ...] = ()
    """Lab results that arrive before this decision is proposed (the reason for a change)."""


@dataclass(frozen=True, slots=True)
class DemoReview:
    """How far the review of a demo case has gone, and what the demo summary says of it."""

    stage: str
    """One line for the demo summary."""
    reads: tuple[DemoRead, ...] = ()
    panel: tuple[str, ...] = ()
    decisions: tuple[DemoDecision, ...] = ()
    discordance: tuple[str, ...] = ()
    """Rules the discordance assessment must fire (checked by the build)."""


@dataclass(frozen=True, slots=True)
class DemoCase:
    """One demo case, how its imaging is made, and how far its review has gone."""

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
    review: DemoReview


_ULTRA = "ultrasensitive CSF JCV qPCR (reference lab)"
_LOCAL = "hospital JCV PCR"
CSF = LabTest.CSF_JCV_PCR
CD4 = LabTest.CD4_COUNT
INDEX = LabTest.SERUM_JCV_ANTIBODY_INDEX
P, A, NA = TriState.PRESENT, TriState.ABSENT, TriState.NOT_ASSESSED
YES, EQUIVOCAL = ImagingJudgement.YES, ImagingJudgement.EQUIVOCAL
EXACT, GENEROUS, TIGHT = Outline.EXACT, Outline.GENEROUS, Outline.TIGHT
PANEL = ("panel.dubois", "panel.eriksen")

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
        DemoReview(
            "definite PML (clinical pathway), as the criteria engine says; signed by both "
            "panel members",
            reads=(
                DemoRead("rad.ahmed", YES, EXACT, 5, "Left frontal subcortical FLAIR lesion "
                         "reaching the U-fibres, punctate satellites, no mass effect."),
                DemoRead("rad.berg", YES, GENEROUS, 4, "Typical PML; milky-way foci."),
            ),
            panel=PANEL,
            decisions=(
                DemoDecision("panel.dubois", Certainty.DEFINITE, Pathway.CLINICAL, None, PANEL),
            ),
        ),
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
        DemoReview(
            "two concordant reads; the panel has not proposed a decision yet",
            reads=(
                DemoRead("rad.berg", YES, EXACT, 5, "Right parieto-occipital confluent lesions."),
                DemoRead("rad.costa", YES, TIGHT, 4),
            ),
            panel=PANEL,
        ),
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
        DemoReview(
            "judgement rule: one reader says consistent with PML, the other equivocal",
            reads=(
                DemoRead("rad.costa", YES, EXACT, 3, "Small right frontal subcortical lesion "
                         "with satellites on a screening MRI; early PML likely."),
                DemoRead("rad.ahmed", EQUIVOCAL, GENEROUS, 2, "Could be a new MS lesion; "
                         "satellites not convincing."),
            ),
            panel=PANEL,
            discordance=("judgement",),
        ),
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
        DemoReview(
            "rad.ahmed has submitted; rad.berg's draft (lesion marked, no judgement yet) is "
            "offered back when rad.berg logs in",
            reads=(
                DemoRead("rad.ahmed", YES, EXACT, 4, "Left middle cerebellar peduncle lesion."),
                DemoRead("rad.berg", None, GENEROUS, submitted=False),
            ),
        ),
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
        DemoReview("complete; no readers assigned yet"),
    ),
    DemoCase(
        "PML-DEMO-006", "SE-STO", Sex.FEMALE, "70-79", Condition.HAEMATOLOGICAL_MALIGNANCY,
        "chronic lymphocytic leukaemia, rituximab and bendamustine",
        "Rapidly progressive aphasia and right arm weakness.",
        P, CaseStatus.FINAL,
        (("rituximab", -300, -120, 6), ("bendamustine", -300, -120, 12)),
        (("aphasia", P, -18), ("hemiparesis", P, -10)),
        (
            DemoLab(CD4, -2, LabQualitative.QUANTITATIVE, 210, "cells/µL"),
            DemoLab(CSF, 2, LabQualitative.NOT_DETECTED, None, "copies/mL", _LOCAL, 200, 500),
        ),
        (0, 21), (*CORE_SEQUENCES, SequenceClass.T2),
        (DemoLesion("left", "temporal", 16.5, growth_per_30_days=1.6),),
        106,
        DemoReview(
            "'possible PML' (hospital CSF PCR not detected) changed to 'definite' after an "
            "ultrasensitive PCR detected JCV; the first decision is superseded and kept",
            reads=(
                DemoRead("rad.berg", YES, EXACT, 5, "Left temporal subcortical lesion, growing."),
                DemoRead("rad.costa", YES, TIGHT, 4),
            ),
            panel=PANEL,
            decisions=(
                DemoDecision("panel.eriksen", Certainty.POSSIBLE, Pathway.CLINICAL, None, PANEL),
                DemoDecision(
                    "panel.dubois", Certainty.DEFINITE, Pathway.CLINICAL,
                    "Consistent clinical features and imaging, and now JCV DNA in the CSF.",
                    ("panel.dubois", "panel.eriksen"),
                    change_reason="Repeat CSF on day 16 (ultrasensitive qPCR) detected JCV DNA, "
                    "350 copies/mL; the day-2 hospital assay (LOD 200 copies/mL) was falsely "
                    "negative.",
                    labs_before=(
                        DemoLab(CSF, 16, LabQualitative.DETECTED, 350, "copies/mL", _ULTRA, 10, 50),
                    ),
                ),
            ),
        ),
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
        DemoReview("the lumbar puncture is not done yet; not ready for reading"),
    ),
    DemoCase(
        "PML-DEMO-008", "US-BOS", Sex.FEMALE, "40-49", Condition.HIV,
        "HIV on antiretroviral therapy, poor adherence",
        "Left hand clumsiness and hemisensory loss.",
        P, CaseStatus.DISCORDANT,
        (("antiretroviral therapy", -3000, None, None),),
        (("hemiparesis", P, -20), ("sensory deficit", P, -20)),
        (
            DemoLab(CD4, -1, LabQualitative.QUANTITATIVE, 88, "cells/µL"),
            DemoLab(CSF, 3, LabQualitative.NOT_DETECTED, None, "copies/mL", _ULTRA, 10, 50),
        ),
        (0, 45), (*CORE_SEQUENCES, SequenceClass.T2),
        (DemoLesion("right", "parietal", 12.0), DemoLesion("right", "frontal", 10.0)),
        108,
        DemoReview(
            "detection rule: both readers say consistent with PML, but one missed the smaller "
            "right frontal lesion",
            reads=(
                DemoRead("rad.ahmed", YES, EXACT, 4, "Right parietal and right frontal lesions."),
                DemoRead("rad.costa", YES, GENEROUS, 4, "Right parietal lesion.", missed=(2,)),
            ),
            panel=PANEL,
            discordance=("detection",),
        ),
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
        DemoReview(
            "the panel decided definite PML against the engine's 'not classifiable' (both "
            "reads equivocal), with its rationale",
            reads=(
                DemoRead("rad.costa", EQUIVOCAL, EXACT, 3, "Right occipital lesion close to the "
                         "cortex: PML or posterior reversible encephalopathy?"),
                DemoRead("rad.ahmed", EQUIVOCAL, GENEROUS, 3),
            ),
            panel=PANEL,
            decisions=(
                DemoDecision(
                    "panel.eriksen", Certainty.DEFINITE, Pathway.CLINICAL,
                    "Both readers were equivocal; on joint review the occipital lesion is "
                    "subcortical, spares the cortex, has punctate satellites and no mass effect, "
                    "typical of PML. With the visual field deficit and JCV DNA in the CSF this "
                    "is definite PML.",
                    ("panel.eriksen", "panel.dubois"),
                ),
            ),
        ),
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
        DemoReview(
            "pending signatures: definite PML proposed and signed by panel.eriksen, waiting "
            "for panel.dubois",
            reads=(
                DemoRead("rad.berg", YES, EXACT, 4, "Right frontal lesion, new rim enhancement."),
                DemoRead("rad.ahmed", YES, GENEROUS, 4),
            ),
            panel=PANEL,
            decisions=(
                DemoDecision(
                    "panel.eriksen", Certainty.DEFINITE, Pathway.CLINICAL, None,
                    ("panel.eriksen",),
                ),
            ),
        ),
    ),
)  # fmt: skip
