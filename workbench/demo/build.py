"""Build (or refresh) the demo registry from :mod:`workbench.demo.catalogue`.

The images are synthetic: :mod:`workbench.demo.phantom` makes each case's brain and PML-like
lesions (growing between timepoints) and :mod:`workbench.demo.dicom_series` writes every
sequence as a de-identified DICOM series under ``<data dir>/demo/images``; the series then go
through the same import as a site's data (de-identification gate, loader, voxel cache).
Nothing is downloaded and no real person is involved.

Building is idempotent: when the registry already holds this version of the demo and its
image files are in place, nothing is done. Otherwise the demo cases are removed (audited) and
built again. Each case is written in its own transaction.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from adjudication.vocabulary import Role
from workbench.cases import NewCase, NewExposure, NewFeature, create_case, update_case
from workbench.config import data_dir, demo_dir
from workbench.demo import phantom
from workbench.demo.catalogue import DEMO_CASES, DemoCase
from workbench.demo.dicom_series import new_uid, write_series
from workbench.domain import CaseStatus
from workbench.importer import ParserSandbox, import_path
from workbench.labs import LabEntry, add_lab_result
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import Case, ReaderAssignment, User
from workbench.users import Actor, add_user, default_username, resolve_actor

DEMO_VERSION = "1"
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

_READ_STAGES = {
    CaseStatus.IN_READING,
    CaseStatus.DISCORDANT,
    CaseStatus.IN_ADJUDICATION,
    CaseStatus.FINAL,
}
_PANEL_STAGES = {CaseStatus.DISCORDANT, CaseStatus.IN_ADJUDICATION, CaseStatus.FINAL}


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
        """One paragraph for the terminal."""
        if self.up_to_date:
            cases = len(DEMO_CASES)
            return f"Demo registry is up to date ({cases} cases, images in {self.images_dir})."
        return (
            f"Built the demo registry: {len(self.built)} cases with synthetic MRI (a brain "
            f"phantom, no real person) in {self.images_dir}, in {self.seconds:.1f} s. "
            f"You are '{self.username}' (administrator, coordinator); demo readers and panel "
            f"members have the password '{DEMO_PASSWORD}'."
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
    with registry.write() as session:
        known = set(session.scalars(select(User.username)))
        if known and username not in known:
            # The demo registry is the user's own sandbox: whoever runs it coordinates it.
            add_user(session, username, username, {Role.ADMIN, Role.COORDINATOR}, by=None)
        actor = resolve_actor(session, username)
        for name, display, roles in DEMO_USERS:
            if name not in known:
                add_user(session, name, display, set(roles), by=actor, password=DEMO_PASSWORD)
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
            session.execute(delete(ReaderAssignment).where(ReaderAssignment.case_id == case.id))
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
    """Write the case's synthetic DICOM, then enter it the way a coordinator would."""
    days = _write_images(demo, folder)
    with registry.write() as session:
        case = create_case(session, actor, _new_case(demo))
        for lab in demo.labs:
            add_lab_result(
                session,
                actor,
                LabEntry(
                    demo.registry_id, lab.test, lab.day, lab.result, lab.value, lab.unit,
                    lab.assay, lab.lod, lab.loq,
                ),
            )  # fmt: skip
        _assign(session, actor, case, demo.status)
    for day, day_folder in days:
        import_path(
            registry, actor, day_folder, demo.registry_id, day=day, cache_root=cache_root,
            sandbox=sandbox,
        )  # fmt: skip
    if demo.status != CaseStatus.INCOMPLETE:
        with registry.write() as session:
            version = session.scalars(
                select(Case.version).where(Case.registry_id == demo.registry_id)
            ).one()
            update_case(session, actor, demo.registry_id, version, {"status": demo.status.value})


def _write_images(demo: DemoCase, folder: Path) -> list[tuple[int, Path]]:
    """Every timepoint of the case as DICOM series; returns (day, folder) pairs."""
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
    for day in demo.days:
        maps = phantom.render_lesions(anatomy, [phantom.grown(x, day) for x in lesions])
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
    return written


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


def _assign(session: Session, actor: Actor, case: Case, status: CaseStatus) -> None:
    users = {u.username: u for u in session.scalars(select(User))}
    wanted: list[tuple[str, Role]] = []
    if status in _READ_STAGES:
        readers = ("rad.ahmed", "rad.berg") if case.id % 2 else ("rad.berg", "rad.costa")
        wanted += [(name, Role.READER) for name in readers]
    if status in _PANEL_STAGES:
        wanted += [("panel.dubois", Role.PANEL), ("panel.eriksen", Role.PANEL)]
    for name, role in wanted:
        session.add(ReaderAssignment(case_id=case.id, user_id=users[name].id, role=role))
        audit.record(
            session,
            actor=actor.username,
            role=actor.main_role,
            action="case.assign",
            entity_type="case",
            entity_id=case.registry_id,
            after={"user": name, "role": role.value},
        )
