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


def deid_secret(case_id: str) -> str:
    """The per-case secret that makes ``deidentify`` repeatable for one case.

    Derived (HMAC-SHA256) from a random key kept in ``deid-key`` in the data directory,
    created on first use and readable by its owner only. The same case then gets the same new
    UIDs and the same date shift on every run, so intervals between its examinations survive;
    without the key the originals cannot be linked back from the copy.
    """
    import hashlib
    import hmac
    import secrets

    key_path = data_dir() / "deid-key"
    if not key_path.exists():
        key_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    key = bytes.fromhex(key_path.read_text().strip())
    return hmac.new(key, case_id.encode(), hashlib.sha256).hexdigest()


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
