"""``pml-workbench bench``: speed measured against a peer in the same run, as ratios.

Timed tests are flaky on shared machines; instead each row here times the workbench and a
peer (another library, or the physical bound of reading the same bytes) on the same data in
the same process, several times, and reports medians and their ratio. Data are generated:
a 176-slice 256×256 int16 series from the demo phantom, written as DICOM and as NIfTI.
Later capabilities append their rows to :data:`BENCHMARKS`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
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
    progress: Callable[[str], None] = lambda _text: None, *, slices: int = 176
) -> list[BenchRow]:
    """Generate the data (``slices`` of 256×256) and run every benchmark."""
    with tempfile.TemporaryDirectory(prefix="pml-bench-") as folder:
        progress(f"generating a {slices}x256x256 phantom series as DICOM and NIfTI ...")
        data = make_data(Path(folder), slices=slices)
        rows: list[BenchRow] = []
        for bench in BENCHMARKS:
            progress(f"running {bench.__name__.removeprefix('_bench_')} ...")
            rows.extend(bench(data))
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
