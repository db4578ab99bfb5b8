"""Helpers shared by the annotation tests: paint through the editor, ask for unsaved work,
and build a case with assigned readers and panel for the submit, review and history tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PyQt6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from adjudication.vocabulary import ImagingJudgement, Role, TriState
from viewers.labels_edit import VoxelBox
from workbench import cache
from workbench.cases import NewCase, create_case, update_case
from workbench.demo import phantom
from workbench.domain import CaseStatus, Condition, SequenceClass, Sex, SourceKind
from workbench.reading_flow import assign, submit
from workbench.reads import LesionDraft, save_draft, start_or_resume_draft
from workbench.registry.db import Registry
from workbench.registry.models import Case
from workbench.studies import SeriesRecord, add_series, add_study
from workbench.ui.main_window import MainWindow
from workbench.users import Actor, add_user, resolve_actor


def paint_cube(window: MainWindow, lo: tuple[int, int, int], size: int) -> int:
    """Paint a ``size``³ cube of the active label at voxel ``lo``; the voxels painted."""
    editor = window.annotator.editor
    assert editor is not None
    hi = (lo[0] + size, lo[1] + size, lo[2] + size)
    return editor.paint(VoxelBox(lo, hi), np.ones((size,) * 3, dtype=bool), editor.active_label)


def unsaved(window: MainWindow) -> bool:
    """Whether the annotator has changes not saved yet."""
    return window.annotator.dirty


# --- a case with assigned readers, for the submit / review / history tests -------------------

REVIEW_CASE = "PML-R-0001"
PASSWORDS = {"panel1": "first-secret", "panel2": "second-secret"}


@dataclass
class ReviewSetup:
    """A registry with one case (phantom FLAIR, day 0) assigned to readers and a panel."""

    registry: Registry
    coordinator: Actor
    users: dict[str, Actor]
    """Every user by username: readers ``rad1``, ``rad2``, ``rad3`` and ``panel1``, ``panel2``."""
    cache_root: Path
    series_id: int
    shape: tuple[int, int, int]


def assign_readers(
    registry: Registry, coordinator: Actor, registry_id: str, readers: Sequence[str]
) -> None:
    """Mark the case ready and assign ``readers`` to it: only assigned readers may read."""
    with registry.write() as session:
        case = session.scalars(select(Case).where(Case.registry_id == registry_id)).one()
        update_case(session, coordinator, registry_id, case.version, {"status": CaseStatus.READY})
    with registry.write() as session:
        assign(session, coordinator, registry_id, list(readers), Role.READER)


def review_setup(tmp_path: Path, readers: tuple[str, ...] = ("rad1", "rad2")) -> ReviewSetup:
    """Case :data:`REVIEW_CASE` with one phantom FLAIR in a private voxel cache; ``readers``
    assigned as its readers (``rad3`` exists but is not assigned) and panel members 1 and 2."""
    registry = Registry.open(f"sqlite:///{tmp_path / 'review.sqlite3'}")
    cache_root = tmp_path / "cache"
    anatomy = phantom.make_anatomy(seed=7)
    array = np.ascontiguousarray(phantom.synthesize(anatomy, None, SequenceClass.FLAIR, seed=1).T)
    sha = hashlib.sha256(b"review-flair").hexdigest()
    path, _ = cache.store(cache_root, sha, 0, array)
    with registry.write() as session:
        coordinator = resolve_actor(session, "coordinator")
        for name, printed in (
            ("rad1", "Dr Ada Reader"),
            ("rad2", "Dr Ben Reader"),
            ("rad3", "Dr Cy Reader"),
        ):
            add_user(session, name, printed, {Role.READER}, by=coordinator)
        for name, printed in (("panel1", "Dr Panel One"), ("panel2", "Dr Panel Two")):
            add_user(session, name, printed, {Role.PANEL}, by=coordinator, password=PASSWORDS[name])
        create_case(
            session,
            coordinator,
            NewCase(
                REVIEW_CASE,
                "NL-AMS",
                Sex.FEMALE,
                "40-49",
                Condition.HIV,
                None,
                None,
                TriState.PRESENT,
            ),
        )
        study = add_study(session, coordinator, REVIEW_CASE, 0, description="MRI day 0")
        series = add_series(
            session,
            coordinator,
            study,
            SeriesRecord(
                source_kind=SourceKind.NIFTI,
                source_uri="/site/FLAIR.nii.gz",
                content_sha256=sha,
                sequence_class=SequenceClass.FLAIR,
                shape=array.shape,
                affine=anatomy.affine_lps,
                dtype=str(array.dtype),
                frame_of_reference_uid="1.2.826.0.1.3680043.8.498.1",
                description="AX FLAIR",
                n_files=1,
                cache_path=str(path),
            ),
        )
        session.flush()
        series_id = series.id
    assign_readers(registry, coordinator, REVIEW_CASE, readers)
    with registry.write() as session:
        assign(session, coordinator, REVIEW_CASE, ["panel1", "panel2"], Role.PANEL)
    with registry.write() as session:
        users = {
            name: resolve_actor(session, name)
            for name in ("rad1", "rad2", "rad3", "panel1", "panel2")
        }
    shape = (int(array.shape[0]), int(array.shape[1]), int(array.shape[2]))
    return ReviewSetup(registry, coordinator, users, cache_root, series_id, shape)


def review_window(qtbot: QtBot, setup: ReviewSetup, actor: Actor) -> MainWindow:
    """A shown main window for ``actor`` on the setup's registry (quiet: errors to stderr)."""
    window = MainWindow(setup.registry, actor, quiet=True, cache_root=setup.cache_root)
    qtbot.addWidget(window)
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    return window


def annotate_case(window: MainWindow, registry_id: str = REVIEW_CASE) -> None:
    """Open the case's images and switch annotation on with the toggle."""
    assert window.open_review(registry_id)
    QApplication.processEvents()
    window.review.annotate_action.trigger()
    assert window.annotator.active, window.annotator.last_error
    QApplication.processEvents()


def cube(shape: tuple[int, int, int], lo: tuple[int, int, int], size: int) -> np.ndarray:
    """A label map of ``shape`` with one ``size``³ cube of label 1 at voxel ``lo``."""
    labels = np.zeros(shape, dtype=np.uint8)
    labels[lo[0] : lo[0] + size, lo[1] : lo[1] + size, lo[2] : lo[2] + size] = 1
    return labels


def submit_directly(
    setup: ReviewSetup,
    username: str,
    judgement: ImagingJudgement,
    lo: tuple[int, int, int],
    size: int = 6,
) -> int:
    """Draft and submit ``username``'s read through the data layer (no window); its id."""
    actor = setup.users[username]
    with setup.registry.write() as session:
        read = start_or_resume_draft(session, actor, REVIEW_CASE)
        read = save_draft(
            session,
            actor,
            read.id,
            read.version,
            lesions=[LesionDraft(setup.series_id, cube(setup.shape, lo, size))],
            judgement=judgement,
        )
        read, _ = submit(session, actor, read.id, read.version)
        return read.id


def centre(setup: ReviewSetup) -> tuple[int, int, int]:
    """The voxel at the middle of the series grid."""
    i, j, k = setup.shape
    return (i // 2, j // 2, k // 2)
