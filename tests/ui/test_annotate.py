"""Annotating lesions in the review workspace on a real SQLite registry, as a reader.

One case with a phantom FLAIR and T1 (one timepoint), a coordinator who imported it and a
reader ``rad1``. Paints through the :class:`LabelEditor`, saves through the autosave slot,
reopens the draft in a second window, and provokes a conflict from another session.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from adjudication.vocabulary import ImagingJudgement, Role, TriState
from tests.ui.annotation import assign_readers, paint_cube, unsaved
from workbench import cache
from workbench.cases import NewCase, create_case
from workbench.demo import phantom
from workbench.domain import Condition, SequenceClass, Sex, SourceKind
from workbench.registry.db import Registry
from workbench.services import reading
from workbench.services.draft import DraftSession
from workbench.studies import SeriesRecord, add_series, add_study
from workbench.ui import annotate as annotate_module
from workbench.ui.main_window import MainWindow
from workbench.users import Actor, add_user, resolve_actor

CASE_ID = "PML-A-0001"


@dataclass
class Setup:
    """The registry, its reader and coordinator, and the voxel cache."""

    registry: Registry
    reader: Actor
    coordinator: Actor
    cache_root: Path
    affine: np.ndarray


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    """One case, day 0: phantom FLAIR and T1 in a private cache; a reader ``rad1``."""
    registry = Registry.open(f"sqlite:///{tmp_path / 'annotate.sqlite3'}")
    cache_root = tmp_path / "cache"
    anatomy = phantom.make_anatomy(seed=7)
    affine = anatomy.affine_lps
    with registry.write() as session:
        coordinator = resolve_actor(session, "coordinator")
        add_user(session, "rad1", "Dr Reader", {Role.READER}, by=coordinator)
        create_case(
            session,
            coordinator,
            NewCase(CASE_ID, "NL-AMS", Sex.FEMALE, "40-49", Condition.HIV, None, None,
                    TriState.PRESENT),
        )  # fmt: skip
        study = add_study(session, coordinator, CASE_ID, 0, description="MRI day 0")
        for sequence in (SequenceClass.FLAIR, SequenceClass.T1):
            array = np.ascontiguousarray(phantom.synthesize(anatomy, None, sequence, seed=1).T)
            sha = hashlib.sha256(sequence.value.encode()).hexdigest()
            path, _ = cache.store(cache_root, sha, 0, array)
            add_series(
                session,
                coordinator,
                study,
                SeriesRecord(
                    source_kind=SourceKind.NIFTI,
                    source_uri=f"/site/{sequence.name}.nii.gz",
                    content_sha256=sha,
                    sequence_class=sequence,
                    shape=array.shape,
                    affine=affine,
                    dtype=str(array.dtype),
                    frame_of_reference_uid="1.2.826.0.1.3680043.8.498.1",
                    description=f"AX {sequence.name}",
                    n_files=1,
                    cache_path=str(path),
                ),
            )
    assign_readers(registry, coordinator, CASE_ID, ["rad1"])
    with registry.write() as session:
        reader = resolve_actor(session, "rad1")
    yield Setup(registry, reader, coordinator, cache_root, affine)
    registry.close()


def make_window(qtbot: QtBot, setup: Setup, *, quiet: bool = False) -> MainWindow:
    """A shown main window for the reader."""
    window = MainWindow(setup.registry, setup.reader, quiet=quiet, cache_root=setup.cache_root)
    qtbot.addWidget(window)
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    return window


def start_annotating(qtbot: QtBot, window: MainWindow) -> None:
    """Open the case's review and switch annotation on with the toggle."""
    assert window.open_review(CASE_ID)
    QApplication.processEvents()
    action = window.review.annotate_action
    assert action.isEnabled()
    action.trigger()
    assert window.annotator.active, window.annotator.last_error
    QApplication.processEvents()


def read_of(setup: Setup) -> tuple[int, int]:
    """``(id, version)`` of the reader's draft."""
    ref = reading.latest_draft(setup.registry, setup.reader)
    assert ref is not None
    return ref.read_id, ref.version


def written(draft: DraftSession) -> tuple[int, ...]:
    """The labels the draft's last save wrote."""
    assert draft.last_saved is not None
    return draft.last_saved.written


def lesions_of(setup: Setup, read_id: int) -> list[reading.LesionSummary]:
    """The stored lesions of the reader's read ``read_id``."""
    return reading.list_lesions(setup.registry, setup.reader, read_id)


# --- tests -----------------------------------------------------------------------------------


def test_annotate_paint_table_save(qtbot: QtBot, setup: Setup) -> None:
    """Toggle → toolbar and table; a painted cube → one row of the right volume; autosave."""
    window = make_window(qtbot, setup)
    assert window.draft_offer is None  # no draft yet
    assert window.review.annotate_action in window.review_menu.actions()
    assert window.review.annotate_action.shortcut().toString() == "Ctrl+Shift+E"
    start_annotating(qtbot, window)
    annotator = window.annotator
    assert annotator.toolbar is not None
    assert annotator.toolbar.isVisible()
    assert annotator.panel.table.isVisible()
    assert annotator.panel.table.rowCount() == 0
    series = window.review.active_series()
    assert series is not None
    assert annotator.series_id == series.series_id
    views = window.review.views_showing(series.series_id)
    assert views
    assert all(any(label.name == "Draft lesions" for label in v.labels) for v in views)
    assert annotator.toolbar.tools.views == tuple(views)

    centre = tuple(n // 2 for n in series.shape[:3])
    lo = (centre[0] - 2, centre[1] - 2, centre[2] - 2)
    assert paint_cube(window, lo, 5) == 125
    qtbot.waitUntil(lambda: annotator.panel.table.rowCount() == 1, timeout=2000)
    editor = annotator.editor
    assert editor is not None
    volume_ml = 125 * editor.voxel_volume_mm3 / 1000.0
    assert annotator.panel.table.cell_text(0, 1) == f"{volume_ml:.3f}"
    assert annotator.panel.table.cell_text(0, 3) in {"left", "right", "midline"}

    assert unsaved(window)
    assert annotator.autosave()
    assert "Draft saved at" in annotator.panel.status_label.text()
    assert not unsaved(window)
    assert not annotator.autosave()  # nothing changed since
    read_id, version = read_of(setup)
    assert annotator.version == version
    lesions = lesions_of(setup, read_id)
    assert len(lesions) == 1
    assert lesions[0].series_id == int(series.series_id)
    assert lesions[0].volume_ml == pytest.approx(volume_ml)

    # The timer saves too.
    paint_cube(window, (lo[0] + 10, lo[1], lo[2]), 2)
    annotator.autosave_timer.setInterval(50)
    annotator.autosave_timer.start()
    qtbot.waitUntil(lambda: not annotator.dirty, timeout=3000)
    (lesion,) = lesions_of(setup, read_id)  # same label: still one lesion
    assert lesion.volume_ml == pytest.approx(133 * editor.voxel_volume_mm3 / 1000.0)


def test_autosave_writes_only_the_changed_lesion(qtbot: QtBot, setup: Setup) -> None:
    """Three lesions saved; one grows: the autosave writes that lesion's row alone."""
    window = make_window(qtbot, setup)
    start_annotating(qtbot, window)
    annotator = window.annotator
    editor = annotator.editor
    assert editor is not None
    for label, lo in ((1, (20, 30, 10)), (2, (40, 30, 10)), (3, (60, 30, 10))):
        editor.active_label = label
        paint_cube(window, lo, 3)
    assert annotator.save()
    draft = annotator.draft
    assert draft is not None
    assert draft.last_saved is not None
    assert written(draft) == (1, 2, 3)
    read_id, _ = read_of(setup)
    before = {x.label: x.mask_sha256 for x in lesions_of(setup, read_id)}
    editor.active_label = 2
    paint_cube(window, (43, 30, 10), 2)
    assert annotator.autosave()
    assert written(draft) == (2,)
    assert draft.saves == 2
    after = {x.label: x.mask_sha256 for x in lesions_of(setup, read_id)}
    assert {label for label in after if after[label] != before[label]} == {2}
    # The reader's choices kept in the session are saved with the next save, alone.
    draft.set_choices(ImagingJudgement.EQUIVOCAL, 3, None)
    assert annotator.dirty
    assert annotator.save()
    assert written(draft) == ()


def test_row_selection_moves_cursor(qtbot: QtBot, setup: Setup) -> None:
    """Selecting a lesion's row puts every viewport's cursor on its centroid."""
    window = make_window(qtbot, setup)
    start_annotating(qtbot, window)
    annotator = window.annotator
    paint_cube(window, (20, 30, 10), 4)
    assert annotator.editor is not None
    annotator.editor.active_label = 2
    paint_cube(window, (60, 70, 20), 3)
    annotator.refresh_table()
    table = annotator.panel.table
    assert table.rowCount() == 2
    table.selectRow(1)
    expected = np.array(table.stats[1].centroid_mm)
    assert annotator.editor is not None
    voxel = np.array([61.0, 71.0, 21.0, 1.0])
    assert np.allclose(expected, (annotator.editor.affine @ voxel)[:3])
    for view in window.review.grid.views:
        if view.image is not None:
            assert np.allclose(view.cursor, expected), view.image.name
    assert window.review.grid.link.cursor is not None
    assert np.allclose(window.review.grid.link.cursor, expected)


def test_second_window_reopens_draft(qtbot: QtBot, setup: Setup) -> None:
    """A saved draft is offered back; "Reopen draft" restores the labels voxel for voxel."""
    window = make_window(qtbot, setup)
    start_annotating(qtbot, window)
    paint_cube(window, (30, 40, 12), 4)
    assert window.annotator.editor is not None
    window.annotator.editor.active_label = 3
    paint_cube(window, (50, 44, 14), 3)
    drawn = window.annotator.editor.array.copy()
    series_id = window.annotator.series_id
    window.close()  # saves on close
    ref = reading.latest_draft(setup.registry, setup.reader)
    assert ref is not None
    assert len(lesions_of(setup, ref.read_id)) == 2
    assert ref.first_lesion_series == int(str(series_id))

    quiet = make_window(qtbot, setup, quiet=True)
    assert quiet.draft_offer is None  # screenshot mode: no offer
    second = make_window(qtbot, setup)
    offer = second.draft_offer
    assert offer is not None
    assert offer.isVisible()
    assert not offer.isModal()
    assert CASE_ID in offer.text()
    button = next(b for b in offer.findChildren(QPushButton) if b.text() == "Reopen draft")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: second.annotator.active, timeout=3000)
    assert second.reviewing
    assert second.annotator.series_id == series_id
    assert second.annotator.editor is not None
    restored = second.annotator.editor.array
    assert restored.shape == drawn.shape
    assert np.array_equal(restored, drawn)
    assert second.annotator.panel.table.rowCount() == 2


def test_conflict_keeps_labels(qtbot: QtBot, setup: Setup) -> None:
    """A save against a stale version shows the conflict, stops autosave, keeps the labels."""
    window = make_window(qtbot, setup)
    start_annotating(qtbot, window)
    annotator = window.annotator
    paint_cube(window, (30, 40, 12), 4)
    read_id, _ = read_of(setup)
    elsewhere = DraftSession.open(setup.registry, setup.reader, CASE_ID)  # another window
    assert elsewhere.read_id == read_id
    elsewhere.set_choices(None, None, "edited elsewhere")
    assert elsewhere.save()
    assert annotator.editor is not None
    before = annotator.editor.array.copy()
    assert not annotator.save()
    assert annotator.conflict is not None
    assert "not saved" in annotator.panel.status_label.text()
    assert not annotator.autosave_timer.isActive()
    assert window.errors  # the window was told
    assert np.array_equal(annotator.editor.array, before)
    assert np.count_nonzero(before) == 64
    # Leaving and coming back keeps the in-memory labels.
    annotator.set_active(False)
    assert not annotator.active
    assert annotator.set_active(True)
    assert annotator.editor is not None
    assert np.array_equal(annotator.editor.array, before)
    assert "not saved" in annotator.panel.status_label.text()
    assert not annotator.submit_action.isEnabled()
    assert lesions_of(setup, read_id) == []


def test_non_reader_cannot_annotate(qtbot: QtBot, setup: Setup) -> None:
    """The coordinator (no reader role) sees the toggle disabled."""
    window = MainWindow(setup.registry, setup.coordinator, quiet=True, cache_root=setup.cache_root)
    qtbot.addWidget(window)
    action = window.review.annotate_action
    assert not action.isEnabled()
    assert "needs the reader role" in action.toolTip()  # the policy's reason
    assert window.annotator.may_annotate is not None
    assert window.draft_offer is None


def test_screenshot(qtbot: QtBot, setup: Setup, tmp_path: Path) -> None:
    """Annotating with two lesions drawn: ``annotate.png`` in the test's temporary folder."""
    window = make_window(qtbot, setup)
    start_annotating(qtbot, window)
    series = window.review.active_series()
    assert series is not None
    cx, cy, cz = (n // 2 for n in series.shape[:3])
    paint_cube(window, (cx + 15, cy - 10, cz - 2), 8)
    assert window.annotator.editor is not None
    window.annotator.editor.active_label = 2
    paint_cube(window, (cx - 30, cy + 5, cz - 3), 6)
    window.annotator.refresh_table()
    window.annotator.save()
    window.annotator.panel.table.selectRow(0)
    qtbot.wait(100)
    assert window.grab().save(str(tmp_path / "annotate.png"))
    assert annotate_module.OVERLAY_NAME == "Draft lesions"
    assert isinstance(window.draft_offer, QMessageBox | None)
