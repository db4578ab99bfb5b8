"""Shared fixtures: real registries on a SQLite file and on the PostgreSQL server, real data.

PostgreSQL tests use a fresh schema per test (dropped afterwards) on the server named by
``PML_TEST_POSTGRES_URL`` (default: the CI server on 127.0.0.1:5432). Where no server
answers they skip and say so, except on CI (``CI=true``), where they fail: there the server
is part of the contract.

Real scanner data is read from ``../shared/data`` (next to the repository), or from the
folder named by ``PML_WORKBENCH_SHARED_DATA``. Where that folder or its ``manifest.json`` is
absent, tests marked ``shared_data`` or asking for the ``shared_data`` fixture skip when
they run, naming the folder; nothing is read from it at import or collection time except the
manifest, and only if it is there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from workbench.registry.db import Registry
from workbench.users import Actor, resolve_actor

POSTGRES_URL = os.environ.get(
    "PML_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SHARED_DATA_ENV = "PML_WORKBENCH_SHARED_DATA"
"""Environment variable naming the real-data folder instead of ``../shared/data``."""
SHARED_DATA = Path(
    os.environ.get(SHARED_DATA_ENV) or Path(__file__).resolve().parents[1].parent / "shared/data"
).resolve()
ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Never let a test touch the user's real data directory or registry."""
    monkeypatch.setenv("PML_WORKBENCH_DATA", str(tmp_path_factory.mktemp("data")))
    monkeypatch.delenv("PML_WORKBENCH_DB", raising=False)
    monkeypatch.setenv("PML_WORKBENCH_USER", "coordinator")


def _postgres_or_skip() -> None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except OperationalError as exc:
        reason = f"PostgreSQL not reachable at {POSTGRES_URL}: {str(exc.orig).strip()[:120]}"
        if ON_CI:
            pytest.fail(f"{reason} (CI must provide it)")
        pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty schema on the PostgreSQL server, dropped after the test."""
    _postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a new SQLite registry file."""
    return f"sqlite:///{tmp_path / 'registry.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def registry_url(request: pytest.FixtureRequest) -> str:
    """The same test on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def registry(registry_url: str) -> Iterator[Registry]:
    """An opened, migrated, empty registry on each backend."""
    reg = Registry.open(registry_url)
    yield reg
    reg.close()


@pytest.fixture
def sqlite_registry(sqlite_url: str) -> Iterator[Registry]:
    """An opened, migrated, empty SQLite registry."""
    reg = Registry.open(sqlite_url)
    yield reg
    reg.close()


@pytest.fixture
def coordinator(registry: Registry) -> Actor:
    """The registry's first user (bootstrapped as administrator and coordinator)."""
    with registry.write() as session:
        return resolve_actor(session, "coordinator")


@pytest.fixture(scope="session")
def demo_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, Path]]:
    """The demo registry (built once per run) and its image folder. Do not modify it."""
    from workbench.demo.build import build_demo

    folder = tmp_path_factory.mktemp("demo")
    registry = Registry.open(f"sqlite:///{folder / 'registry.sqlite3'}")
    build_demo(
        registry, images_dir=folder / "images", cache_root=folder / "cache", username="tester"
    )
    yield registry, folder / "images"
    registry.close()


def shared_data_missing() -> str | None:
    """Why the real-data folder cannot be used (naming it), or None when it can."""
    where = f"(../shared/data, or set {SHARED_DATA_ENV})"
    if not SHARED_DATA.is_dir():
        return f"real scanner data not found: no folder {SHARED_DATA} {where}"
    if not (SHARED_DATA / "manifest.json").is_file():
        return f"real scanner data not found: {SHARED_DATA} has no manifest.json {where}"
    return None


def shared_data_or_skip() -> Path:
    """The shared real-data folder, or skip saying why."""
    reason = shared_data_missing()
    if reason is not None:
        pytest.skip(reason)
    return SHARED_DATA


@pytest.fixture
def shared_data() -> Path:
    """The shared real-data folder (skips with the reason where it is absent)."""
    return shared_data_or_skip()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``shared_data`` skips, saying why, where the real data is absent."""
    if item.get_closest_marker("shared_data") is not None:
        shared_data_or_skip()
