"""Shared fixtures: real registries on a SQLite file and on the PostgreSQL server.

PostgreSQL tests use a fresh schema per test (dropped afterwards) on the server named by
``PML_TEST_POSTGRES_URL`` (default: the CI server on 127.0.0.1:5432). Where no server
answers they skip and say so, except on CI (``CI=true``), where they fail: there the server
is part of the contract.
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
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
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


def shared_data_or_skip() -> Path:
    """The shared real-data folder, or skip saying why."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real scanner data not found at {SHARED_DATA} (../shared/data)")
    return SHARED_DATA
