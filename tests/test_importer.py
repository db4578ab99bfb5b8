"""Importing imaging into the registry: all or nothing, sandboxed, cancellable."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from tests.conftest import shared_data_or_skip
from workbench.cache import open_cached
from workbench.cases import NewCase, create_case
from workbench.demo.dicom_series import new_uid, write_series
from workbench.domain import Condition, SequenceClass, Sex
from workbench.errors import NotFoundError, ValidationError
from workbench.imaging.errors import ImagingError
from workbench.importer import (
    ImportCancelledError,
    ImportRefusedError,
    ParserSandbox,
    import_path,
)
from workbench.registry.db import Registry
from workbench.registry.models import ImagingStudy, Series
from workbench.studies import series_affine
from workbench.users import Actor, resolve_actor


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ParserSandbox]:
    box = ParserSandbox()
    yield box
    box.close()


@pytest.fixture
def setup(sqlite_registry: Registry) -> tuple[Registry, Actor]:
    with sqlite_registry.write() as session:
        actor = resolve_actor(session, "coordinator")
        create_case(
            session, actor, NewCase("PML-0001", "NL-AMS", Sex.FEMALE, "40-49", Condition.HIV)
        )
    return sqlite_registry, actor


def _series(folder: Path, *, slices: int = 12, sequence=SequenceClass.FLAIR) -> np.ndarray:
    rng = np.random.default_rng(3)
    volume = rng.integers(0, 1500, size=(slices, 24, 20), dtype=np.int16)
    write_series(
        volume,
        folder,
        spacing_mm=(0.9, 0.8, 3.0),
        origin_lps=(-10.0, -20.0, 5.0),
        study_instance_uid=new_uid("importer", "study"),
        series_instance_uid=new_uid("importer", str(folder)),
        frame_of_reference_uid=new_uid("importer", "frame"),
        series_number=1,
        sequence=sequence,
        patient_pseudonym="PML-0001",
    )
    return volume


def _import(setup, sandbox: ParserSandbox, path: Path, cache: Path, **options):
    registry, actor = setup
    options.setdefault("day", 0)
    options.setdefault("registry_id", "PML-0001")
    registry_id = options.pop("registry_id")
    return import_path(
        registry, actor, path, registry_id, cache_root=cache, sandbox=sandbox, **options
    )


def _counts(registry: Registry) -> tuple[int, int]:
    with registry.read() as session:
        return (
            int(session.scalar(select(func.count()).select_from(ImagingStudy)) or 0),
            int(session.scalar(select(func.count()).select_from(Series)) or 0),
        )


def _cached_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.npy")) if root.exists() else []


def test_import_stores_series_and_reopens_them_from_the_cache(
    setup, sandbox: ParserSandbox, tmp_path: Path
) -> None:
    registry, actor = setup
    volume = _series(tmp_path / "flair")
    cache = tmp_path / "cache"
    result = import_path(
        registry, actor, tmp_path / "flair", "PML-0001", day=14, cache_root=cache, sandbox=sandbox
    )
    assert len(result.series_ids) == 1
    with registry.read() as session:
        series = session.get(Series, result.series_ids[0])
        assert series is not None
        assert series.sequence_class == SequenceClass.FLAIR
        assert series.shape == [20, 24, 12]
        assert series.n_files == 12
        study = session.get(ImagingStudy, series.study_id)
        assert study is not None
        assert study.day == 14
        affine = series_affine(series)
        array = open_cached(Path(series.cache_path or ""), shape=(20, 24, 12), dtype="int16")
    assert np.array_equal(array, volume.transpose(2, 1, 0))
    assert np.allclose(affine[:3, 3], [-10.0, -20.0, 5.0])
    assert np.allclose(np.linalg.norm(affine[:3, :3], axis=0), [0.8, 0.9, 3.0])


def test_importing_the_same_series_twice_is_refused_and_changes_nothing(
    setup, sandbox: ParserSandbox, tmp_path: Path
) -> None:
    registry = setup[0]
    _series(tmp_path / "flair")
    cache = tmp_path / "cache"
    _import(setup, sandbox, tmp_path / "flair", cache, day=0, registry_id="PML-0001")
    before, files = _counts(registry), _cached_files(cache)
    with pytest.raises(ValidationError, match=r"is already in case PML-0001 \(series #1, day 0\)"):
        _import(setup, sandbox, tmp_path / "flair", cache, day=None)
    assert _counts(registry) == before
    assert _cached_files(cache) == files  # the first import's voxels are still there


def test_a_new_study_needs_its_day(setup, sandbox: ParserSandbox, tmp_path: Path) -> None:
    registry = setup[0]
    _series(tmp_path / "flair")
    cache = tmp_path / "cache"
    with pytest.raises(ValidationError, match="--day N"):
        _import(setup, sandbox, tmp_path / "flair", cache, day=None, registry_id="PML-0001")
    assert _counts(registry) == (0, 0)
    assert _cached_files(cache) == []


def test_unknown_case_is_refused_before_any_work(setup, sandbox, tmp_path: Path) -> None:
    _series(tmp_path / "flair")
    with pytest.raises(NotFoundError, match="no case 'PML-9999'"):
        _import(setup, sandbox, tmp_path / "flair", tmp_path / "c", day=0, registry_id="PML-9999")


def test_a_missing_slice_imports_nothing(setup, sandbox: ParserSandbox, tmp_path: Path) -> None:
    registry = setup[0]
    _series(tmp_path / "flair")
    (tmp_path / "flair" / "IM0006.dcm").unlink()
    cache = tmp_path / "cache"
    with pytest.raises(ImagingError, match="missing"):
        _import(setup, sandbox, tmp_path / "flair", cache, day=0, registry_id="PML-0001")
    assert _counts(registry) == (0, 0)
    assert _cached_files(cache) == []


def test_a_folder_of_non_images_is_refused(setup, sandbox, tmp_path: Path) -> None:
    registry = setup[0]
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "scan.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 200)
    with pytest.raises(ImagingError, match="no DICOM image found"):
        _import(setup, sandbox, folder, tmp_path / "c", day=0, registry_id="PML-0001")
    assert _counts(registry) == (0, 0)


def test_cancel_writes_nothing(setup, sandbox: ParserSandbox, tmp_path: Path) -> None:
    registry = setup[0]
    _series(tmp_path / "flair")
    cache = tmp_path / "cache"
    steps: list[str] = []
    with pytest.raises(ImportCancelledError):
        _import(
            setup,
            sandbox,
            tmp_path / "flair",
            cache,
            progress=lambda text, _f: steps.append(text),
            cancelled=lambda: "Reading images" in steps,
        )
    assert _counts(registry) == (0, 0)
    assert _cached_files(cache) == []
    # The worker was ended by the cancel; the next import starts a new one and works.
    result = _import(setup, sandbox, tmp_path / "flair", cache, day=0, registry_id="PML-0001")
    assert len(result.series_ids) == 1


def _crash() -> None:
    os._exit(70)


def test_a_crashing_parser_does_not_take_the_application_down(sandbox: ParserSandbox) -> None:
    with pytest.raises(ImportRefusedError, match="crashed the image reader"):
        sandbox.run(_crash, cancelled=lambda: False, where="evil.dcm")
    assert sandbox.run(int, "42", cancelled=lambda: False) == 42


@pytest.mark.shared_data
def test_identifying_data_is_refused_without_showing_it(setup, sandbox, tmp_path: Path) -> None:
    registry, actor = setup
    source = shared_data_or_skip() / "dcm_qa_ge" / "In" / "01_Ax_DWI_TENSOR_R2"
    import pydicom

    name = str(pydicom.dcmread(next(source.iterdir()), stop_before_pixels=True).PatientName)
    cache = tmp_path / "cache"
    with pytest.raises(ImportRefusedError) as caught:
        import_path(registry, actor, source, "PML-0001", day=0, cache_root=cache, sandbox=sandbox)
    message = str(caught.value)
    assert "PatientIdentityRemoved" in message
    assert "nothing was imported" in message
    assert name
    assert name not in message
    assert _counts(registry) == (0, 0)
    assert _cached_files(cache) == []


@pytest.mark.shared_data
def test_deidentified_real_series_imports(setup, sandbox, tmp_path: Path) -> None:
    """A real scanner series, de-identified by the project's own tool, goes in."""
    from workbench.deid.commands import deidentify_main

    source = shared_data_or_skip() / "dcm_qa_ge" / "In" / "01_Ax_DWI_TENSOR_R2"
    clean = tmp_path / "clean"
    with open(os.devnull, "w", encoding="utf-8") as sink:
        assert deidentify_main(source, clean, "PML-0001", None, sink) == 0
    result = _import(setup, sandbox, clean, tmp_path / "cache", day=0, registry_id="PML-0001")
    (volume,) = result.volumes
    assert volume.shape == (256, 256, 2, 7)  # 4D DWI, not 14 stacked slices
    assert volume.sequence_class == SequenceClass.DWI
    assert shutil.disk_usage(tmp_path).free > 0


def test_the_policy_refuses_an_import_before_any_file_is_parsed(
    setup, sandbox: ParserSandbox, tmp_path: Path
) -> None:
    """A reader may not import: refused up front, so no untrusted file reaches a parser and
    nothing is cached or stored."""
    from adjudication.vocabulary import Role
    from workbench.errors import PermissionDeniedError
    from workbench.services.imaging import import_images
    from workbench.users import add_user

    registry, coordinator = setup
    with registry.write() as session:
        add_user(session, "rad1", "Reader One", {Role.READER}, by=coordinator)
        reader = resolve_actor(session, "rad1")
    _series(tmp_path / "dicom")
    (tmp_path / "dicom" / "not-dicom.dcm").write_bytes(b"garbage")  # would be refused later
    with pytest.raises(PermissionDeniedError, match="import images: that needs"):
        import_images(
            registry, reader, tmp_path / "dicom", "PML-0001", day=0,
            cache_root=tmp_path / "cache", sandbox=sandbox,
        )  # fmt: skip
    assert not (tmp_path / "cache").exists()
    with registry.read() as session:
        assert session.scalar(select(func.count()).select_from(Series)) == 0
