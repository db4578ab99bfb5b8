"""Imaging into the registry: importing series, correcting their class, exporting lesions.

The import itself (:data:`import_images`, which is :func:`workbench.importer.import_path`)
runs the de-identification gate and the parsers in a sandboxed worker and writes all or
nothing; it owns its transactions.
"""

from __future__ import annotations

from pathlib import Path

from workbench.actor import Actor
from workbench.domain import SequenceClass
from workbench.importer import (
    ImportCancelledError,
    ImportRefusedError,
    ImportResult,
    ParserSandbox,
    default_sandbox,
    import_path,
)
from workbench.registry.db import Registry
from workbench.studies import correct_sequence_class

__all__ = [
    "ImportCancelledError",
    "ImportRefusedError",
    "ImportResult",
    "ParserSandbox",
    "default_sandbox",
    "import_images",
    "set_sequence_class",
]

import_images = import_path
"""Gate, load, cache and store a path on a case, all or nothing: refused before any file is
parsed when the policy does not let the actor import images (see
:func:`workbench.importer.import_path`, which owns its transactions)."""


def set_sequence_class(
    registry: Registry,
    actor: Actor,
    series_id: int,
    sequence_class: SequenceClass,
    *,
    reason: str,
) -> None:
    """Correct the inferred sequence class of a series (the header evidence is kept)."""
    with registry.write() as session:
        correct_sequence_class(session, actor, series_id, sequence_class, reason=reason)


def export_lesions(
    registry: Registry,
    actor: Actor,
    registry_id: str,
    outdir: Path,
    *,
    read_id: int | None = None,
) -> list[Path]:
    """Write the lesions the actor may see of case ``registry_id`` as DICOM SEG / NIfTI.

    Audited as ``lesions.exported``. See :func:`workbench.lesions.export.export_case_segs`.
    """
    from workbench.lesions.export import export_case_segs

    with registry.write() as session:
        return export_case_segs(session, registry_id, outdir, actor=actor, read_id=read_id)
