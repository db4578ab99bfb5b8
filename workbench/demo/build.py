"""Build (or refresh) the demo registry from :mod:`workbench.demo.catalogue`.

The images are synthetic: :mod:`workbench.demo.phantom` makes each case's brain and PML-like
lesions (growing between timepoints) and :mod:`workbench.demo.dicom_series` writes every
sequence as a de-identified DICOM series under ``<data dir>/demo/images``; the series then go
through the same import as a site's data (de-identification gate, loader, voxel cache).
Nothing is downloaded and no real person is involved.

The review is real too: each case's :class:`~workbench.demo.catalogue.DemoReview` is carried
out through the data layer a user's clicks go through: the coordinator marks the case ready
and assigns readers and panel (:func:`workbench.reading_flow.assign`); readers save drafts with
lesion masks (:func:`workbench.reads.save_draft`) drawn from the phantom's own lesion label map
on the FLAIR grid of the latest timepoint (one reader's outline a voxel wider or narrower, for
realism) and submit them (:func:`workbench.reading_flow.submit`, which assesses discordance);
panel members propose and sign decisions with their passwords (:mod:`workbench.panel`). So the
demo holds cases at every stage, each with a true audit trail, and the build checks that every
case ends at the status the catalogue promises.

Building is idempotent: when the registry already holds this version of the demo and its
image files are in place, nothing is done. Otherwise the demo cases are removed (audited) and
built again. Each case is written in a few transactions (case, imports, review).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from adjudication.consensus import Proposal
from adjudication.lesions import ContrastEnhancement, DwiPattern, Hemisphere, Location
from adjudication.vocabulary import Role, TriState
from workbench.cases import NewCase, NewExposure, NewFeature, create_case, update_case
from workbench.clinical import ClinicalRecord
from workbench.clinical_store import save_record
from workbench.config import data_dir, demo_dir
from workbench.demo import phantom
from workbench.demo.catalogue import DEMO_CASES, DemoCase, DemoLab, DemoLesion, DemoRead, Outline
from workbench.demo.dicom_series import new_uid, write_series
from workbench.domain import CaseStatus, Outcome, SequenceClass
from workbench.importer import ParserSandbox, import_path
from workbench.labs import LabEntry, add_lab_result
from workbench.panel import propose_decision, sign_decision
from workbench.reading_flow import assign, submit
from workbench.reads import LesionDetails, LesionDraft, save_draft, start_or_resume_draft
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import (
    Case,
    CaseAssignment,
    Decision,
    ImagingStudy,
    Lesion,
    Read,
    Series,
    Signature,
    User,
    utcnow,
)
from workbench.review_config import ReviewConfig
from workbench.studies import series_affine
from workbench.users import Actor, add_user, default_username, resolve_actor, set_site

DEMO_VERSION = "3"
"""Bump when the catalogue or the phantom changes, so existing demos are rebuilt."""
DEMO_PREFIX = "PML-DEMO-"
DEMO_PASSWORD = "demo"
"""Password of the demo's reader and panel accounts (they exist only in the demo registry)."""

DEMO_USERS: tuple[tuple[str, str, frozenset[Role]], ...] = (
    ("rad.ahmed", "Dr Sara Ahmed", frozenset({Role.READER})),
    ("rad.berg", "Dr Lars Berg", frozenset({Role.READER})),
    ("rad.costa", "Dr Ana Costa", frozenset({Role.READER})),
    ("panel.dubois", "Prof. Claire Dubois", frozenset({Role.PANEL})),
    ("panel.eriksen", "Dr Nils Eriksen", frozenset({Role.PANEL})),
)
DEMO_SITES = {"rad.ahmed": "FR-PAR", "rad.berg": "DE-BN", "rad.costa": "NL-AMS"}
"""The readers' own sites: none reads a case of their site, and the balanced assignment
leaves each out of their site's cases (rad.ahmed of PML-DEMO-005, rad.costa of -007)."""

DEMO_REVIEW_CONFIG = ReviewConfig()
"""The demo is reviewed with the built-in configuration (two signatures, default discordance
thresholds), whatever ``review.toml`` says, so that its cases always end at the stages the
catalogue promises."""


class DemoCancelled(Exception):  # noqa: N818 (a request, not an error)
    """The user cancelled the build; cases already built stay, the demo is marked stale."""


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What a build did."""

    username: str
    built: tuple[str, ...]
    up_to_date: bool
    images_dir: Path
    seconds: float

    def summary(self) -> str:
        """A paragraph for the terminal, then the review stage of every case."""
        if self.up_to_date:
            cases = len(DEMO_CASES)
            return (
                f"Demo registry is up to date ({cases} cases, images in {self.images_dir}).\n"
                + stages_summary()
            )
        return (
            f"Built the demo registry: {len(self.built)} cases with synthetic MRI (a brain "
            f"phantom, no real person) in {self.images_dir}, in {self.seconds:.1f} s. "
            f"You are '{self.username}' (administrator, coordinator); you, the demo readers "
            f"and the panel members have the password '{DEMO_PASSWORD}'.\n" + stages_summary()
        )


def stages_summary() -> str:
    """Which demo case is at which review stage, one line each, and whom to act as."""
    width = max(len(c.status.label) for c in DEMO_CASES)
    lines = [f"  {c.registry_id}  {c.status.label:<{width}}  {c.review.stage}" for c in DEMO_CASES]
    users = ", ".join(name for name, _, _ in DEMO_USERS)
    return (
        "Cases by review stage:\n"
        + "\n".join(lines)
        + "\nSee a case as a reader or panel member: sign in as one of them "
        + f"('pml-workbench --db demo login NAME'; {users})."
    )


def build_demo(
    registry: Registry,
    *,
    images_dir: Path | None = None,
    cache_root: Path | None = None,
    username: str | None = None,
    progress: Callable[[str], None] = lambda _text: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> DemoReport:
    """Build or refresh the demo in ``registry``; see the module docstring."""
    started = time.perf_counter()
    images = images_dir or demo_dir() / "images"
    marker = images / "demo.json"
    username = (username or default_username()).lower()
    actor = _ensure_demo_users(registry, username)
    if _up_to_date(registry, marker):
        return DemoReport(username, (), True, images, time.perf_counter() - started)
    progress("Removing the previous demo cases ...")
    _remove_demo(registry, actor, images)
    built: list[str] = []
    sandbox = ParserSandbox()
    try:
        for number, demo in enumerate(DEMO_CASES, start=1):
            if cancelled():
                raise DemoCancelled(f"demo build cancelled after {len(built)} case(s)")
            progress(
                f"[{number}/{len(DEMO_CASES)}] {demo.registry_id}: synthesising MRI, importing ..."
            )
            folder = images / demo.registry_id
            _build_case(registry, actor, demo, folder, cache_root or data_dir() / "cache", sandbox)
            built.append(demo.registry_id)
    finally:
        sandbox.close()
    marker.write_text(
        json.dumps({"version": DEMO_VERSION, "cases": built}, indent=2), encoding="utf-8"
    )
    return DemoReport(username, tuple(built), False, images, time.perf_counter() - started)


def _ensure_demo_users(registry: Registry, username: str) -> Actor:
    # The demo registry is the user's own sandbox: whoever runs it coordinates it. Every demo
    # user chose the demo password themselves (it is not a one-time one), so the demo can be
    # signed in to at once.
    with registry.write() as session:
        known = set(session.scalars(select(User.username)))
        if username not in known:
            first = {Role.ADMIN, Role.COORDINATOR}
            add_user(session, username, username, first, by=None, password=DEMO_PASSWORD)
        actor = resolve_actor(session, username)
        for name, display, roles in DEMO_USERS:
            if name not in known:
                add_user(session, name, display, set(roles), by=actor, password=DEMO_PASSWORD)
        for name, site in DEMO_SITES.items():
            set_site(session, actor, name, site)  # no change, no event, when already set
    return actor


def _up_to_date(registry: Registry, marker: Path) -> bool:
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    expected = [c.registry_id for c in DEMO_CASES]
    if recorded.get("version") != DEMO_VERSION or recorded.get("cases") != expected:
        return False
    with registry.read() as session:
        present = set(
            session.scalars(select(Case.registry_id).where(Case.registry_id.in_(expected)))
        )
    return present == set(expected)


def _remove_demo(registry: Registry, actor: Actor, images: Path) -> None:
    with registry.write() as session:
        stale = session.scalars(select(Case).where(Case.registry_id.startswith(DEMO_PREFIX)))
        for case in stale:
            audit.record(
                session,
                actor=actor.username,
                role=actor.main_role,
                action="case.delete",
                entity_type="case",
                entity_id=case.registry_id,
                reason="demo registry refreshed",
            )
            # Lesions point at series (no cascade), decisions and reads at each other: remove
            # them before the case's own cascade removes its studies and series.
            reads = select(Read.id).where(Read.case_id == case.id)
            decisions = select(Decision.id).where(Decision.case_id == case.id)
            session.execute(delete(Lesion).where(Lesion.read_id.in_(reads)))
            session.execute(delete(Read).where(Read.case_id == case.id))
            session.execute(delete(Signature).where(Signature.adjudication_id.in_(decisions)))
            session.execute(delete(Decision).where(Decision.case_id == case.id))
            session.execute(delete(CaseAssignment).where(CaseAssignment.case_id == case.id))
            session.delete(case)
    if images.exists():
        shutil.rmtree(images)
    images.mkdir(parents=True, exist_ok=True)


def _build_case(
    registry: Registry,
    actor: Actor,
    demo: DemoCase,
    folder: Path,
    cache_root: Path,
    sandbox: ParserSandbox,
) -> None:
    """Write the case's synthetic DICOM, enter it the way a coordinator would, review it."""
    images = _write_images(demo, folder)
    with registry.write() as session:
        case = create_case(session, actor, _new_case(demo))
        if demo.registry_id in DEMO_CLINICAL:
            record, outcome, outcome_day = DEMO_CLINICAL[demo.registry_id]
            update_case(session, actor, demo.registry_id, case.version,
                        {"outcome": outcome, "outcome_day": outcome_day})  # fmt: skip
            save_record(session, actor, case, record, reason=None)
        for lab in demo.labs:
            add_lab_result(session, actor, _lab_entry(demo, lab))
    for day, day_folder in images.days:
        import_path(
            registry, actor, day_folder, demo.registry_id, day=day, cache_root=cache_root,
            sandbox=sandbox,
        )  # fmt: skip
    if demo.status is not CaseStatus.INCOMPLETE:
        with registry.write() as session:  # the coordinator finds the case complete
            version = session.scalars(
                select(Case.version).where(Case.registry_id == demo.registry_id)
            ).one()
            update_case(session, actor, demo.registry_id, version, {"status": "ready"})
        with registry.write() as session:
            _review(session, actor, demo, images)
    with registry.read() as session:
        status = session.scalars(
            select(Case.status).where(Case.registry_id == demo.registry_id)
        ).one()
    if status is not demo.status:
        raise RuntimeError(
            f"demo case {demo.registry_id}: its review ended {status.label}, but the catalogue "
            f"says {demo.status.label}; the catalogue and the review flow disagree"
        )


DEMO_CLINICAL: dict[str, tuple[ClinicalRecord, Outcome, int | None]] = {
    # A transplant recipient whose brain biopsy shows the triad and JC virus (IHC and PCR):
    # the histopathologic pathway makes it definite PML.
    "PML-DEMO-005": (
        ClinicalRecord.from_json(
            {
                "diagnosis_year": 2024, "onset_day": -25, "diagnosis_day": 9,
                "detection_mode": "symptomatic", "other_conditions": ["solid_neoplasm"],
                "lymphocytes": 0.6, "lymphocytes_day": 0, "cd4_nadir": 240, "cd4_nadir_day": 1,
                "iris": "no",
                "histopathology": [{
                    "kind": "biopsy", "day": 8, "demyelination": "present",
                    "bizarre_astrocytes": "present", "enlarged_oligodendroglial_nuclei": "present",
                    "tissue_jcv": "detected", "techniques": ["ihc", "pcr"],
                }],
                "treatments": [
                    {"kind": "immunosuppression_reduced", "detail": "mycophenolate stopped",
                     "start_day": -5},
                ],
                "scores": [
                    {"scale": "kps", "time": "before_pml", "value": 80},
                    {"scale": "kps", "time": "diagnosis", "value": 50},
                    {"scale": "mrs", "time": "diagnosis", "value": 4},
                ],
            }
        ),
        Outcome.ALIVE, 30,
    ),
    # Natalizumab-associated PML with IRIS after plasma exchange, followed for a year.
    "PML-DEMO-001": (
        ClinicalRecord.from_json(
            {
                "diagnosis_year": 2023, "onset_day": -21, "diagnosis_day": 3,
                "detection_mode": "symptomatic", "anti_jcv_index": 3.4, "anti_jcv_index_day": -180,
                "lymphocytes": 2.9, "lymphocytes_day": 0, "iris": "yes", "iris_onset_day": 38,
                "iris_treatment": "methylprednisolone 1 g/day for 5 days",
                "treatments": [
                    {"kind": "plasma_exchange", "detail": "5 sessions", "start_day": 4,
                     "stop_day": 12},
                    {"kind": "corticosteroids", "detail": "for IRIS", "start_day": 38,
                     "stop_day": 42},
                ],
                "scores": [
                    {"scale": "edss", "time": "before_pml", "value": 2.5},
                    {"scale": "edss", "time": "diagnosis", "value": 5.0},
                    {"scale": "edss", "time": "month_6", "value": 6.0},
                    {"scale": "edss", "time": "month_12", "value": 5.5},
                    {"scale": "mrs", "time": "month_12", "value": 3},
                ],
            }
        ),
        Outcome.ALIVE, 365,
    ),
}  # fmt: skip
"""Demo cases with a research clinical record: ``(record, outcome, outcome day)``."""


def _lab_entry(demo: DemoCase, lab: DemoLab) -> LabEntry:
    return LabEntry(
        demo.registry_id, lab.test, lab.day, lab.result, lab.value, lab.unit, lab.assay,
        lab.lod, lab.loq,
    )  # fmt: skip


def _review(session: Session, coordinator: Actor, demo: DemoCase, images: _Images) -> None:
    """Carry out the case's review through the review flow: assign, read, decide, sign."""
    review, registry_id = demo.review, demo.registry_id
    readers = [read.reader for read in review.reads]
    if readers:
        assign(session, coordinator, registry_id, readers, Role.READER)
    if review.panel:
        assign(session, coordinator, registry_id, list(review.panel), Role.PANEL)
    _backdate_assignments(session, demo)
    if not review.reads:
        return
    flair = _latest_flair(session, demo)
    if not np.allclose(series_affine(flair), images.affine, atol=1e-3):
        raise RuntimeError(
            f"demo case {registry_id}: the imported FLAIR series #{flair.id} does not lie where "
            "the phantom was written; its lesion masks would be misplaced"
        )
    fired: set[str] = set()
    for spec in review.reads:
        reader = resolve_actor(session, spec.reader)
        read = start_or_resume_draft(session, reader, registry_id)
        read = save_draft(
            session,
            reader,
            read.id,
            read.version,
            lesions=[_lesion_draft(flair.id, images.truth, demo, spec)],
            judgement=spec.judgement,
            confidence=spec.confidence,
            comment=spec.comment,
        )
        if spec.submitted:
            read, result = submit(session, reader, read.id, read.version, config=DEMO_REVIEW_CONFIG)
            if result is not None:
                fired.update(result.fired)
    missing = sorted(set(review.discordance) - fired)
    if missing:
        raise RuntimeError(
            f"demo case {registry_id}: the discordance rule(s) {', '.join(missing)} did not "
            f"fire (fired: {', '.join(sorted(fired)) or 'none'})"
        )
    for decision in review.decisions:
        for lab in decision.labs_before:
            add_lab_result(session, coordinator, _lab_entry(demo, lab))
        member = resolve_actor(session, decision.proposed_by)
        proposal = Proposal(decision.certainty, decision.pathway, decision.rationale)
        adjudication = propose_decision(
            session, member, registry_id, proposal, change_reason=decision.change_reason
        )
        for signer in decision.signers:
            sign_decision(
                session,
                resolve_actor(session, signer),
                adjudication.id,
                DEMO_PASSWORD,
                config=DEMO_REVIEW_CONFIG,
            )


def _backdate_assignments(session: Session, demo: DemoCase) -> None:
    """Give the demo's worklists a history: case number N was assigned 3 + 3N days ago and
    is due 14 days after that (the default of ``[worklist]``), so the later cases' open work
    (rad.berg's draft of PML-DEMO-004, the panel's pending decisions) is overdue and the
    dashboard shows turnaround times. ``assigned_at`` and ``due_at`` are the registry's own
    bookkeeping, not audited facts (see :data:`workbench.registry.rowhash.GUARDED`)."""
    number = int(demo.registry_id.removeprefix(DEMO_PREFIX))
    assigned = utcnow() - dt.timedelta(days=3 + 3 * number)
    case_id = select(Case.id).where(Case.registry_id == demo.registry_id).scalar_subquery()
    for row in session.scalars(select(CaseAssignment).where(CaseAssignment.case_id == case_id)):
        row.assigned_at = assigned
        row.due_at = assigned + dt.timedelta(days=14)
    session.flush()


def _latest_flair(session: Session, demo: DemoCase) -> Series:
    """The FLAIR series of the case's latest timepoint: the grid the demo readers draw on."""
    return session.scalars(
        select(Series)
        .join(ImagingStudy, ImagingStudy.id == Series.study_id)
        .join(Case, Case.id == ImagingStudy.case_id)
        .where(
            Case.registry_id == demo.registry_id,
            ImagingStudy.day == max(demo.days),
            Series.sequence_class == SequenceClass.FLAIR,
        )
    ).one()


def _shifted_in_plane(mask: npt.NDArray[np.bool_], grow: bool) -> npt.NDArray[np.bool_]:
    """``mask`` (indexed i, j, k) dilated (``grow``) or eroded by one voxel within each slice."""
    source = mask if grow else ~mask
    out = source.copy()
    out[1:, :] |= source[:-1, :]
    out[:-1, :] |= source[1:, :]
    out[:, 1:] |= source[:, :-1]
    out[:, :-1] |= source[:, 1:]
    return out if grow else ~out


def _lesion_draft(
    series_id: int, truth: npt.NDArray[np.int16], demo: DemoCase, spec: DemoRead
) -> LesionDraft:
    """What the reader marked: the phantom's lesions on the series' (i, j, k) grid, outlined
    as :attr:`DemoRead.outline` says, without the lesions the reader missed."""
    lesions = np.asarray(truth).transpose(2, 1, 0)  # phantom (k, j, i) -> series (i, j, k)
    labels = np.zeros(lesions.shape, dtype=np.uint8)
    details: dict[int, LesionDetails] = {}
    for number, lesion in enumerate(demo.lesions, start=1):
        if number in spec.missed:
            continue
        mask = lesions == number
        if spec.outline is not Outline.EXACT:
            mask = _shifted_in_plane(mask, grow=spec.outline is Outline.GENEROUS)
        mask &= labels == 0
        if not mask.any():
            continue
        labels[mask] = number
        if spec.submitted:  # a draft's lesions are not described yet
            details[number] = _described(lesion, demo)
    return LesionDraft(series_id, labels, details)


def _described(lesion: DemoLesion, demo: DemoCase) -> LesionDetails:
    """How a demo reader describes a phantom lesion (side, lobe, PML features)."""
    below = lesion.lobe == phantom.Lobe.INFRATENTORIAL
    enhancement = ContrastEnhancement.NOT_ASSESSED
    if SequenceClass.T1_GD in demo.sequences:
        enhancement = ContrastEnhancement.RIM if lesion.enhancing else ContrastEnhancement.NONE
    features = {
        "u_fibres": TriState.NOT_ASSESSED if below else TriState.PRESENT,
        "cortical_grey_matter": TriState.ABSENT,
        "t1_hypointensity": TriState.PRESENT,
        "dwi_pattern": DwiPattern.RIM,
        "contrast_enhancement": enhancement,
        "mass_effect": TriState.ABSENT,
        "milky_way": TriState.PRESENT if lesion.satellites else TriState.ABSENT,
    }
    return LesionDetails(
        hemisphere=Hemisphere(lesion.hemisphere),
        location=None if below else Location(lesion.lobe),
        features={name: value.value for name, value in features.items()},
    )


@dataclass(frozen=True, slots=True, eq=False)
class _Images:
    """What :func:`_write_images` wrote, and the ground truth the demo readers draw from."""

    days: list[tuple[int, Path]]
    """(day, folder) of each timepoint."""
    truth: npt.NDArray[np.int16]
    """The phantom's lesion labels at the latest timepoint, (k, j, i) = (z, y, x)."""
    affine: npt.NDArray[np.float64]
    """Voxel (i, j, k) to LPS mm of every written series."""


def _write_images(demo: DemoCase, folder: Path) -> _Images:
    """Every timepoint of the case as DICOM series."""
    anatomy = phantom.make_anatomy(seed=demo.seed)
    lesions = [
        phantom.place_lesion(
            anatomy,
            spec.hemisphere,
            spec.lobe,
            spec.radius_mm,
            seed=n,
            growth_per_30_days=spec.growth_per_30_days,
            enhancing=spec.enhancing,
            satellites=spec.satellites,
        )
        for n, spec in enumerate(demo.lesions)
    ]
    spacing_zyx = anatomy.spacing_mm
    spacing = (spacing_zyx[1], spacing_zyx[2], spacing_zyx[0])
    frame_uid = new_uid(demo.registry_id, "frame")
    written: list[tuple[int, Path]] = []
    truth = np.zeros(anatomy.shape, np.int16)
    for day in demo.days:
        maps = phantom.render_lesions(anatomy, [phantom.grown(x, day) for x in lesions])
        if day == max(demo.days):
            truth = maps.labels
        study_uid = new_uid(demo.registry_id, str(day), "study")
        day_folder = folder / f"day{day:+04d}"
        for number, sequence in enumerate(demo.sequences, start=1):
            volume = phantom.synthesize(anatomy, maps, sequence, seed=demo.seed * 1000 + day)
            write_series(
                volume,
                day_folder / f"{number:02d}_{sequence.name}",
                spacing_mm=spacing,
                origin_lps=anatomy.origin_lps,
                study_instance_uid=study_uid,
                series_instance_uid=new_uid(demo.registry_id, str(day), sequence.value),
                frame_of_reference_uid=frame_uid,
                series_number=number,
                sequence=sequence,
                patient_pseudonym=demo.registry_id,
                study_description=f"MRI brain, day {day}",
                patient_sex={"female": "F", "male": "M"}.get(demo.sex.value, ""),
            )
        written.append((day, day_folder))
    return _Images(written, truth, anatomy.affine_lps)


def _new_case(demo: DemoCase) -> NewCase:
    return NewCase(
        registry_id=demo.registry_id,
        site_code=demo.site,
        sex=demo.sex,
        age_band=demo.age_band,
        condition=demo.condition,
        condition_detail=demo.condition_detail,
        clinical_summary=demo.summary,
        clinical_consistent=demo.clinical,
        exposures=tuple(NewExposure(*e) for e in demo.exposures),
        clinical_features=tuple(
            NewFeature(name, status, day) for name, status, day in demo.features
        ),
    )
