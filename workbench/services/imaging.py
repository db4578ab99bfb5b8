"""Imaging into the registry: importing series, correcting their class, exporting lesions.

The import itself (:data:`import_images`, which is :func:`workbench.importer.import_path`)
runs the de-identification gate and the parsers in a sandboxed worker and writes all or
nothing; it owns its transactions.
"""

from __future__ import annotations

from collections.abc import Callable
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
from workbench.readiness import promote_if_complete
from workbench.registry.db import Registry
from workbench.review_config import load_review_config
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


def import_images(
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
    """Gate, load, cache and store a path on a case, all or nothing: refused before any file
    is parsed when the policy does not let the actor import images (see
    :func:`workbench.importer.import_path`, which owns its transactions). A case the import
    completes then becomes ready (:func:`workbench.readiness.promote_if_complete`)."""
    result = import_path(
        registry,
        actor,
        path,
        registry_id,
        day=day,
        cache_root=cache_root,
        policy_path=policy_path,
        sandbox=sandbox,
        progress=progress,
        cancelled=cancelled,
    )
    with registry.write() as session:
        promote_if_complete(session, actor, registry_id, load_review_config().readiness)
    return result


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
