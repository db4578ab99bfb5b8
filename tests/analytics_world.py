"""A small registry for the analytics tests, built through the real services.

Every case goes the way a real one does: created by the coordinator, its clinical record and
outcome saved, readers and panel assigned, reads submitted, a decision proposed and signed by
two panel members (and, for some, changed later with a reason). The numbers each test expects
can be counted by hand from :data:`CASES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from adjudication.consensus import Proposal
from adjudication.vocabulary import Certainty, ImagingJudgement, Pathway, Role
from tests.signin import TEST_PASSWORD
from workbench.cases import NewCase, NewExposure, get_case, update_case
from workbench.clinical import ClinicalRecord, DrugClass, YesNoUnknown
from workbench.domain import CaseStatus, Condition, Outcome, Sex
from workbench.panel import propose_decision, sign_decision
from workbench.reading_flow import submit
from workbench.reads import save_draft, start_or_resume_draft
from workbench.registry.db import Registry
from workbench.services import cases
from workbench.services.clinical import CaseOutcome, set_clinical_record
from workbench.users import Actor, add_user, resolve_actor

READERS = ("reader1", "reader2")
PANEL = ("panel1", "panel2")


@dataclass(frozen=True)
class Spec:
    """One case of the test registry."""

    registry_id: str
    site: str
    condition: Condition
    exposures: tuple[NewExposure, ...] = ()
    record: ClinicalRecord | None = None
    outcome: CaseOutcome | None = None
    certainty: Certainty | None = None
    """The first final decision (``None``: no decision)."""
    change_to: Certainty | None = None
    """A later final decision replacing the first."""
    reads: int = 2
    """Reads submitted of the two assigned (0 with ``assign=False``)."""
    assign: bool = True


NATALIZUMAB = DrugClass.ANTI_INTEGRIN

CASES: tuple[Spec, ...] = (
    Spec(
        "PML-0001",
        "NL-AMS",
        Condition.MS_NATALIZUMAB,
        (
            NewExposure("Natalizumab", start_day=-1000, drug_class=NATALIZUMAB),
            NewExposure("mitoxantrone", start_day=-2000, stop_day=-1500, prior=True),
        ),
        ClinicalRecord(
            diagnosis_year=2024,
            onset_day=-10,
            diagnosis_day=0,
            anti_jcv_index=2.0,
            iris=YesNoUnknown.YES,
            iris_onset_day=30,
        ),
        CaseOutcome(Outcome.DIED, 100),
        Certainty.DEFINITE,
    ),
    Spec(
        "PML-0002",
        "NL-AMS",
        Condition.MS_NATALIZUMAB,
        (NewExposure("natalizumab", start_day=-500, drug_class=NATALIZUMAB),),
        ClinicalRecord(
            diagnosis_year=2024,
            onset_day=-30,
            diagnosis_day=5,
            anti_jcv_index=0.5,
            iris=YesNoUnknown.NO,
        ),
        CaseOutcome(Outcome.ALIVE, 400),
        Certainty.PROBABLE,
    ),
    Spec(
        "PML-0003",
        "DE-BER",
        Condition.HIV,
        (),
        ClinicalRecord(diagnosis_year=2023, onset_day=-20, diagnosis_day=0),
        CaseOutcome(Outcome.DIED, 50),
        Certainty.PROBABLE,
        change_to=Certainty.DEFINITE,
    ),
    Spec(
        "PML-0004",
        "DE-BER",
        Condition.MS_NATALIZUMAB,
        (NewExposure("natalizumab", start_day=-3000, drug_class=NATALIZUMAB),),
        ClinicalRecord(anti_jcv_index=1.2),
        None,
        Certainty.POSSIBLE,
    ),
    Spec("PML-0005", "NL-AMS", Condition.HIV, certainty=Certainty.NOT_PML),
    Spec(
        "PML-0006",
        "NL-AMS",
        Condition.MS_NATALIZUMAB,
        (NewExposure("natalizumab", start_day=-400),),
        reads=1,
    ),
    Spec("PML-0007", "DE-BER", Condition.TRANSPLANT, assign=False, reads=0),
)
"""Hand-countable: with the default rule (definite + probable) the PML cases are 0001
(definite), 0002 (probable) and 0003 (probable, changed to definite)."""


@dataclass(frozen=True)
class World:
    registry: Registry
    coordinator: Actor
    people: dict[str, Actor] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Actor:
        return self.people[name]


def people(registry: Registry, coordinator: Actor) -> World:
    """Two readers, two panel members and a reader-only user ``outsider``."""
    found = {}
    with registry.write() as session:
        for name in (*READERS, "outsider"):
            add_user(
                session, name, f"Dr {name}", {Role.READER}, by=coordinator, password=TEST_PASSWORD
            )
        for name in PANEL:
            add_user(
                session, name, f"Dr {name}", {Role.PANEL}, by=coordinator, password=TEST_PASSWORD
            )
        for name in (*READERS, *PANEL, "outsider"):
            found[name] = resolve_actor(session, name)
    return World(registry, coordinator, found)


def _decide(w: World, spec: Spec, certainty: Certainty, reason: str | None) -> None:
    pathway = Pathway.CLINICAL if certainty in (Certainty.DEFINITE, Certainty.PROBABLE) else None
    if certainty is Certainty.POSSIBLE:
        pathway = Pathway.CLINICAL
    proposal = Proposal(certainty, pathway, rationale="decided for the analytics test")
    with w.registry.write() as session:
        decision_id = propose_decision(
            session, w[PANEL[0]], spec.registry_id, proposal, change_reason=reason
        ).id
    for member in PANEL:
        with w.registry.write() as session:
            sign_decision(session, w[member], decision_id, TEST_PASSWORD)


def add_case(w: World, spec: Spec) -> None:
    """Create ``spec``'s case and take it as far as the spec says."""
    cases.create_case(
        w.registry,
        w.coordinator,
        NewCase(
            spec.registry_id,
            spec.site,
            Sex.FEMALE,
            "40-49",
            spec.condition,
            exposures=spec.exposures,
        ),
    )
    if spec.record is not None or spec.outcome is not None:
        set_clinical_record(
            w.registry,
            w.coordinator,
            spec.registry_id,
            spec.record or ClinicalRecord(),
            reason=None,
            version=None,
            outcome=spec.outcome,
        )
    with w.registry.write() as session:
        case = get_case(session, spec.registry_id)
        if case.status is CaseStatus.INCOMPLETE:
            update_case(
                session,
                w.coordinator,
                spec.registry_id,
                case.version,
                {"status": CaseStatus.READY},
            )
    if not spec.assign:
        return
    cases.assign(w.registry, w.coordinator, spec.registry_id, readers=READERS, panel=PANEL)
    for reader in READERS[: spec.reads]:
        with w.registry.write() as session:
            read = start_or_resume_draft(session, w[reader], spec.registry_id)
            read = save_draft(
                session,
                w[reader],
                read.id,
                read.version,
                lesions=(),
                judgement=ImagingJudgement.YES,
            )
        with w.registry.write() as session:
            submit(session, w[reader], read.id, read.version)
    if spec.certainty is not None:
        _decide(w, spec, spec.certainty, None)
    if spec.change_to is not None:
        _decide(w, spec, spec.change_to, "a new CSF PCR result")


def build(registry: Registry, coordinator: Actor, specs: Sequence[Spec] = CASES) -> World:
    """The people and the cases of ``specs``."""
    w = people(registry, coordinator)
    for spec in specs:
        add_case(w, spec)
    return w
