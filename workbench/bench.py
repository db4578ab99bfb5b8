"""``pml-workbench bench``: speed measured against a peer in the same run, as ratios.

Timed tests are flaky on shared machines; instead each row here times the workbench and a
peer (another library, or the physical bound of reading the same bytes) on the same data in
the same process, several times, and reports medians and their ratio. Data are generated:
a 176-slice 256×256 int16 series from the demo phantom, written as DICOM and as NIfTI.
Later capabilities append their rows to :data:`BENCHMARKS`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from viewers.bench import median_seconds


@dataclass(frozen=True, slots=True)
class BenchRow:
    """One measurement: ours, the peer's, and ours divided by the peer's."""

    name: str
    value: float
    unit: str
    peer: str
    peer_value: float | None
    ratio: float | None
    target: str

    def as_json(self) -> dict[str, Any]:
        """The row as ``--json`` prints it."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class BenchData:
    """Generated inputs shared by the benchmarks."""

    root: Path
    dicom_dir: Path
    nifti_path: Path
    volume: np.ndarray


def make_data(root: Path, *, slices: int = 176, size: int = 256) -> BenchData:
    """A ``slices``×``size``×``size`` int16 phantom series as DICOM files and as NIfTI."""
    import nibabel as nib

    from workbench.demo import phantom
    from workbench.demo.dicom_series import new_uid, write_series
    from workbench.domain import SequenceClass

    anatomy = phantom.make_anatomy((slices, size, size), (1.0, 1.0, 1.0), seed=7)
    lesion = phantom.place_lesion(anatomy, "left", "frontal", 12.0)
    maps = phantom.render_lesions(anatomy, [lesion])
    volume = phantom.synthesize(anatomy, maps, SequenceClass.FLAIR, seed=7)
    dicom_dir = root / "dicom"
    write_series(
        volume,
        dicom_dir,
        spacing_mm=(1.0, 1.0, 1.0),
        origin_lps=anatomy.origin_lps,
        study_instance_uid=new_uid("bench", "study"),
        series_instance_uid=new_uid("bench", "series"),
        frame_of_reference_uid=new_uid("bench", "frame"),
        series_number=1,
        sequence=SequenceClass.FLAIR,
        patient_pseudonym="PML-BENCH",
    )
    nifti_path = root / "flair.nii"
    nib.save(nib.Nifti1Image(np.ascontiguousarray(volume.T), np.eye(4)), nifti_path)
    return BenchData(root, dicom_dir, nifti_path, volume)


def _simpleitk_series_read(folder: Path) -> object:
    """The peer of a first import: SimpleITK's ImageSeriesReader into a numpy view."""
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayViewFromImage(reader.Execute())


def _bench_import(data: BenchData) -> Iterator[BenchRow]:
    from workbench.imaging.dicom import load_dicom

    ours = median_seconds(lambda: load_dicom(data.dicom_dir), repeat=3)
    theirs = median_seconds(lambda: _simpleitk_series_read(data.dicom_dir), repeat=3)
    yield BenchRow(
        f"first import of a DICOM series ({data.volume.shape[0]} files, 256x256 int16): "
        "load into a Volume",
        ours, "s", "SimpleITK ImageSeriesReader", theirs, ours / theirs, "< 1 (faster)",
    )  # fmt: skip


def _bench_reopen(data: BenchData) -> Iterator[BenchRow]:
    from workbench.cache import open_cached, store

    cache = data.root / "cache"
    path, _ = store(cache, "0" * 64, 0, data.volume.T)
    raw = data.root / "raw.bin"
    np.ascontiguousarray(data.volume.T).tofile(raw)
    shape = tuple(data.volume.T.shape)

    def ours() -> float:
        array = open_cached(path, shape=shape, dtype="int16")
        return float(np.asarray(array).sum(dtype=np.int64))  # touch every byte

    def peer() -> float:
        return float(np.fromfile(raw, dtype=np.int16).sum(dtype=np.int64))

    mine, theirs = median_seconds(ours), median_seconds(peer)
    yield BenchRow(
        f"reopen an imported series ({data.volume.shape[0]}x256x256 int16) from the voxel "
        "cache, all voxels read",
        mine, "s", "numpy.fromfile of the same bytes", theirs, mine / theirs, "<= 2",
    )  # fmt: skip


def _bench_gate(data: BenchData) -> Iterator[BenchRow]:
    from workbench.deid.gate import check
    from workbench.deid.policy import load_policy

    policy = load_policy(None)
    files = sorted(data.dicom_dir.glob("*.dcm"))
    seconds = median_seconds(lambda: check(data.dicom_dir, policy), repeat=3)
    per_file = seconds / len(files)

    def peer() -> object:
        import pydicom

        return [pydicom.dcmread(f, stop_before_pixels=True) for f in files]

    header_only = median_seconds(peer, repeat=3) / len(files)
    yield BenchRow(
        "de-identification gate, per DICOM file",
        per_file * 1000, "ms", "pydicom header read of the same file", header_only * 1000,
        per_file / header_only, "informative",
    )  # fmt: skip


def _bench_pipeline(data: BenchData) -> Iterator[BenchRow]:
    """The whole import a coordinator runs: gate, sandboxed load, cache, registry."""
    from workbench.cases import NewCase, create_case
    from workbench.domain import Condition, Sex
    from workbench.importer import ParserSandbox, import_path
    from workbench.registry.db import Registry
    from workbench.users import resolve_actor

    # A series goes into one case of a registry once, so each run (the warm-up and three
    # timed) imports into a registry of its own, opened and migrated before the clock starts.
    registries = [
        Registry.open(f"sqlite:///{data.root / f'bench{run}.sqlite3'}") for run in range(4)
    ]
    sandbox = ParserSandbox()
    sandbox.warm_up()
    runs = iter(range(len(registries)))

    def ours() -> object:
        run = next(runs)
        registry = registries[run]
        with registry.write() as session:
            actor = resolve_actor(session, "bench")
            create_case(
                session, actor, NewCase(f"PML-B{run}", "BENCH", Sex.OTHER, "40-49", Condition.HIV)
            )
        return import_path(
            registry, actor, data.dicom_dir, f"PML-B{run}", day=0,
            cache_root=data.root / f"cache{run}", sandbox=sandbox,
        )  # fmt: skip

    try:
        mine = median_seconds(ours, repeat=len(registries) - 1)
        theirs = median_seconds(lambda: _simpleitk_series_read(data.dicom_dir), repeat=3)
    finally:
        sandbox.close()
        for registry in registries:
            registry.close()
    yield BenchRow(
        f"whole import ({data.volume.shape[0]} files): de-identification gate, sandboxed load, "
        "voxel cache, registry",
        mine, "s", "SimpleITK ImageSeriesReader", theirs, mine / theirs, "informative",
    )  # fmt: skip


def _bench_draft(data: BenchData) -> Iterator[BenchRow]:
    """Saving a reader's draft with 20 lesions on the 176×256×256 series (registry write)."""
    from sqlalchemy import select

    from adjudication.vocabulary import Role
    from workbench.cases import NewCase, create_case
    from workbench.domain import CaseStatus, Condition, Sex
    from workbench.importer import ParserSandbox, import_path
    from workbench.reading_flow import assign
    from workbench.reads import LesionDraft, save_draft, start_or_resume_draft
    from workbench.registry.db import Registry
    from workbench.registry.models import Case
    from workbench.users import add_user, resolve_actor

    registry = Registry.open(f"sqlite:///{data.root / 'draft.sqlite3'}")
    sandbox = ParserSandbox()
    try:
        with registry.write() as session:
            coordinator = resolve_actor(session, "bench")
            create_case(
                session, coordinator, NewCase("PML-D", "BENCH", Sex.OTHER, "40-49", Condition.HIV)
            )
            add_user(session, "bench.reader", "Bench Reader", {Role.READER}, by=coordinator)
        result = import_path(
            registry, coordinator, data.dicom_dir, "PML-D", day=0,
            cache_root=data.root / "draft-cache", sandbox=sandbox,
        )  # fmt: skip
        shape = result.volumes[0].shape
        labels = np.zeros(shape, dtype=np.uint16)
        grid = np.indices((5, 4)).reshape(2, -1).T
        for n, (a, b) in enumerate(grid, start=1):
            i, j, k = 40 + a * 40, 50 + b * 45, 40 + (n % 5) * 20
            labels[i - 4 : i + 4, j - 4 : j + 4, k - 3 : k + 3] = n
        with registry.write() as session:
            session.scalars(
                select(Case).where(Case.registry_id == "PML-D")
            ).one().status = CaseStatus.READY
            assign(session, coordinator, "PML-D", ["bench.reader"], Role.READER)
            reader = resolve_actor(session, "bench.reader")
            read = start_or_resume_draft(session, reader, "PML-D")
            state = {"id": read.id, "version": read.version}

        def ours() -> None:
            with registry.write() as session:
                saved = save_draft(
                    session, reader, state["id"], state["version"],
                    lesions=[LesionDraft(result.series_ids[0], labels)],
                )  # fmt: skip
                state["version"] = saved.version

        def peer() -> None:
            np.save(data.root / "labels.npy", labels)

        mine, theirs = median_seconds(ours, repeat=3), median_seconds(peer, repeat=3)
    finally:
        sandbox.close()
        registry.close()
    yield BenchRow(
        "save a draft read with 20 lesions on a 176x256x256 grid (compressed masks, registry)",
        mine, "s", "numpy.save of the label map", theirs, mine / theirs, "informative",
    )  # fmt: skip


def _bench_autosave(data: BenchData) -> Iterator[BenchRow]:
    """Autosave after one lesion of a 20-lesion draft changed: only what changed is written.

    Two readers of one case on a 256×256×176 grid (no image import: the series row alone)
    each hold the same 20 lesions. Each run grows or shrinks lesion 7 by one voxel; ours
    saves through :meth:`~workbench.services.draft.DraftSession.save` (the changed lesion's
    row), the peer hands the whole snapshot to :func:`workbench.reads.save_draft` (every
    lesion re-measured, re-encoded and re-inserted), as the window did before.
    """
    import hashlib

    from adjudication.vocabulary import Role
    from viewers.labels_edit import VoxelBox
    from workbench.cases import NewCase, create_case
    from workbench.domain import CaseStatus, Condition, SequenceClass, Sex, SourceKind
    from workbench.reading_flow import assign
    from workbench.reads import LesionDraft, save_draft, start_or_resume_draft
    from workbench.registry.db import Registry
    from workbench.services.draft import DraftSession
    from workbench.studies import SeriesRecord, add_series, add_study
    from workbench.users import add_user, resolve_actor

    shape = (256, 256, 176)
    labels = np.zeros(shape, dtype=np.uint16)
    grid = np.indices((5, 4)).reshape(2, -1).T
    for n, (a, b) in enumerate(grid, start=1):
        i, j, k = 40 + a * 40, 50 + b * 45, 40 + (n % 5) * 20
        labels[i - 4 : i + 4, j - 4 : j + 4, k - 3 : k + 3] = n
    i, j, k = (int(v) + 1 for v in np.argwhere(labels == 7).max(axis=0))
    box = VoxelBox((i, j, k), (i + 1, j + 1, k + 1))

    registry = Registry.open(f"sqlite:///{data.root / 'autosave.sqlite3'}")
    try:
        with registry.write() as session:
            coordinator = resolve_actor(session, "bench")
            create_case(
                session, coordinator, NewCase("PML-S", "BENCH", Sex.OTHER, "40-49", Condition.HIV)
            )
            study = add_study(session, coordinator, "PML-S", 0)
            series = add_series(
                session, coordinator, study,
                SeriesRecord(
                    SourceKind.NIFTI, "/bench/flair.nii", hashlib.sha256(b"bench").hexdigest(),
                    SequenceClass.FLAIR, shape, np.eye(4), "int16",
                ),
            )  # fmt: skip
            session.flush()
            series_id = series.id
            study.case.status = CaseStatus.READY
            for name in ("bench.ours", "bench.peer"):
                add_user(session, name, name, {Role.READER}, by=coordinator)
            assign(session, coordinator, "PML-S", ["bench.ours", "bench.peer"], Role.READER)
        with registry.write() as session:
            ours_actor = resolve_actor(session, "bench.ours")
            peer_actor = resolve_actor(session, "bench.peer")
            read = start_or_resume_draft(session, peer_actor, "PML-S")
            read = save_draft(
                session, peer_actor, read.id, read.version,
                lesions=[LesionDraft(series_id, labels)],
            )  # fmt: skip
            peer_id, peer_version = read.id, [read.version]
        peer_labels = labels.copy()
        draft = DraftSession.open(registry, ours_actor, "PML-S", [series_id])
        draft.set_labels(series_id, labels)
        draft.save()

        def ours() -> None:
            array = draft.labels(series_id)
            array[box.lo] = 0 if array[box.lo] else 7
            draft.mark_edited(series_id, box)
            assert draft.save()

        def theirs() -> None:
            peer_labels[box.lo] = 0 if peer_labels[box.lo] else 7
            with registry.write() as session:
                saved = save_draft(
                    session, peer_actor, peer_id, peer_version[0],
                    lesions=[LesionDraft(series_id, peer_labels)],
                )  # fmt: skip
                peer_version[0] = saved.version

        mine, peer_seconds = median_seconds(ours, repeat=5), median_seconds(theirs, repeat=5)
    finally:
        registry.close()
    yield BenchRow(
        "autosave of a 20-lesion draft on a 256x256x176 grid after one lesion changed: "
        "DraftSession.save (the changed lesion's row only)",
        mine, "s", "save_draft of the whole snapshot (every lesion re-measured and re-inserted)",
        peer_seconds, mine / peer_seconds, "< 1 (faster)",
    )  # fmt: skip


def _bench_render(_data: BenchData) -> Iterator[BenchRow]:
    """Model change to pixels, from :mod:`viewers.bench` (its own synthetic volumes)."""
    from viewers.bench import render_benchmarks

    for row in render_benchmarks(repeat=100):
        yield BenchRow(**row)


def _bench_tools(_data: BenchData) -> Iterator[BenchRow]:
    """Click-to-grow and brush strokes on a 256³ volume, from :mod:`viewers.tools_bench`."""
    from viewers.tools_bench import tool_benchmarks

    for row in tool_benchmarks():
        yield BenchRow(**row)


BENCHMARKS: list[Callable[[BenchData], Iterator[BenchRow]]] = [
    _bench_import,
    _bench_pipeline,
    _bench_reopen,
    _bench_gate,
    _bench_render,
    _bench_tools,
    _bench_draft,
    _bench_autosave,
]
"""Every benchmark, in report order; later issues append theirs."""


def run_all(
    progress: Callable[[str], None] = lambda _text: None,
    *,
    slices: int = 176,
    cases: int = 100_000,
    postgres_url: str | None = None,
    only: Sequence[str] | None = None,
) -> list[BenchRow]:
    """Generate the data (``slices`` of 256×256) and run every benchmark (or those named in
    ``only``); the case list's rows build a registry of ``cases`` cases on SQLite and, given
    ``postgres_url``, on PostgreSQL (``cases`` 0 skips them)."""
    chosen = [b for b in BENCHMARKS if not only or b.__name__.removeprefix("_bench_") in only]
    rows: list[BenchRow] = []
    if chosen:
        with tempfile.TemporaryDirectory(prefix="pml-bench-") as folder:
            progress(f"generating a {slices}x256x256 phantom series as DICOM and NIfTI ...")
            data = make_data(Path(folder), slices=slices)
            for bench in chosen:
                progress(f"running {bench.__name__.removeprefix('_bench_')} ...")
                rows.extend(bench(data))
    if cases and (not only or "case_list" in only):
        progress(f"building {cases:,}-case registries and timing the case list ...")
        rows.extend(case_list_benchmarks(cases, postgres_url))
    return rows


def format_table(rows: list[BenchRow]) -> str:
    """Rows as a plain-text table (also used for the README)."""
    lines = [
        "| what | workbench | peer | peer value | ratio | target |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        peer_value = "" if row.peer_value is None else f"{row.peer_value:.4g} {row.unit}"
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(
            f"| {row.name} | {row.value:.4g} {row.unit} | {row.peer} | {peer_value} | {ratio} "
            f"| {row.target} |"
        )
    return "\n".join(lines)


# --- the case list at 100,000 cases -----------------------------------------------------------


def build_case_registry(
    registry: Any, cases: int, *, seed: int = 11, conditions: Sequence[Any] | None = None
) -> None:
    """Fill an empty registry with ``cases`` generated cases, their studies, series and lab
    results, with bulk Core inserts (seconds, not the ORM's minutes), then count them into
    ``case_list_rows`` as the workbench keeps it. Statuses, sites and conditions are spread
    the way a registry's are: most cases early in the flow, a few large sites."""
    import random

    import sqlalchemy as sa

    from workbench.domain import (
        CaseStatus,
        Condition,
        LabQualitative,
        LabTest,
        SequenceClass,
        Sex,
        SourceKind,
    )
    from workbench.registry import case_list_rows
    from workbench.registry.models import Case, ImagingStudy, LabResult, Series, Site, utcnow

    rng = random.Random(seed)
    now = utcnow()
    site_codes = [f"SITE-{n:02d}" for n in range(40)]
    site_weights = [1.0 / (n + 1) for n in range(len(site_codes))]
    statuses = list(CaseStatus)
    status_weights = [20, 15, 25, 5, 5, 30]
    conditions = list(conditions or Condition)
    with registry.engine.begin() as conn:
        conn.execute(
            sa.insert(Site),
            [{"id": n + 1, "code": c, "name": c, "version": 1} for n, c in enumerate(site_codes)],
        )
        case_rows: list[dict[str, Any]] = []
        study_rows: list[dict[str, Any]] = []
        series_rows: list[dict[str, Any]] = []
        lab_rows: list[dict[str, Any]] = []
        for n in range(1, cases + 1):
            case_rows.append(
                {
                    "id": n,
                    "registry_id": f"PML-{n:06d}",
                    "site_id": rng.choices(range(1, len(site_codes) + 1), site_weights)[0],
                    "sex": rng.choice((Sex.FEMALE, Sex.MALE)),
                    "age_band": "40-49",
                    "condition": rng.choice(conditions),
                    "status": rng.choices(statuses, status_weights)[0],
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
            for day in range(rng.randrange(4)):
                study_id = len(study_rows) + 1
                study_rows.append({"id": study_id, "case_id": n, "day": day * 60, "version": 1})
                for k in range(rng.randrange(4)):
                    series_rows.append(
                        {
                            "study_id": study_id,
                            "source_kind": SourceKind.NIFTI,
                            "source_uri": f"bench/{n}/{day}/{k}.nii.gz",
                            "content_sha256": f"{len(series_rows):064x}",
                            "sequence_class": SequenceClass.FLAIR,
                            "sequence_evidence": {},
                            "shape": [176, 256, 256],
                            "spacing": [1.0, 1.0, 1.0],
                            "affine": [],
                            "dtype": "int16",
                            "created_at": now,
                            "version": 1,
                        }
                    )
            for day in range(rng.randrange(4)):
                lab_rows.append(
                    {
                        "case_id": n,
                        "test": LabTest.CD4_COUNT,
                        "day": day * 30,
                        "qualitative": LabQualitative.QUANTITATIVE,
                        "value": 250.0,
                        "unit": "cells/uL",
                        "created_at": now,
                        "version": 1,
                    }
                )
        loads: list[tuple[Any, list[dict[str, Any]]]] = [
            (Case, case_rows),
            (ImagingStudy, study_rows),
            (Series, series_rows),
            (LabResult, lab_rows),
        ]
        for table, rows in loads:
            for start in range(0, len(rows), 20_000):
                conn.execute(sa.insert(table), rows[start : start + 20_000])
        if conn.dialect.name == "postgresql":
            for table in ("sites", "cases", "imaging_studies", "series", "lab_results"):
                conn.execute(  # ids were given: the sequences go on after them
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            conn.execute(sa.text("ANALYZE"))  # what autovacuum does after a load
        case_list_rows.recount_all(conn)
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE"))


@contextmanager
def _captured_sql(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    """Every query (with its parameters) the engine sends while the block runs."""
    from sqlalchemy import event

    statements: list[tuple[str, Any]] = []

    def listener(*args: Any) -> None:
        if not args[2].lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append((args[2], args[3]))  # the queries, not the transaction

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


@contextmanager
def _raw_client(url: Any) -> Iterator[Callable[[list[tuple[str, Any]]], None]]:
    """A function running statements through the database's own client library (the
    ``sqlite3`` module or psycopg), fetching every row: the peer of the case list rows."""
    if url.get_backend_name() == "sqlite":
        import sqlite3

        lite = sqlite3.connect(url.database)

        def run_sqlite(statements: list[tuple[str, Any]]) -> None:
            for sql, parameters in statements:
                lite.execute(sql, parameters).fetchall()

        try:
            yield run_sqlite
        finally:
            lite.close()
        return
    import psycopg

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as pg:

        def run_postgres(statements: list[tuple[str, Any]]) -> None:
            with pg.cursor() as cursor:
                for sql, parameters in statements:
                    cursor.execute(sql, parameters)
                    cursor.fetchall()

        yield run_postgres


def _case_list_rows(registry: Any, backend: str, cases: int, repeat: int) -> Iterator[BenchRow]:
    """Open, filter and sort the case list panel on ``registry`` (already built)."""
    from sqlalchemy import select

    from workbench.case_list import CaseListQuery, SortKey, list_page
    from workbench.cases import CaseFilter
    from workbench.domain import CaseStatus
    from workbench.registry.models import Site
    from workbench.ui import case_list_bench as ui
    from workbench.users import resolve_actor

    with registry.write() as session:
        actor = resolve_actor(session, "bench")  # the first user: coordinator and admin
        codes = list(session.scalars(select(Site.code).order_by(Site.code)))
    site = codes[0]
    where = f"{backend}, {cases:,} cases"
    target = "<= 300 ms"

    def sql_of(query: CaseListQuery, *, counts: bool) -> list[tuple[str, Any]]:
        with _captured_sql(registry.engine) as statements, registry.read() as session:
            list_page(session, actor, query, limit=200, counts=counts)
        return list(statements)

    def row(name: str, ours: float, peer: float) -> BenchRow:
        return BenchRow(
            f"case list ({where}): {name}",
            ours * 1000, "ms", "the same SQL through the database's own client library",
            peer * 1000, ours / peer, target,
        )  # fmt: skip

    ui.application()
    with _raw_client(registry.engine.url) as raw:
        opened: list[Any] = []

        def open_panel() -> None:
            opened.append(ui.open_panel(registry, actor, codes))

        ours = median_seconds(open_panel, repeat=repeat)
        for panel in opened[:-1]:
            ui.close(panel)
        panel = opened[-1]
        statements = sql_of(CaseListQuery(), counts=True)
        peer = median_seconds(lambda: raw(statements), repeat=repeat)
        yield row("open the panel, first page painted and counts shown", ours, peer)

        ui.filter_site(panel, site)
        flip = iter(range(1_000_000))

        def filtered() -> None:
            status = CaseStatus.FINAL if next(flip) % 2 else CaseStatus.READY
            ui.filter_status(panel, status)

        ours = median_seconds(filtered, repeat=repeat)
        statements = sql_of(
            CaseListQuery(CaseFilter(status=CaseStatus.FINAL, site=site)), counts=True
        )
        peer = median_seconds(lambda: raw(statements), repeat=repeat)
        yield row(f"filter by status and site ({site}), painted", ours, peer)
        panel.clear_filters()

        fragments = iter(f"{n:03d}" for n in range(1_000_000))

        def searched() -> None:
            ui.search(panel, next(fragments))

        ours = median_seconds(searched, repeat=repeat)
        statements = sql_of(CaseListQuery(CaseFilter(text="042")), counts=True)
        peer = median_seconds(lambda: raw(statements), repeat=repeat)
        yield row("search a registry id fragment (3 digits, Return), painted", ours, peer)
        panel.clear_filters()

        for title, sort in (
            ("Registry id", SortKey.REGISTRY_ID),
            ("Site", SortKey.SITE),
            ("Condition", SortKey.CONDITION),
            ("Status", SortKey.STATUS),
            ("Series", SortKey.SERIES),
            ("Labs", SortKey.LABS),
        ):
            turns = iter(range(1_000_000))

            def sort_once(title: str = title, turns: Iterator[int] = turns) -> None:
                ui.sort_by(panel, title, descending=next(turns) % 2 == 0)

            ours = median_seconds(sort_once, repeat=repeat)
            statements = sql_of(CaseListQuery(sort=sort, descending=True), counts=False)
            peer = median_seconds(partial(raw, statements), repeat=repeat)
            yield row(
                f"sort by {title.lower()} (header click, both directions), painted", ours, peer
            )

        ui.sort_by(panel, "Series", descending=False)

        def last_page() -> None:
            panel.table.scrollToBottom()
            ui.paint(panel)
            panel.table.scrollToTop()

        ours = median_seconds(last_page, repeat=repeat)
        rows_shown = panel.model.shown_count
        query = CaseListQuery(sort=SortKey.SERIES)
        with _captured_sql(registry.engine) as statements, registry.read() as session:
            list_page(session, actor, query, offset=rows_shown - 200, limit=200, counts=False)
            list_page(session, actor, query, offset=0, limit=200, counts=False)
        captured = list(statements)
        peer = median_seconds(lambda: raw(captured), repeat=repeat)
        yield row("scroll to the last row and back (sorted by series), painted", ours, peer)
        ui.close(panel)


def case_list_benchmarks(
    cases: int = 100_000, postgres_url: str | None = None, *, repeat: int = 5
) -> Iterator[BenchRow]:
    """The case list at ``cases`` cases on a SQLite file and, given ``postgres_url``, in a new
    schema of that PostgreSQL database (dropped afterwards)."""
    import uuid

    from sqlalchemy import create_engine, text

    from workbench.registry.db import Registry

    with tempfile.TemporaryDirectory(prefix="pml-bench-cases-") as folder:
        registry = Registry.open(f"sqlite:///{Path(folder) / 'registry.sqlite3'}")
        try:
            build_case_registry(registry, cases)
            yield from _case_list_rows(registry, "SQLite", cases, repeat)
        finally:
            registry.close()
    if not postgres_url:
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_url else "?"
    try:
        registry = Registry.open(f"{postgres_url}{sep}options=-csearch_path%3D{schema}")
        try:
            build_case_registry(registry, cases)
            yield from _case_list_rows(registry, "PostgreSQL", cases, repeat)
        finally:
            registry.close()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
