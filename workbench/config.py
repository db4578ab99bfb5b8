"""Where the workbench keeps its registry and files, and how a user overrides that.

Resolution order for the registry URL: the ``--db`` option, then the ``PML_WORKBENCH_DB``
environment variable, then a SQLite file in the platform's user data directory. The data
directory itself is ``PML_WORKBENCH_DATA`` or the platform default (``platformdirs``).
``--db demo`` is a shorthand for the separate demo registry, so that the synthetic demo
never mixes with a registry of real cases.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "pml-workbench"
DB_ENV = "PML_WORKBENCH_DB"
DATA_ENV = "PML_WORKBENCH_DATA"
USER_ENV = "PML_WORKBENCH_USER"
DEMO_DB_ALIAS = "demo"


def data_dir() -> Path:
    """The directory holding the default registry, the demo and the image cache."""
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def sqlite_url(path: Path) -> str:
    """A SQLAlchemy URL for a SQLite file at ``path``."""
    return f"sqlite:///{path.expanduser().resolve()}"


def default_db_url() -> str:
    """The registry a user gets when they name none: ``registry.sqlite3`` in the data dir."""
    return sqlite_url(data_dir() / "registry.sqlite3")


def demo_dir() -> Path:
    """Folder of the demo registry and its synthetic DICOM series."""
    return data_dir() / "demo"


def demo_db_url() -> str:
    """The demo registry, kept apart from any registry of real cases."""
    return sqlite_url(demo_dir() / "registry.sqlite3")


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings of one invocation of the workbench."""

    db_url: str
    data_dir: Path

    @classmethod
    def resolve(cls, db: str | None = None) -> Settings:
        """Resolve settings from an explicit ``--db`` value and the environment."""
        url = db or os.environ.get(DB_ENV) or default_db_url()
        if url == DEMO_DB_ALIAS:
            url = demo_db_url()
        return cls(db_url=url, data_dir=data_dir())
