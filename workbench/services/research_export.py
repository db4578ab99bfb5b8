"""The research extract: write the registry's de-identified tables into a new folder.

:func:`export_extract` is the service behind ``pml-workbench export DIR``: coordinators and
administrators (:data:`Action.EXPORT_RESEARCH <workbench.policy.Action.EXPORT_RESEARCH>`)
write one CSV per table, the data dictionary (CSV and JSON) and ``versions.json``. What goes
in and what is left out is declared in :mod:`workbench.research_export`.

Never half-written, never over an analyst's files:

- the target folder must not exist or be empty (its parent must exist); anything else is
  refused before the registry is read;
- everything is written into a hidden temporary sibling folder, which is renamed to the
  target only when every file is complete; an error or Ctrl-C removes it;
- then, in its own write transaction, the audit event ``registry.export`` records who, when,
  the row counts and the SHA-256 of every file. If that event cannot be written the folder is
  removed again: no extract leaves the registry unrecorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.actor import Actor
from workbench.errors import ValidationError
from workbench.policy import Action, require
from workbench.registry.db import Registry
from workbench.research_export import (
    TABLES,
    Extract,
    dictionary_json,
    gather,
    iso_utc,
    record_export,
    render_csv,
    render_dictionary_csv,
)

__all__ = ["ExportSummary", "ExportedFile", "check_target", "export_extract"]

DICTIONARY_CSV = "data_dictionary.csv"
DICTIONARY_JSON = "data_dictionary.json"
VERSIONS_JSON = "versions.json"


@dataclass(frozen=True, slots=True)
class ExportedFile:
    """One file written: its name, data rows (``None`` for the dictionary and versions), hash."""

    name: str
    rows: int | None
    sha256: str
    size: int

    def as_json(self) -> dict[str, Any]:
        """The file as ``export --json`` prints it."""
        return {"name": self.name, "rows": self.rows, "sha256": self.sha256, "bytes": self.size}


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote, and what it left out."""

    directory: Path
    exported_at: dt.datetime
    files: tuple[ExportedFile, ...]
    withheld_cases: int
    """Cases with reads outstanding: their reads, lesions and decisions are not exported."""
    with_free_text: bool
    software_version: str
    ruleset_version: str
    schema_revision: str | None

    def as_json(self) -> dict[str, Any]:
        """The summary as ``export --json`` prints it."""
        return {
            "directory": str(self.directory),
            "exported_at": iso_utc(self.exported_at),
            "files": [f.as_json() for f in self.files],
            "withheld_cases": self.withheld_cases,
            "with_free_text": self.with_free_text,
            "software_version": self.software_version,
            "ruleset_version": self.ruleset_version,
            "schema_revision": self.schema_revision,
        }


def check_target(directory: Path) -> bool:
    """Refuse (:class:`ValidationError`) a target that is not a new or empty folder in an
    existing folder; return whether it exists (empty)."""
    directory = Path(directory)
    if directory.exists() or directory.is_symlink():
        if not directory.is_dir() or directory.is_symlink():
            raise ValidationError(
                f"{directory}: exists and is not a folder; give a new or empty folder",
                field="directory",
            )
        if any(directory.iterdir()):
            raise ValidationError(
                f"{directory}: the folder is not empty; the extract is written only into a new "
                "or empty folder, never over files that are there",
                field="directory",
            )
        return True
    parent = directory.parent
    if not parent.is_dir():
        raise ValidationError(f"{directory}: its folder {parent} does not exist", field="directory")
    return False


def export_extract(
    registry: Registry,
    actor: Actor,
    directory: Path,
    *,
    with_free_text: bool = False,
    now: dt.datetime | None = None,
) -> ExportSummary:
    """Write the research extract into ``directory`` (new or empty) and audit it.

    Refused unless the policy lets ``actor`` export the research extract; refused before
    anything is read when ``directory`` is unsuitable (:func:`check_target`).
    """
    require(actor, Action.EXPORT_RESEARCH)
    directory = Path(directory).absolute()
    existed = check_target(directory)
    with registry.read() as session:
        if session.get_bind().dialect.name == "postgresql":
            # one snapshot for every table: a read submitted meanwhile is in all or none
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        extract = gather(session, actor, with_free_text=with_free_text, now=now)
    files = _write_folder(directory, extract)
    summary = ExportSummary(
        directory=directory,
        exported_at=extract.exported_at,
        files=files,
        withheld_cases=extract.withheld_cases,
        with_free_text=with_free_text,
        software_version=extract.software_version,
        ruleset_version=extract.ruleset_version,
        schema_revision=extract.schema_revision,
    )
    try:
        with registry.write() as session:
            record_export(
                session,
                actor,
                {f.name: {"rows": f.rows, "sha256": f.sha256} for f in files},
                withheld_cases=extract.withheld_cases,
                with_free_text=with_free_text,
                exported_at=extract.exported_at,
            )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        if existed:
            directory.mkdir(exist_ok=True)
        raise
    return summary


def _write_folder(directory: Path, extract: Extract) -> tuple[ExportedFile, ...]:
    """Write every file into a temporary sibling of ``directory`` and rename it at the end."""
    temporary = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    try:
        files = [
            _write(
                temporary / spec.file,
                render_csv(spec, extract.tables[spec.file], extract.with_free_text),
                extract.row_counts[spec.file],
            )
            for spec in TABLES
        ]
        files.append(
            _write(temporary / DICTIONARY_CSV, render_dictionary_csv(extract.with_free_text))
        )
        files.append(
            _write(
                temporary / DICTIONARY_JSON,
                json.dumps(dictionary_json(extract.with_free_text), indent=2, ensure_ascii=False)
                + "\n",
            )
        )
        versions = {
            **extract.versions(),
            "sha256": {f.name: f.sha256 for f in files},
        }
        files.append(
            _write(
                temporary / VERSIONS_JSON,
                json.dumps(versions, indent=2, ensure_ascii=False) + "\n",
            )
        )
        check_target(directory)  # still new or empty: nobody wrote there meanwhile
        if directory.exists():
            directory.rmdir()
        temporary.rename(directory)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return tuple(files)


def _write(path: Path, text: str, rows: int | None = None) -> ExportedFile:
    data = text.encode("utf-8")
    with open(path, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return ExportedFile(path.name, rows, hashlib.sha256(data).hexdigest(), len(data))
