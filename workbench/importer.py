"""Importing imaging into the registry: gate, load, cache, store — all or nothing.

Untrusted files are parsed in a separate worker process (:class:`ParserSandbox`) with a
memory ceiling, so a pathological file can crash or exhaust only that worker, never the
window. The worker runs the de-identification gate, loads every volume under the path,
writes each into the voxel cache (:mod:`workbench.cache`) and returns metadata only. The
parent then checks that the series may go into the case (:func:`_refuse_clashes`: not
another case's patient, not a series another case or this one already holds) and writes
every series in one transaction. Anything that fails or is cancelled before that commit
leaves the registry as it was and removes the cache files this import created.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Integer, String, and_, cast, null, or_, select, union_all
from sqlalchemy.orm import Session

from workbench.domain import SequenceClass, SourceKind
from workbench.errors import NotFoundError, RegistryError, ValidationError
from workbench.policy import Action, require
from workbench.registry.db import Registry
from workbench.registry.models import Case, ImagingStudy, Series
from workbench.studies import SeriesRecord, add_series, add_study
from workbench.users import Actor

NIFTI_SUFFIXES = (".nii", ".nii.gz")
WORKER_MEMORY_FRACTION = 0.6
"""Share of physical memory the parsing worker may map before its allocations fail."""


class ImportRefusedError(ValidationError):
    """The import was refused (de-identification, unreadable files, series that belong to
    another case or are in this one already); nothing was written."""


class ImportCancelledError(RegistryError):
    """The user cancelled; nothing was written."""


@dataclass(frozen=True, slots=True)
class LoadedVolume:
    """What the worker hands back for one volume: everything but the voxels."""

    shape: tuple[int, ...]
    dtype: str
    affine: tuple[float, ...]
    kind: SourceKind
    content_sha256: str
    paths: tuple[str, ...]
    study_instance_uid: str | None
    series_instance_uid: str | None
    frame_of_reference_uid: str | None
    sequence_class: SequenceClass
    sequence_evidence: dict[str, Any]
    meta: dict[str, Any]
    volume_index: int
    cache_path: str
    newly_cached: bool
    patient_id: str | None = None
    """PatientID of the volume's first file (DICOM; ``None`` when empty or for NIfTI). Past
    the de-identification gate it is empty or a registry pseudonym."""

    @property
    def description(self) -> str:
        """Series description from the header, or the file name."""
        text = self.meta.get("series_description") or self.meta.get("description")
        return str(text) if text else Path(self.paths[0]).name


@dataclass(frozen=True, slots=True)
class GateFinding:
    """One reason the de-identification gate refused the input (never the value itself)."""

    file: str
    what: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import stored."""

    registry_id: str
    series_ids: tuple[int, ...]
    volumes: tuple[LoadedVolume, ...]
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)


def load_any(path: Path) -> list[Any]:
    """Every volume under ``path``: a NIfTI file, or DICOM files and folders."""
    from workbench.imaging.dicom import load_dicom
    from workbench.imaging.nifti import load_nifti

    if path.is_file() and path.name.lower().endswith(NIFTI_SUFFIXES):
        return [load_nifti(path)]
    return load_dicom(path)


# --- the worker -------------------------------------------------------------------------------


def _limit_memory() -> None:  # pragma: no cover - runs in the worker process
    import resource

    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return
    ceiling = int(physical * WORKER_MEMORY_FRACTION)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))


def _worker_gate(path: str, policy_path: str | None) -> tuple[list[GateFinding], list[str]]:
    from workbench.deid.gate import check
    from workbench.deid.policy import load_policy

    report = check(Path(path), load_policy(Path(policy_path) if policy_path else None))
    findings = [
        GateFinding(str(f.file), f"{f.keyword} {f.tag} [{f.rule}]: {f.message}")
        for f in report.findings
    ]
    return findings, [u.line() for u in report.unreadable]


def _worker_load(path: str, cache_root: str) -> list[LoadedVolume]:
    from workbench.cache import store

    volumes = load_any(Path(path))
    loaded: list[LoadedVolume] = []
    index_of: dict[str, int] = {}
    patient_of: dict[str, str | None] = {}
    for volume in volumes:
        identity = volume.identity
        first = identity.paths[0]
        if identity.kind == SourceKind.DICOM and first not in patient_of:
            patient_of[first] = _patient_id(first)
        index = index_of.get(identity.content_sha256, 0)
        index_of[identity.content_sha256] = index + 1
        target, created = store(Path(cache_root), identity.content_sha256, index, volume.array)
        loaded.append(
            LoadedVolume(
                shape=tuple(int(n) for n in volume.array.shape),
                dtype=str(volume.array.dtype),
                affine=tuple(float(v) for v in np.asarray(volume.affine).ravel()),
                kind=identity.kind,
                content_sha256=identity.content_sha256,
                paths=identity.paths,
                study_instance_uid=identity.study_instance_uid,
                series_instance_uid=identity.series_instance_uid,
                frame_of_reference_uid=identity.frame_of_reference_uid,
                sequence_class=volume.sequence_class,
                sequence_evidence=dict(volume.sequence_evidence),
                meta=_plain(volume.meta),
                volume_index=index,
                cache_path=str(target),
                newly_cached=created,
                patient_id=patient_of.get(first),
            )
        )
    return loaded


def _patient_id(path: str) -> str | None:
    """The PatientID of one DICOM file (its header only), ``None`` when empty or absent.

    One file per volume is read: the files of a series share their patient, and reading
    every file again would cost what discovery's fast header reader saves.
    """
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["PatientID"])
    return str(ds.get("PatientID") or "").strip() or None


def _plain(value: Any) -> Any:
    """JSON-able copy of header metadata (numpy scalars and tuples become plain values)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class ParserSandbox:
    """A reusable worker process that parses untrusted image files.

    The worker starts on first use (``spawn``, so no state of the window is inherited) and is
    replaced after a crash or a cancel. One sandbox serves one import at a time.
    """

    def __init__(self) -> None:
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_limit_memory,
            )
        return self._pool

    def warm_up(self) -> None:
        """Start the worker and import its modules now rather than on the first import."""
        self.run(_noop, cancelled=lambda: False)

    def run(
        self,
        function: Callable[..., Any],
        *args: Any,
        cancelled: Callable[[], bool],
        where: str = "",
    ) -> Any:
        """``function(*args)`` in the worker; cancellable; a crash becomes a clear error."""
        with self._lock:
            future = self._executor().submit(function, *args)
            while True:
                try:
                    return future.result(timeout=0.05)
                except concurrent.futures.TimeoutError:
                    if cancelled():
                        self._kill()
                        raise ImportCancelledError(
                            "import cancelled; nothing was written"
                        ) from None
                except BrokenProcessPool:
                    self._kill()
                    raise ImportRefusedError(
                        f"{where}: reading it crashed the image reader (a malformed or hostile "
                        "file, or not enough memory); nothing was imported"
                    ) from None

    def _kill(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # ProcessPoolExecutor cannot stop a running task; end its worker instead.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _noop() -> None:
    import workbench.imaging.dicom  # noqa: F401  (warm the worker's imports)


_SANDBOX: ParserSandbox | None = None


def default_sandbox() -> ParserSandbox:
    """The process-wide parsing worker."""
    global _SANDBOX
    if _SANDBOX is None:
        _SANDBOX = ParserSandbox()
    return _SANDBOX


# --- the import -------------------------------------------------------------------------------


def import_path(
    registry: Registry,
    actor: Actor,
    path: Path,
    registry_id: str,
    *,
    day: int | None,
    cache_root: Path,
    policy_path: Path | None = None,
    sandbox: ParserSandbox | None = None,
    progress: Callable[[str, float], None] = lambda _text, _fraction: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> ImportResult:
    """Gate, load, cache and store everything under ``path`` on case ``registry_id``.

    ``day`` is the timepoint's day relative to the case's index date; it may be omitted only
    when every study in ``path`` is already known for the case. Raises
    :class:`ImportRefusedError` (de-identification or unreadable input, listing what was
    found), :class:`~workbench.imaging.errors.ImagingError` (geometry and file problems,
    naming the file), :class:`ImportCancelledError` or another :class:`RegistryError`; in
    every such case nothing is written.
    """
    require(actor, Action.IMPORT_IMAGES)  # before a single untrusted file is parsed
    started = time.perf_counter()
    sandbox = sandbox or default_sandbox()
    path = Path(path)
    if not path.exists():
        raise ImportRefusedError(f"{path}: no such file or folder")
    with registry.read() as session:
        _case_or_fail(session, registry_id)
    progress("Checking de-identification", 0.05)
    findings, unreadable = sandbox.run(
        _worker_gate, str(path), str(policy_path) if policy_path else None,
        cancelled=cancelled, where=str(path),
    )  # fmt: skip
    if findings or unreadable:
        raise ImportRefusedError(_refusal(path, findings, unreadable))
    progress("Reading images", 0.25)
    loaded: list[LoadedVolume] = sandbox.run(
        _worker_load, str(path), str(cache_root), cancelled=cancelled, where=str(path)
    )
    try:
        if cancelled():
            raise ImportCancelledError("import cancelled; nothing was written")
        progress("Storing in the registry", 0.9)
        with registry.write() as session:
            case = _case_or_fail(session, registry_id)
            _refuse_clashes(session, path, case, loaded)
            ids = _store(session, actor, registry_id, day, loaded)
    except BaseException:
        for volume in loaded:
            if volume.newly_cached:
                Path(volume.cache_path).unlink(missing_ok=True)
        raise
    progress("Done", 1.0)
    return ImportResult(registry_id, tuple(ids), tuple(loaded), time.perf_counter() - started)


def load_volumes(
    sandbox: ParserSandbox, path: Path, cache_root: Path, *, cancelled: Callable[[], bool]
) -> list[LoadedVolume]:
    """Load every volume under ``path`` in the sandbox worker and write it into the voxel
    cache under ``cache_root`` (no gate, no registry): for callers that gate first and store
    several paths in one transaction of their own (site packages). The caller removes the
    files of volumes marked ``newly_cached`` if it does not commit."""
    loaded: list[LoadedVolume] = sandbox.run(
        _worker_load, str(path), str(cache_root), cancelled=cancelled, where=str(path)
    )
    return loaded


def store_volumes(
    session: Session,
    actor: Actor,
    registry_id: str,
    day: int | None,
    loaded: Sequence[LoadedVolume],
) -> list[int]:
    """Store loaded volumes on case ``registry_id`` at ``day`` in the caller's transaction
    (studies and series, audited); the caller has checked clashes. Returns the series ids."""
    return _store(session, actor, registry_id, day, loaded)


def _case_or_fail(session: Session, registry_id: str) -> Case:
    case = session.scalars(select(Case).where(Case.registry_id == registry_id)).first()
    if case is None:
        raise NotFoundError(f"no case {registry_id!r} in this registry; create it first")
    return case


def _refusal(path: Path, findings: Sequence[GateFinding], unreadable: Sequence[str]) -> str:
    lines = [f"{path}: refused by the de-identification gate; nothing was imported."]
    if findings:
        files_of: dict[str, list[str]] = {}
        for finding in findings:
            files_of.setdefault(finding.what, []).append(finding.file)
        total_files = len({f.file for f in findings})
        lines.append(
            f"{len(findings)} identifying item(s) in {total_files} file(s), "
            f"{len(files_of)} kind(s):"
        )
        for what, files in list(files_of.items())[:40]:
            where = files[0] if len(files) == 1 else f"{len(files)} files, e.g. {files[0]}"
            lines.append(f"  {what} ({where})")
        if len(files_of) > 40:
            lines.append(f"  ... and {len(files_of) - 40} more kinds")
    if unreadable:
        lines.append(f"{len(unreadable)} file(s) could not be read:")
        lines += [f"  {u}" for u in unreadable[:20]]
    return "\n".join(lines)


def _series_key(series_instance_uid: str | None, content_sha256: str) -> str:
    """What identifies a series across the registry: its SeriesInstanceUID, else (NIfTI,
    which has none) the checksum of its file."""
    return series_instance_uid or f"sha256:{content_sha256}"


def _refuse_clashes(
    session: Session, path: Path, case: Case, loaded: Sequence[LoadedVolume]
) -> None:
    """Refuse the whole import, before anything is stored, when any of its series
    (a) carries another case's registry id as its PatientID, (b) already belongs to another
    case (same SeriesInstanceUID; for NIfTI, the same checksum), or (c) is already in this
    case, in any of its studies. Every clash is named; one query answers for all series.
    """
    this = case.registry_id
    patient_ids = {v.patient_id for v in loaded if v.patient_id and v.patient_id != this}
    uids = {v.series_instance_uid for v in loaded if v.series_instance_uid}
    checksums = {v.content_sha256 for v in loaded if not v.series_instance_uid}
    cases_named = select(
        Case.registry_id,
        cast(null(), String).label("series_instance_uid"),
        cast(null(), String).label("content_sha256"),
        cast(null(), Integer).label("series_id"),
        cast(null(), Integer).label("day"),
    ).where(Case.registry_id.in_(patient_ids))
    series_held = (
        select(
            Case.registry_id,
            Series.series_instance_uid,
            Series.content_sha256,
            Series.id,
            ImagingStudy.day,
        )
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
        session.execute(union_all(cases_named, series_held).order_by("registry_id", "series_id"))
    )
    other_cases = {row.registry_id for row in rows if row.series_id is None}
    held: dict[str, dict[str, Any]] = {}  # series -> case -> its first volume there
    for row in rows:
        if row.series_id is not None:
            key = _series_key(row.series_instance_uid, row.content_sha256)
            held.setdefault(key, {}).setdefault(row.registry_id, row)
    problems: list[str] = []
    seen: set[tuple[str, str | None]] = set()
    for volume in loaded:
        key = _series_key(volume.series_instance_uid, volume.content_sha256)
        if (key, volume.patient_id) in seen:
            continue  # one report per series, not per volume
        seen.add((key, volume.patient_id))
        where = volume.paths[0]
        if volume.patient_id in other_cases:
            problems.append(
                f"{where}: PatientID {volume.patient_id} is another case's registry id; "
                f"this import is into {this}"
            )
        what = (
            f"series {volume.series_instance_uid}"
            if volume.series_instance_uid
            else f"this image (SHA-256 {volume.content_sha256[:12]}…)"
        )
        for row in held.pop(key, {}).values():
            if row.registry_id == this:
                problems.append(
                    f"{where}: {what} is already in case {this} "
                    f"(series #{row.series_id}, day {row.day})"
                )
            else:
                problems.append(
                    f"{where}: {what} already belongs to case {row.registry_id} "
                    f"(series #{row.series_id}, day {row.day}); this import is into {this}"
                )
    if len(problems) == 1:
        raise ImportRefusedError(f"{problems[0]} (nothing was imported)")
    if problems:
        raise ImportRefusedError(
            "\n".join(
                [f"{path}: {len(problems)} problems, nothing was imported:"]
                + [f"  {p}" for p in problems]
            )
        )


def _store(
    session: Session,
    actor: Actor,
    registry_id: str,
    day: int | None,
    loaded: Sequence[LoadedVolume],
) -> list[int]:
    case = _case_or_fail(session, registry_id)
    known = {
        s.study_instance_uid: s
        for s in session.scalars(select(ImagingStudy).where(ImagingStudy.case_id == case.id))
        if s.study_instance_uid
    }
    ids: list[int] = []
    for volume in loaded:
        study_uid = volume.study_instance_uid
        study_day = day
        if study_day is None:
            if study_uid in known:
                study_day = known[study_uid].day
            else:
                raise ValidationError(
                    f"day: the study of {volume.paths[0]} is new to case {registry_id}; "
                    "say which day it is (relative to the index date) with --day N"
                )
        study = add_study(
            session, actor, registry_id, study_day, study_instance_uid=study_uid,
            description=volume.meta.get("study_description") or None,
        )  # fmt: skip
        series = add_series(
            session,
            actor,
            study,
            SeriesRecord(
                source_kind=volume.kind,
                source_uri=str(Path(volume.paths[0]).parent)
                if volume.kind == SourceKind.DICOM and len(volume.paths) > 1
                else volume.paths[0],
                content_sha256=volume.content_sha256,
                sequence_class=volume.sequence_class,
                shape=volume.shape,
                affine=np.asarray(volume.affine).reshape(4, 4),
                dtype=volume.dtype,
                series_instance_uid=volume.series_instance_uid,
                frame_of_reference_uid=volume.frame_of_reference_uid,
                description=volume.description[:200],
                n_files=len(volume.paths),
                cache_path=volume.cache_path,
                volume_index=volume.volume_index,
                sequence_evidence=volume.sequence_evidence,
            ),
        )
        ids.append(series.id)
    return ids
