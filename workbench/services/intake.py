"""Site packages into the registry: check one (dry run), or take in the whole case at once.

A site package (:mod:`workbench.intake`: ``manifest.toml``, a lab CSV, image folders) becomes
one case, with its clinical record, exposures, clinical features, lab results and every
imaging series, **all or nothing**:

1. the package is read and validated without the registry (every problem, with file, line,
   field);
2. every image folder goes through the de-identification gate in the parser sandbox (every
   finding, naming the file and the attribute, never the value);
3. the series are loaded in the sandbox and written to the voxel cache;
4. the registry is checked for conflicts: the registry id on record already, a PatientID that
   is another case's id (or any id but this case's), a series that another case holds, a
   series the package holds twice;
5. then one write transaction creates the case, the clinical record, the lab results, the
   studies and series, records a ``case.intake`` audit event (the manifest's version and the
   package's checksum) and makes a complete case ready
   (:func:`workbench.readiness.promote_if_complete`).

Any problem, any failure and a cancel (``cancel()`` is asked between steps, and the sandbox
kills its worker when it is set) leave the registry without a trace of the case and remove the
cache files this intake wrote. :func:`check_package` runs steps 1-4 into a scratch cache that
is deleted afterwards: nothing is written anywhere.

Only coordinators and administrators take in packages: the policy is asked for creating
cases, entering labs and importing images before a single file of the package is parsed.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, String, and_, cast, null, or_, select, union_all
from sqlalchemy.orm import Session

from workbench.actor import Actor
from workbench.cases import create_case, get_case
from workbench.clinical_store import save_record
from workbench.domain import CaseStatus, SequenceClass
from workbench.errors import ValidationError
from workbench.imaging.errors import ImagingError
from workbench.importer import (
    ImportCancelledError,
    ImportRefusedError,
    LoadedVolume,
    ParserSandbox,
    default_sandbox,
    load_volumes,
    store_volumes,
)
from workbench.intake import (
    FORMAT,
    MANIFEST,
    SUPPORTED_VERSIONS,
    TEMPLATE_ID,
    VERSION,
    ImagingEntry,
    IntakePlan,
    PackageError,
    Problem,
    gate_worker,
    read_package_parts,
)
from workbench.intake import write_template as _write_template
from workbench.labs import add_lab_result
from workbench.policy import Action, require
from workbench.readiness import assess, promote_if_complete
from workbench.registry import audit
from workbench.registry.db import Registry
from workbench.registry.models import Case, ImagingStudy, Series
from workbench.review_config import load_review_config

__all__ = [
    "FORMAT",
    "MANIFEST",
    "SUPPORTED_VERSIONS",
    "TEMPLATE_ID",
    "VERSION",
    "ImportCancelledError",
    "IntakeCheck",
    "IntakePreview",
    "IntakeResult",
    "PackageError",
    "ParserSandbox",
    "Problem",
    "SeriesPreview",
    "TimepointPreview",
    "check_package",
    "default_sandbox",
    "intake",
    "write_template",
]

Progress = Callable[[str, float], None]
"""``progress(text, fraction)``: what is being done and how far (0 to 1)."""
Cancel = Callable[[], bool]
"""``cancel()``: whether the user asked to stop (e.g. ``threading.Event().is_set``)."""


def _quiet(_text: str, _fraction: float) -> None:
    pass


def _never() -> bool:
    return False


# --- what a package holds, as plain values -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeriesPreview:
    """One series found in an image folder."""

    sequence_class: SequenceClass
    description: str
    shape: tuple[int, ...]
    files: int
    series_instance_uid: str | None


@dataclass(frozen=True, slots=True)
class TimepointPreview:
    """One ``[[imaging]]`` entry and the series found in its folder."""

    day: int
    folder: str
    description: str | None
    series: tuple[SeriesPreview, ...]


@dataclass(frozen=True, slots=True)
class IntakePreview:
    """What a package creates (or created)."""

    registry_id: str
    site: str
    condition: str
    version: int
    checksum: str
    exposures: int
    features: int
    clinical: bool
    """Whether the package has a clinical record."""
    labs: int
    timepoints: tuple[TimepointPreview, ...]

    @property
    def series(self) -> int:
        """Series over all timepoints."""
        return sum(len(t.series) for t in self.timepoints)

    def lines(self) -> list[str]:
        """The preview as the command line prints it."""
        out = [
            f"case {self.registry_id} (site {self.site}, {self.condition}); manifest version "
            f"{self.version}, package SHA-256 {self.checksum[:16]}…",
            f"  clinical record: {'yes' if self.clinical else 'none'}; {self.exposures} "
            f"exposure(s), {self.features} clinical feature(s), {self.labs} lab result(s)",
        ]
        for timepoint in self.timepoints:
            out.append(
                f"  day {timepoint.day}: {timepoint.folder}, {len(timepoint.series)} series"
                + (f" ({timepoint.description})" if timepoint.description else "")
            )
            for series in timepoint.series:
                shape = "x".join(str(n) for n in series.shape)
                out.append(
                    f"    {series.sequence_class.value:6} {shape:14} {series.files:4} file(s)  "
                    f"{series.description}"
                )
        return out

    def as_json(self) -> dict[str, Any]:
        """The preview as ``--json`` prints it."""
        return {
            "registry_id": self.registry_id,
            "site": self.site,
            "condition": self.condition,
            "manifest_version": self.version,
            "checksum": self.checksum,
            "clinical_record": self.clinical,
            "exposures": self.exposures,
            "features": self.features,
            "lab_results": self.labs,
            "timepoints": [
                {
                    "day": t.day,
                    "folder": t.folder,
                    "description": t.description,
                    "series": [
                        {
                            "sequence_class": s.sequence_class.value,
                            "description": s.description,
                            "shape": list(s.shape),
                            "files": s.files,
                            "series_instance_uid": s.series_instance_uid,
                        }
                        for s in t.series
                    ],
                }
                for t in self.timepoints
            ],
        }


@dataclass(frozen=True, slots=True)
class IntakeCheck:
    """A dry run's answer: what would be created, or every problem (then ``preview`` may be
    ``None`` when the manifest itself could not be read into a case)."""

    preview: IntakePreview | None
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the package would be taken in."""
        return self.preview is not None and not self.problems


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What an intake created."""

    preview: IntakePreview
    status: CaseStatus
    """The new case's status: ``ready`` when it meets the completeness rules."""
    missing_for_reading: tuple[str, ...]
    """What the case misses to be read (empty when it is ready)."""
    series_ids: tuple[int, ...]
    seconds: float = 0.0

    @property
    def registry_id(self) -> str:
        """The new case's registry id."""
        return self.preview.registry_id


# --- the steps ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Prepared:
    """A package read, gated and loaded (mutable while it is being built)."""

    root: Path
    plan: IntakePlan | None
    problems: list[Problem]
    registry_id: str | None
    """The case's registry id, when the manifest gives a valid one (even if the plan is
    refused for something else)."""
    registry_id_line: int | None
    loaded: list[tuple[ImagingEntry, list[LoadedVolume]]] = field(default_factory=list)

    def preview(self) -> IntakePreview | None:
        plan = self.plan
        if plan is None:
            return None
        by_entry = {entry.relative: volumes for entry, volumes in self.loaded}
        return IntakePreview(
            registry_id=plan.case.registry_id,
            site=plan.case.site_code,
            condition=plan.case.condition.value,
            version=plan.version,
            checksum=plan.checksum,
            exposures=len(plan.case.exposures),
            features=len(plan.case.clinical_features),
            clinical=plan.clinical is not None,
            labs=len(plan.labs),
            timepoints=tuple(
                TimepointPreview(
                    entry.day,
                    entry.relative,
                    entry.description,
                    tuple(
                        SeriesPreview(
                            v.sequence_class,
                            v.description,
                            v.shape,
                            len(v.paths),
                            v.series_instance_uid,
                        )
                        for v in by_entry.get(entry.relative, [])
                    ),
                )
                for entry in plan.imaging
            ),
        )


def _require(actor: Actor) -> None:
    """A package creates a case, its labs and its series: the actor must be allowed all."""
    for action in (Action.CREATE_CASE, Action.EDIT_CASE, Action.ENTER_LABS, Action.IMPORT_IMAGES):
        require(actor, action)


def _relative(root: Path, file: str) -> str:
    path = Path(file)
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _stop_if(cancel: Cancel) -> None:
    if cancel():
        raise ImportCancelledError("intake cancelled; nothing was written")


def _prepare(
    registry: Registry,
    path: Path,
    cache_root: Path,
    *,
    policy_path: Path | None,
    sandbox: ParserSandbox,
    progress: Progress,
    cancel: Cancel,
    root_existed: bool = True,
) -> _Prepared:
    """Steps 1-4: read, gate, load (into ``cache_root``) and check conflicts. On a cancel
    or a failure the cache files written are removed before the error leaves (and
    ``cache_root`` too when it did not exist before and is left empty)."""
    root = Path(path).expanduser().resolve()
    progress("Reading the manifest", 0.02)
    parts = read_package_parts(root)
    entries = parts.imaging
    prepared = _Prepared(
        root, parts.plan, list(parts.problems), parts.registry_id, parts.registry_id_line
    )
    count = max(len(entries), 1)
    policy = str(policy_path) if policy_path else None
    try:
        gated: list[ImagingEntry] = []
        for number, entry in enumerate(entries):
            _stop_if(cancel)
            progress(
                f"Checking de-identification of {entry.relative}", 0.05 + 0.35 * number / count
            )
            try:
                checked, found = sandbox.run(
                    gate_worker, str(entry.folder), policy, cancelled=cancel, where=entry.relative
                )
            except ImportRefusedError as error:
                prepared.problems.append(Problem(entry.relative, None, "images", str(error)))
                continue
            for file, what, problem in found:
                prepared.problems.append(Problem(_relative(root, file), None, what, problem))
            if checked == 0:
                prepared.problems.append(
                    Problem(MANIFEST, entry.line, "imaging.folder",
                            f"{entry.relative!r} holds no DICOM or NIfTI file")
                )  # fmt: skip
            elif not found:
                gated.append(entry)
        for number, entry in enumerate(gated):
            _stop_if(cancel)
            progress(f"Reading images of {entry.relative}", 0.4 + 0.4 * number / count)
            try:
                volumes = load_volumes(sandbox, entry.folder, cache_root, cancelled=cancel)
            except (ImagingError, ImportRefusedError) as error:
                message = str(error).replace(str(entry.folder), entry.relative)
                prepared.problems.append(Problem(entry.relative, None, "images", message))
                continue
            prepared.loaded.append((entry, volumes))
        _stop_if(cancel)
        progress("Checking the registry for conflicts", 0.82)
        with registry.read() as session:
            prepared.problems += _conflicts(session, prepared)
    except BaseException:
        _remove_cached(prepared, cache_root, root_existed=root_existed)
        raise
    return prepared


def _series_key(volume: LoadedVolume) -> str:
    return volume.series_instance_uid or f"sha256:{volume.content_sha256}"


def _conflicts(session: Session, prepared: _Prepared) -> list[Problem]:
    """What in the registry (or in the package itself) stands against taking it in: the
    registry id exists, a PatientID names another case or person, a series belongs to a case
    already, or the package holds a series twice. One query for all series."""
    root = prepared.root
    this = prepared.registry_id
    problems: list[Problem] = []
    if (
        this is not None
        and session.scalars(select(Case.id).where(Case.registry_id == this)).first()
    ):
        problems.append(
            Problem(
                MANIFEST,
                prepared.registry_id_line,
                "case.registry_id",
                f"{this} exists already in this registry; a package creates a new case",
            )
        )
    volumes = [v for _, vs in prepared.loaded for v in vs]
    patient_ids = {v.patient_id for v in volumes if v.patient_id and v.patient_id != this}
    uids = {v.series_instance_uid for v in volumes if v.series_instance_uid}
    checksums = {v.content_sha256 for v in volumes if not v.series_instance_uid}
    named = select(
        Case.registry_id,
        cast(null(), String).label("series_instance_uid"),
        cast(null(), String).label("content_sha256"),
        cast(null(), Integer).label("series_id"),
    ).where(Case.registry_id.in_(patient_ids))
    held = (
        select(Case.registry_id, Series.series_instance_uid, Series.content_sha256, Series.id)
        .join(ImagingStudy, ImagingStudy.case_id == Case.id)
        .join(Series, Series.study_id == ImagingStudy.id)
        .where(
            or_(
                Series.series_instance_uid.in_(uids),
                and_(Series.series_instance_uid.is_(None), Series.content_sha256.in_(checksums)),
            )
        )
    )
    rows: list[Any] = list(
        session.execute(union_all(named, held).order_by("registry_id", "series_id"))
    )
    cases_named = {row.registry_id for row in rows if row.series_id is None}
    holders: dict[str, dict[str, int]] = {}
    for row in rows:
        if row.series_id is not None:
            key = row.series_instance_uid or f"sha256:{row.content_sha256}"
            holders.setdefault(key, {}).setdefault(row.registry_id, row.series_id)
    first_folder: dict[str, str] = {}
    reported: set[tuple[str, str]] = set()
    for entry, entry_volumes in prepared.loaded:
        for volume in entry_volumes:
            key = _series_key(volume)
            file = _relative(root, volume.paths[0])
            if (key, entry.relative) in reported:
                continue  # one report per series and folder, not per volume
            reported.add((key, entry.relative))
            if volume.patient_id and this is not None and volume.patient_id != this:
                if volume.patient_id in cases_named:
                    why = f"PatientID {volume.patient_id} is another case's registry id"
                else:
                    why = f"PatientID {volume.patient_id} is not this package's case"
                problems.append(Problem(file, None, "PatientID", f"{why} ({this})"))
            what = (
                f"series {volume.series_instance_uid}"
                if volume.series_instance_uid
                else f"this image (SHA-256 {volume.content_sha256[:12]}…)"
            )
            for holder, series_id in holders.get(key, {}).items():
                problems.append(
                    Problem(file, None, "series",
                            f"{what} already belongs to case {holder} (series #{series_id})")
                )  # fmt: skip
            earlier = first_folder.setdefault(key, entry.relative)
            if earlier != entry.relative:
                problems.append(
                    Problem(file, None, "series",
                            f"{what} is also in {earlier}: the package holds it twice")
                )  # fmt: skip
    return problems


def _remove_cached(prepared: _Prepared, cache_root: Path, *, root_existed: bool = True) -> None:
    """Delete the cache files this intake wrote (not those another series had written
    before), the shard folders that leaves empty, and the cache folder if it made it."""
    folders: set[Path] = set()
    for _entry, volumes in prepared.loaded:
        for volume in volumes:
            if volume.newly_cached:
                path = Path(volume.cache_path)
                path.unlink(missing_ok=True)
                folders.add(path.parent)
    for folder in sorted(folders, reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty
    if not root_existed:
        with contextlib.suppress(OSError):
            cache_root.rmdir()


# --- the services ------------------------------------------------------------------------------


def check_package(
    registry: Registry,
    actor: Actor,
    path: Path,
    *,
    policy_path: Path | None = None,
    sandbox: ParserSandbox | None = None,
    progress: Progress = _quiet,
    cancel: Cancel = _never,
) -> IntakeCheck:
    """Dry run: read and validate the package, gate every image, load the series into a
    scratch cache (deleted) and check the registry for conflicts. Writes nothing; returns
    what would be created and every problem. Raises
    :class:`~workbench.errors.PermissionDeniedError` for someone who may not take in
    packages, :class:`ImportCancelledError` when cancelled."""
    _require(actor)
    with tempfile.TemporaryDirectory(prefix="pml-intake-check-") as scratch:
        prepared = _prepare(
            registry, Path(path), Path(scratch), policy_path=policy_path,
            sandbox=sandbox or default_sandbox(), progress=progress, cancel=cancel,
        )  # fmt: skip
    progress("Checked", 1.0)
    return IntakeCheck(prepared.preview(), tuple(prepared.problems))


def intake(
    registry: Registry,
    actor: Actor,
    path: Path,
    *,
    cache_root: Path,
    policy_path: Path | None = None,
    sandbox: ParserSandbox | None = None,
    progress: Progress = _quiet,
    cancel: Cancel = _never,
) -> IntakeResult:
    """Take in the package at ``path`` as a new case, all or nothing (see the module's notes).

    Raises :class:`PackageError` listing every problem (nothing written),
    :class:`ImportCancelledError` when ``cancel()`` turned true before the commit (nothing
    written), :class:`~workbench.errors.PermissionDeniedError`, or another
    :class:`~workbench.errors.RegistryError`; in each case the cache files it wrote are gone.
    """
    _require(actor)
    started = time.perf_counter()
    cache_root = Path(cache_root)
    root_existed = cache_root.exists()
    prepared = _prepare(
        registry, Path(path), cache_root, policy_path=policy_path,
        sandbox=sandbox or default_sandbox(), progress=progress, cancel=cancel,
        root_existed=root_existed,
    )  # fmt: skip
    try:
        if prepared.problems or prepared.plan is None:
            raise PackageError(path, prepared.problems)
        plan = prepared.plan
        preview = prepared.preview()
        assert preview is not None
        progress("Storing in the registry", 0.85)
        with registry.write() as session:
            clashes = _conflicts(session, prepared)  # again, inside the transaction
            if clashes:
                raise PackageError(path, clashes)
            series_ids, status, missing = _write(session, actor, prepared, plan, progress, cancel)
    except ValidationError as error:
        _remove_cached(prepared, cache_root, root_existed=root_existed)
        if isinstance(error, PackageError):
            raise
        problem = Problem(MANIFEST, None, error.field or "package", str(error))
        raise PackageError(path, [problem]) from error
    except BaseException:
        _remove_cached(prepared, cache_root, root_existed=root_existed)
        raise
    progress("Done", 1.0)
    return IntakeResult(
        preview=preview,
        status=status,
        missing_for_reading=missing,
        series_ids=tuple(series_ids),
        seconds=time.perf_counter() - started,
    )


def _write(
    session: Session,
    actor: Actor,
    prepared: _Prepared,
    plan: IntakePlan,
    progress: Progress,
    cancel: Cancel,
) -> tuple[list[int], CaseStatus, tuple[str, ...]]:
    """Step 5, in the caller's transaction: the case and everything of it, the audit event,
    readiness. Returns the series ids, the status and what the case misses to be read."""
    registry_id = plan.case.registry_id
    case = create_case(session, actor, plan.case)
    if plan.clinical is not None:
        save_record(session, actor, case, plan.clinical, reason=f"site package {plan.root.name}")
    for lab in plan.labs:
        add_lab_result(session, actor, lab)
    series_ids: list[int] = []
    count = max(len(prepared.loaded), 1)
    for number, (entry, volumes) in enumerate(prepared.loaded):
        _stop_if(cancel)
        progress(f"Storing the series of {entry.relative}", 0.85 + 0.1 * number / count)
        ids = store_volumes(session, actor, registry_id, entry.day, volumes)
        series_ids += ids
        if entry.description and ids:
            studies = session.scalars(
                select(ImagingStudy).join(Series).where(Series.id.in_(ids)).distinct()
            )
            for study in studies:
                study.description = entry.description
    after: dict[str, Any] = {
        "format": FORMAT,
        "manifest_version": plan.version,
        "checksum": plan.checksum,
        "package": plan.root.name,
        "exposures": len(plan.case.exposures),
        "features": len(plan.case.clinical_features),
        "lab_results": len(plan.labs),
        "timepoints": [entry.day for entry in plan.imaging],
        "series": len(series_ids),
        "clinical_record": plan.clinical is not None,
    }
    audit.record(
        session,
        actor=actor.username,
        role=actor.main_role,
        action="case.intake",
        entity_type="case",
        entity_id=registry_id,
        after=after,
        reason=f"site package {plan.root.name} (manifest version {plan.version})",
    )
    rules = load_review_config().readiness
    promote_if_complete(session, actor, registry_id, rules)
    _stop_if(cancel)  # the last moment a cancel still leaves nothing
    case = get_case(session, registry_id)
    return series_ids, case.status, assess(case, rules).missing


def write_template(folder: Path, registry_id: str = TEMPLATE_ID) -> list[Path]:
    """Write a complete example package into the empty (or new) ``folder``; see
    :func:`workbench.intake.write_template`. Returns the files written."""
    return _write_template(folder, registry_id)


def problems_text(problems: Sequence[Problem]) -> str:
    """The problems one per line (``FILE:LINE: FIELD: PROBLEM``)."""
    return "\n".join(str(p) for p in problems)
