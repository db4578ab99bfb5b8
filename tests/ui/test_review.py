"""The review workspace on real registries: hanging protocols, linked views, drops, alignment,
per-user settings, a broken voxel cache, label overlays, and run()/gui --layout screenshots.

Two registries: the session's demo registry (what a new user sees; never modified here) and a
small synthetic one per test (:func:`review_registry`: two timepoints of phantom FLAIR, T1 and
a 4D DWI, in their own voxel cache, the prior shifted by a known offset and on its own frame
of reference), which a test may break (delete a cache file).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QPointF, QSettings, Qt
from PyQt6.QtGui import QDragEnterEvent, QDropEvent, QImage, QWheelEvent
from PyQt6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from adjudication.vocabulary import TriState
from tests.signin import login
from tests.ui.conftest import cli_token
from viewers.geometry import Plane
from viewers.image import LabelLayer
from viewers.interaction import shortcut_help
from viewers.layout import GridLayout
from viewers.qt import SERIES_MIME_TYPE
from viewers.view import SliceView
from workbench import cache
from workbench.cases import NewCase, create_case
from workbench.cli import main as cli_main
from workbench.config import Settings
from workbench.demo import phantom
from workbench.demo.build import DEMO_PASSWORD
from workbench.demo.catalogue import DEMO_CASES
from workbench.domain import Condition, SequenceClass, Sex, SourceKind
from workbench.registry.db import Registry
from workbench.studies import SeriesRecord, add_series, add_study
from workbench.ui import app as app_module
from workbench.ui.main_window import MainWindow
from workbench.ui.workspace import ReviewWorkspace
from workbench.ui.workspace_data import ReviewProtocol
from workbench.ui.workspace_settings import APPLICATION, ORGANISATION, ReviewSettings
from workbench.users import Actor, resolve_actor

DEMO = DEMO_CASES[0]  # PML-DEMO-001: days 0 and 35, FLAIR, T2, T1, T1+Gd, DWI, ADC
CURRENT_DAY = max(DEMO.days)
PRIOR_DAY = sorted(DEMO.days)[-2]
SYNTHETIC_ID = "PML-R-0001"
PRIOR_SHIFT_MM = np.array([6.0, -4.0, 0.0])
"""The synthetic prior's voxels sit this far from the current's in world (LPS) mm."""


def _store() -> QSettings:
    scope = QSettings.Scope.UserScope
    return QSettings(QSettings.Format.IniFormat, scope, ORGANISATION, APPLICATION)


# --- registries ------------------------------------------------------------------------------


@pytest.fixture
def demo(demo_registry: tuple[Registry, Path]) -> tuple[Registry, Actor]:
    """The demo registry and its user."""
    registry, _ = demo_registry
    with registry.write() as session:
        actor = resolve_actor(session, "tester")
    return registry, actor


@dataclass
class Synthetic:
    """The synthetic registry of :func:`review_registry` and where its files are."""

    registry: Registry
    actor: Actor
    cache_root: Path
    paths: dict[tuple[int, str], Path]
    """Cache file of each (day, sequence class)."""
    affines: dict[int, np.ndarray]


def _volume(anatomy: phantom.Anatomy, sequence: SequenceClass, seed: int) -> np.ndarray:
    """A phantom contrast in the viewers' (i, j, k) order."""
    return np.ascontiguousarray(phantom.synthesize(anatomy, None, sequence, seed=seed).T)


@pytest.fixture
def review_registry(tmp_path: Path) -> Iterator[Synthetic]:
    """One case, days 0 and 30, each FLAIR, T1 and a 2-volume DWI in a private voxel cache.

    The two days have different frames of reference, and the prior's affine is the current's
    moved by :data:`PRIOR_SHIFT_MM` (same voxels), so aligning prior to current must recover
    that shift.
    """
    registry = Registry.open(f"sqlite:///{tmp_path / 'review.sqlite3'}")
    cache_root = tmp_path / "cache"
    anatomy = phantom.make_anatomy(seed=7)
    current_affine = anatomy.affine_lps
    prior_affine = current_affine.copy()
    prior_affine[:3, 3] += PRIOR_SHIFT_MM
    affines = {0: prior_affine, 30: current_affine}
    paths: dict[tuple[int, str], Path] = {}
    with registry.write() as session:
        actor = resolve_actor(session, "coordinator")
        create_case(
            session,
            actor,
            NewCase(SYNTHETIC_ID, "NL-AMS", Sex.FEMALE, "40-49", Condition.HIV, None, None,
                    TriState.PRESENT),
        )  # fmt: skip
        for day in (0, 30):
            study = add_study(session, actor, SYNTHETIC_ID, day, description=f"MRI day {day}")
            for sequence in (SequenceClass.FLAIR, SequenceClass.T1, SequenceClass.DWI):
                array = _volume(anatomy, sequence, seed=day + 1)
                if sequence is SequenceClass.DWI:
                    array = np.stack([array, array // 2], axis=-1)
                sha = hashlib.sha256(f"{day}{sequence.value}".encode()).hexdigest()
                path, _ = cache.store(cache_root, sha, 0, array)
                paths[(day, sequence.value)] = path
                add_series(
                    session,
                    actor,
                    study,
                    SeriesRecord(
                        source_kind=SourceKind.NIFTI,
                        source_uri=f"/site/day{day}/{sequence.name}.nii.gz",
                        content_sha256=sha,
                        sequence_class=sequence,
                        shape=array.shape,
                        affine=affines[day],
                        dtype=str(array.dtype),
                        frame_of_reference_uid=f"1.2.826.0.1.3680043.8.498.{day + 1}",
                        description=f"AX {sequence.name}",
                        n_files=1,
                        cache_path=str(path),
                    ),
                )
    yield Synthetic(registry, actor, cache_root, paths, affines)
    registry.close()


# --- helpers ---------------------------------------------------------------------------------


def make_window(qtbot: QtBot, registry: Registry, actor: Actor) -> MainWindow:
    """A shown main window of 1280×800, closed after the test."""
    window = MainWindow(registry, actor)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return window


def activate(qtbot: QtBot, window: MainWindow) -> None:
    """Make ``window`` the active one, so its keyboard shortcuts work."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)


def names(window: MainWindow) -> list[str | None]:
    """The image name in each viewport."""
    return [None if v.image is None else v.image.name for v in window.review.grid.views]


def open_review(qtbot: QtBot, window: MainWindow, registry_id: str) -> ReviewWorkspace:
    """Open the case's page, then its images with the page's "Review images" button."""
    assert window.open_case(registry_id)
    qtbot.mouseClick(window.case_page.review_button, Qt.MouseButton.LeftButton)
    assert window.reviewing
    review = window.review
    QApplication.processEvents()
    return review


def wheel(widget: QWidget, notches: int) -> None:
    """Turn the mouse wheel over the middle of ``widget``."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre)),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def drop_series(target: QWidget, series_id: str, mime_source: ReviewWorkspace) -> None:
    """Drag the series list's row of ``series_id`` onto ``target`` (enter, then drop)."""
    item = mime_source.series_list.item_of(series_id)
    assert item is not None
    mime = mime_source.series_list.mimeData([item])
    assert mime is not None
    assert bytes(mime.data(SERIES_MIME_TYPE).data()).decode() == series_id
    model = mime_source.series_list.model()
    assert model is not None
    assert model.supportedDragActions() == Qt.DropAction.CopyAction, "never moves the row"
    centre = QPointF(target.width() / 2, target.height() / 2)
    enter = QDragEnterEvent(
        centre.toPoint(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        centre,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(target, drop)


def series_id_of(review: ReviewWorkspace, day: int, sequence: str) -> str:
    """The id of the case's series of that day and sequence class."""
    assert review.case is not None
    for series in review.case.series:
        if series.day == day and series.sequence_class == sequence:
            return series.series_id
    raise AssertionError(f"no {sequence} on day {day}")


# --- hanging protocols -----------------------------------------------------------------------


def test_review_button_hangs_the_latest_timepoint_in_2x2(
    qtbot: QtBot, demo: tuple[Registry, Actor]
) -> None:
    window = make_window(qtbot, *demo)
    assert not window.review_action.isEnabled(), "nothing to review before a case is open"

    review = open_review(qtbot, window, DEMO.registry_id)

    assert review.grid_layout is GridLayout.TWO_BY_TWO
    assert review.protocol is ReviewProtocol.HANGING
    assert names(window) == [f"{s} · day {CURRENT_DAY}" for s in ("FLAIR", "T2", "T1", "T1+Gd")]
    assert all(view.plane is Plane.AXIAL for view in review.grid.views)
    assert review.title_label.text() == DEMO.registry_id
    assert not window.toolbar.isVisible(), "the images get the room of the data-entry toolbar"
    assert review.series_list.series_ids()[:6] == [
        series_id_of(review, CURRENT_DAY, s.value) for s in DEMO.sequences
    ], "latest timepoint first"
    # All viewports share one link, and every view shows the slice through one world cursor.
    cursors = [view.cursor for view in review.grid.views]
    for cursor in cursors[1:]:
        np.testing.assert_allclose(cursor, cursors[0], atol=1e-6)

    window.refresh()  # F5 reloads the case under the review without disturbing it
    assert window.reviewing
    assert names(window)[0] == f"FLAIR · day {CURRENT_DAY}"

    # 2×3 shows DWI and ADC too; 1×1 only FLAIR.
    review.layout_box.setCurrentIndex(list(GridLayout).index(GridLayout.TWO_BY_THREE))
    assert names(window)[4:] == [f"DWI · day {CURRENT_DAY}", f"ADC · day {CURRENT_DAY}"]
    window.review.layout_actions[GridLayout.ONE_BY_ONE].trigger()
    assert names(window) == [f"FLAIR · day {CURRENT_DAY}"]

    qtbot.mouseClick(review.back_button, Qt.MouseButton.LeftButton)
    assert window.central.currentWidget() is window.splitter, "back on the case page"
    assert window.toolbar.isVisible()
    assert not review.layout_actions[GridLayout.TWO_BY_TWO].isEnabled(), (
        "review shortcuts are off while the case page is shown"
    )


def test_prior_vs_current_shows_the_same_sequence_of_both_timepoints(
    qtbot: QtBot, demo: tuple[Registry, Actor]
) -> None:
    window = make_window(qtbot, *demo)
    review = open_review(qtbot, window, DEMO.registry_id)

    review.layout_box.setCurrentIndex(list(GridLayout).index(GridLayout.ONE_BY_TWO))
    review.protocol_box.setCurrentIndex(list(ReviewProtocol).index(ReviewProtocol.PRIOR_CURRENT))

    assert names(window) == [f"FLAIR · day {PRIOR_DAY}", f"FLAIR · day {CURRENT_DAY}"]
    assert not review.alignment_running, "one frame of reference: nothing to align"
    assert review.subtitle_label.text() == f"day {PRIOR_DAY} → day {CURRENT_DAY}"

    review.set_grid_layout(GridLayout.TWO_BY_THREE)
    prior = [f"{s} · day {PRIOR_DAY}" for s in ("FLAIR", "T2", "T1")]
    current = [f"{s} · day {CURRENT_DAY}" for s in ("FLAIR", "T2", "T1")]
    assert names(window) == prior + current

    review.protocol_actions[ReviewProtocol.HANGING].trigger()
    assert names(window)[0] == f"FLAIR · day {CURRENT_DAY}"


def test_case_menu_and_double_click_open_the_review(
    qtbot: QtBot, demo: tuple[Registry, Actor]
) -> None:
    window = make_window(qtbot, *demo)
    assert window.open_case(DEMO.registry_id)
    assert window.review_action.isEnabled()
    assert window.review_action.shortcut().toString() == "Ctrl+R"

    activate(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.reviewing
    assert window.review.back_action.isEnabled()
    window.review.back_action.trigger()
    assert window.central.currentWidget() is window.splitter

    # Double-click the prior's ADC (not hung by the protocol) in the case page's tree.
    tree = window.case_page.imaging_tree
    prior = tree.topLevelItem(0)
    assert prior is not None
    assert prior.text(0) == f"Day {PRIOR_DAY}"
    adc = prior.child(DEMO.sequences.index(SequenceClass.ADC))
    assert adc is not None
    assert adc.text(0) == "ADC"
    viewport = tree.viewport()
    assert viewport is not None
    tree.scrollToItem(adc)
    where = tree.visualItemRect(adc).center()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=where)
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=where)

    assert window.reviewing
    review = window.review
    active = review.grid.active_index
    assert names(window)[active] == f"ADC · day {PRIOR_DAY}"
    selected = review.series_list.currentItem()
    assert selected is not None
    assert selected.text(0) == "ADC"


# --- linked navigation -----------------------------------------------------------------------


def test_a_click_moves_the_cursor_of_every_viewport(
    qtbot: QtBot, demo: tuple[Registry, Actor]
) -> None:
    window = make_window(qtbot, *demo)
    review = open_review(qtbot, window, DEMO.registry_id)
    widget = review.grid.viewport(1)
    view = review.grid.views[1]
    x, y = widget.width() // 2 + 37, widget.height() // 2 - 23
    expected = view.view_to_world(x, y)
    before = review.grid.views[0].cursor

    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(x, y))

    assert review.grid.active_index == 1
    assert not np.allclose(before, expected)
    for other in review.grid.views:  # the demo's series share one grid: same LPS point
        np.testing.assert_allclose(other.cursor, expected, atol=1e-6)


def test_wheel_in_one_viewport_scrolls_the_others_by_the_same_mm(
    qtbot: QtBot, demo: tuple[Registry, Actor]
) -> None:
    window = make_window(qtbot, *demo)
    review = open_review(qtbot, window, DEMO.registry_id)
    views = review.grid.views
    wheel(review.grid.viewport(2), 1)  # lands on a slice centre first
    before = [view.cursor for view in views]
    start = views[2].slice_info()
    assert start is not None

    wheel(review.grid.viewport(2), 2)

    moved = [view.cursor - origin for view, origin in zip(views, before, strict=True)]
    np.testing.assert_allclose(moved[2], [0.0, 0.0, 2 * start.step_mm], atol=1e-6)
    for delta in moved:
        np.testing.assert_allclose(delta, moved[2], atol=1e-6)
    for view in views:
        info = view.slice_info()
        assert info is not None
        assert info.index == start.index + 2


def test_link_zoom_and_pan_toggle(qtbot: QtBot, demo: tuple[Registry, Actor]) -> None:
    window = make_window(qtbot, *demo)
    review = open_review(qtbot, window, DEMO.registry_id)
    views = review.grid.views

    views[0].set_camera(zoom=2.0)
    assert views[1].zoom == 1.0, "unlinked by default"

    qtbot.mouseClick(review.link_zoom_button, Qt.MouseButton.LeftButton)
    assert review.grid.link.link_zoom
    assert review.grid.link.link_pan
    views[0].set_camera(zoom=3.0, pan=(5.0, -2.0))
    assert all(v.zoom == 3.0 and v.pan == (5.0, -2.0) for v in views)


# --- drag and drop ---------------------------------------------------------------------------


def test_dropping_a_series_onto_a_viewport_shows_it_there(
    qtbot: QtBot, demo: tuple[Registry, Actor]
) -> None:
    window = make_window(qtbot, *demo)
    review = open_review(qtbot, window, DEMO.registry_id)
    cursor = review.grid.views[0].cursor
    adc_prior = series_id_of(review, PRIOR_DAY, "ADC")
    dwi_current = series_id_of(review, CURRENT_DAY, "DWI")

    viewport_widget = review.grid.viewport(2).parentWidget()  # the drop target: the whole cell
    assert viewport_widget is not None
    drop_series(viewport_widget, adc_prior, review)
    review.grid.series_dropped.emit(3, dwi_current)

    assert names(window) == [
        f"FLAIR · day {CURRENT_DAY}",
        f"T2 · day {CURRENT_DAY}",
        f"ADC · day {PRIOR_DAY}",
        f"DWI · day {CURRENT_DAY}",
    ]
    assert review.viewport_series()[2] == adc_prior
    # A dropped series opens where the reader is looking.
    np.testing.assert_allclose(review.grid.views[2].cursor, cursor, atol=1e-6)
    item = review.series_list.item_of(adc_prior)
    assert item is not None
    assert item.font(0).bold(), "series in a viewport are marked in the list"


# --- alignment -------------------------------------------------------------------------------


def test_alignment_runs_in_the_background_and_can_be_cancelled(
    qtbot: QtBot, demo: tuple[Registry, Actor]
) -> None:
    window = make_window(qtbot, *demo)
    review = open_review(qtbot, window, DEMO.registry_id)
    review.set_grid_layout(GridLayout.ONE_BY_TWO)
    review.set_protocol(ReviewProtocol.PRIOR_CURRENT)
    prior_view, current_view = review.grid.views

    qtbot.mouseClick(review.align_button, Qt.MouseButton.LeftButton)
    assert review.alignment_running
    assert review.alignment_bar.isVisible()
    assert not review.align_action.isEnabled(), "one alignment at a time"
    # Progress arrives while the event loop runs: the window is not blocked.
    qtbot.waitUntil(lambda: review.alignment_progress.value() > 0, timeout=20_000)
    current_view.set_cursor(current_view.cursor + np.array([3.0, 0.0, 0.0]))  # the views still work
    with qtbot.waitSignal(review.alignment_done, timeout=20_000) as ended:
        qtbot.mouseClick(review.cancel_button, Qt.MouseButton.LeftButton)
    assert ended.args == [None]
    assert review.alignment_job is None
    assert review.alignment_transform(PRIOR_DAY) is None
    assert "cancelled" in review.alignment_label.text()
    assert review.align_action.isEnabled()
    np.testing.assert_allclose(prior_view.cursor, current_view.cursor, atol=1e-6)


def test_alignment_of_two_demo_timepoints_is_near_identity(
    qtbot: QtBot, demo: tuple[Registry, Actor]
) -> None:
    window = make_window(qtbot, *demo)
    review = open_review(qtbot, window, DEMO.registry_id)
    review.set_grid_layout(GridLayout.ONE_BY_TWO)
    review.set_protocol(ReviewProtocol.PRIOR_CURRENT)
    prior_view, current_view = review.grid.views

    with qtbot.waitSignal(review.alignment_done, timeout=60_000) as ended:
        review.align_action.trigger()
    matrix = ended.args[0]

    assert isinstance(matrix, np.ndarray)
    assert matrix.shape == (4, 4)
    assert np.linalg.norm(matrix[:3, 3]) < 2.0, "same frame of reference: translation < 2 mm"
    np.testing.assert_allclose(matrix[:3, :3], np.eye(3), atol=0.02)
    stored = review.alignment_transform(PRIOR_DAY)
    assert stored is not None
    np.testing.assert_allclose(stored, matrix)
    assert "aligned" in review.alignment_label.text()
    assert review.reset_alignment_action.isEnabled()
    # The prior follows the current through the transform.
    target = current_view.cursor + np.array([10.0, -5.0, 4.0])
    current_view.set_cursor(target)
    np.testing.assert_allclose(prior_view.cursor, matrix[:3, :3] @ target + matrix[:3, 3])


def test_prior_on_another_frame_of_reference_is_aligned_on_opening(
    qtbot: QtBot, review_registry: Synthetic
) -> None:
    window = make_window(qtbot, review_registry.registry, review_registry.actor)
    window.open_case(SYNTHETIC_ID)
    with qtbot.waitSignal(window.review.alignment_done, timeout=60_000) as ended:
        assert window.open_review(
            layout=GridLayout.ONE_BY_TWO, protocol=ReviewProtocol.PRIOR_CURRENT
        )
        assert window.review.alignment_running, "different frames of reference: aligns itself"
    matrix = ended.args[0]

    assert isinstance(matrix, np.ndarray)
    np.testing.assert_allclose(matrix[:3, 3], PRIOR_SHIFT_MM, atol=1.0)
    np.testing.assert_allclose(matrix[:3, :3], np.eye(3), atol=0.02)
    prior_view, current_view = window.review.grid.views
    assert names(window) == ["FLAIR · day 0", "FLAIR · day 30"]
    # The same anatomy: a click on the current lands on the voxel of the same index in the prior.
    current_view.set_cursor(current_view.image.voxel_to_world([70, 60, 20]))  # type: ignore[union-attr]
    prior_voxel = prior_view.image.world_to_voxel(prior_view.cursor)  # type: ignore[union-attr]
    np.testing.assert_allclose(prior_voxel, [70, 60, 20], atol=0.6)


# --- per-user settings -----------------------------------------------------------------------


def test_layout_protocol_and_window_presets_are_remembered_per_user(
    qtbot: QtBot, demo: tuple[Registry, Actor], settings_dir: Path
) -> None:
    registry, actor = demo
    window = make_window(qtbot, registry, actor)
    review = open_review(qtbot, window, DEMO.registry_id)
    review.layout_box.setCurrentIndex(list(GridLayout).index(GridLayout.TWO_BY_THREE))
    review.protocol_box.setCurrentIndex(list(ReviewProtocol).index(ReviewProtocol.PRIOR_CURRENT))
    review.link_zoom_action.trigger()
    review.grid.set_active(0)  # prior FLAIR
    review.window_box.setCurrentIndex(review.window_box.findData("Full range"))
    full = [v.window for v in review.grid.views[:1]]
    window.close()

    assert any(p.suffix == ".ini" for p in settings_dir.rglob("*")), "kept in the tmp folder"
    keys = set(_store().allKeys())
    assert {"tester/review/layout", "tester/review/protocol", "tester/review/window/FLAIR"} <= keys
    assert _store().value("tester/review/layout") == "2x3"

    again = make_window(qtbot, registry, actor)
    review = open_review(qtbot, again, DEMO.registry_id)
    assert review.grid_layout is GridLayout.TWO_BY_THREE
    assert review.protocol is ReviewProtocol.PRIOR_CURRENT
    assert review.layout_box.currentData() is GridLayout.TWO_BY_THREE
    assert review.link_zoom_action.isChecked()
    assert review.grid.link.link_zoom
    assert names(again)[0] == f"FLAIR · day {PRIOR_DAY}"
    assert review.grid.views[0].window == full[0], "FLAIR opens with the user's preset"
    review.grid.set_active(0)
    assert review.window_box.currentData() == "Full range"

    other = ReviewSettings("another.reader")
    assert other.layout is GridLayout.TWO_BY_TWO
    assert other.protocol is ReviewProtocol.HANGING
    assert other.window_preset("FLAIR") == "FLAIR"
    _store().setValue("another.reader/review/layout", "9x9")  # hand-edited nonsense
    assert ReviewSettings("another.reader").layout is GridLayout.TWO_BY_TWO


def test_command_line_layout_is_not_remembered(
    qapp: QApplication, demo_registry: tuple[Registry, Path], tmp_path: Path
) -> None:
    registry, _ = demo_registry
    png = tmp_path / "shot.png"
    settings = Settings(registry.url, tmp_path)
    token = cli_token(registry.url, "tester", DEMO_PASSWORD)

    code = app_module.run(
        settings, token=token, screenshot=png, case=DEMO.registry_id, layout="1x1"
    )

    assert code == 0
    assert ReviewSettings("tester").layout is GridLayout.TWO_BY_TWO


# --- a broken voxel cache --------------------------------------------------------------------


def test_a_deleted_cache_file_shows_a_message_and_nothing_crashes(
    qtbot: QtBot, review_registry: Synthetic
) -> None:
    review_registry.paths[(30, "FLAIR")].unlink()
    window = make_window(qtbot, review_registry.registry, review_registry.actor)

    review = open_review(qtbot, window, SYNTHETIC_ID)

    assert names(window) == [None, "T1 · day 30", "DWI · day 30", None]
    message = review.viewport_message(0)
    assert message is not None
    assert "FLAIR · day 30" in message
    assert "missing" in message
    assert "Import the series again" in message
    overlay = review.grid.viewport(0).findChild(QWidget, "viewportMessage")
    assert overlay is not None
    assert overlay.isVisible()
    assert review.banner.isVisible()
    assert "FLAIR · day 30" in review.banner.text()
    assert any("FLAIR · day 30" in e for e in window.errors)
    flair = series_id_of(review, 30, "FLAIR")
    assert flair in review.load_errors

    # The reader carries on: clicks and scrolls in the empty viewport, drops, layouts.
    qtbot.mouseClick(review.grid.viewport(0), Qt.MouseButton.LeftButton)
    wheel(review.grid.viewport(0), 1)
    review.grid.series_dropped.emit(3, flair)
    assert review.viewport_message(3) is not None
    review.set_grid_layout(GridLayout.TWO_BY_THREE)
    assert review.viewport_message(0) is not None
    rebuilt = review.grid.viewport(0).findChild(QWidget, "viewportMessage")
    assert rebuilt is not None, "the message follows the viewport through a layout change"
    review.grid.series_dropped.emit(0, series_id_of(review, 0, "FLAIR"))
    assert review.viewport_message(0) is None
    assert names(window)[0] == "FLAIR · day 0"


def test_a_4d_series_shows_its_first_volume_and_steps_with_brackets(
    qtbot: QtBot, review_registry: Synthetic
) -> None:
    window = make_window(qtbot, review_registry.registry, review_registry.actor)
    review = open_review(qtbot, window, SYNTHETIC_ID)
    view = review.grid.views[2]
    widget = review.grid.viewport(2)
    assert view.image is not None
    assert view.image.name == "DWI · day 30"
    assert view.image.time_points == 2
    assert view.image.time_index == 0

    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_BracketRight)

    assert view.image.time_index == 1


# --- label overlays --------------------------------------------------------------------------


def test_label_overlay_on_another_grid_is_drawn_over_its_series(
    qtbot: QtBot, review_registry: Synthetic
) -> None:
    window = make_window(qtbot, review_registry.registry, review_registry.actor)
    review = open_review(qtbot, window, SYNTHETIC_ID)
    flair = series_id_of(review, 30, "FLAIR")
    view = review.grid.views[0]
    assert view.image is not None
    centre = view.image.voxel_to_world([80, 50, 22])
    # A 1 mm isotropic label grid, offset and unlike the FLAIR's 1.8 × 1.8 × 4 mm.
    affine = np.eye(4)
    affine[:3, 3] = centre - 20.0
    labels = np.zeros((41, 41, 41), np.uint8)
    labels[12:29, 12:29, 12:29] = 1
    layer = LabelLayer("lesions", labels, affine, opacity=0.8)

    review.set_label_overlay(flair, layer)
    view.set_cursor(centre)

    assert [lab.name for lab in view.labels] == ["lesions"]
    assert all(not v.labels for v in review.grid.views[1:]), "only over its own series"
    rgba = view.render()
    grid = view.slice_grid()
    assert grid is not None
    column, row = (round(float(v)) for v in grid.world_to_pixel(centre)[:2])
    red, green, blue, _ = (int(c) for c in rgba[row, column])
    assert red > green + 60, "the label's red is blended in"
    assert red > blue + 60
    far_point = centre + np.array([40.0, 0.0, 0.0])
    far_column, far_row = (round(float(v)) for v in grid.world_to_pixel(far_point)[:2])
    far = rgba[far_row, far_column]
    assert int(far[0]) == int(far[1]) == int(far[2]), "grey outside the label"

    # The overlay stays with the series through protocol changes and drops.
    review.set_protocol(ReviewProtocol.PRIOR_CURRENT)
    assert review.grid.views[0].labels == (), "not over the prior FLAIR"
    assert [lab.name for lab in review.grid.views[2].labels] == ["lesions"]  # current FLAIR
    review.grid.series_dropped.emit(1, flair)
    assert [lab.name for lab in review.grid.views[1].labels] == ["lesions"]
    assert review.label_overlays(flair) == (layer,)
    review.remove_label_overlay(flair, "lesions")
    assert all(not v.labels for v in review.grid.views)


# --- help ------------------------------------------------------------------------------------


def test_f1_lists_the_viewport_and_window_shortcuts(
    qtbot: QtBot, demo: tuple[Registry, Actor]
) -> None:
    window = make_window(qtbot, *demo)
    open_review(qtbot, window, DEMO.registry_id)

    activate(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_F1)

    dialog = window.last_shortcuts
    assert dialog is not None
    assert dialog.isVisible()
    for row in shortcut_help():
        assert row in dialog.rows
    keys = dict(dialog.window_rows)
    assert keys["Ctrl+R"].startswith("Review images")
    assert keys["F1"].startswith("Keyboard shortcuts")
    assert keys["Ctrl+3"].startswith("2×2 layout")
    assert keys["Ctrl+Shift+A"].startswith("Align prior to current")
    assert keys["Alt+Left"].startswith("Back to case")
    dialog.close()


# --- run() and the command line -----------------------------------------------------------


def _brightness(image: QImage, x0: int, y0: int, x1: int, y1: int) -> float:
    total = 0
    count = 0
    for y in range(y0, y1, 8):
        for x in range(x0, x1, 8):
            total += QImage.pixelColor(image, x, y).lightness()
            count += 1
    return total / count


def test_run_renders_the_review_of_a_case_in_a_layout(
    qapp: QApplication, demo_registry: tuple[Registry, Path], tmp_path: Path
) -> None:
    registry, _ = demo_registry
    settings = Settings(registry.url, tmp_path)
    token = cli_token(registry.url, "tester", DEMO_PASSWORD)
    page_png, grid_png, pair_png = (tmp_path / f"{n}.png" for n in ("page", "grid", "pair"))

    assert app_module.run(settings, token=token, screenshot=page_png, case=DEMO.registry_id) == 0
    assert (
        app_module.run(
            settings, token=token, screenshot=grid_png, case=DEMO.registry_id, layout="2x2"
        )
        == 0
    )
    assert (
        app_module.run(
            settings,
            token=token,
            screenshot=pair_png,
            case=DEMO.registry_id,
            layout="1x2",
            protocol="prior-current",
        )
        == 0
    )

    page, grid, pair = (QImage(str(p)) for p in (page_png, grid_png, pair_png))
    for image in (page, grid, pair):
        assert (image.width(), image.height()) == (1280, 800)
    assert grid != page, "without --layout the case page, with it the review"
    # Dark around the images, bright brain in each quadrant of the 2×2 grid.
    assert _brightness(grid, 300, 100, 1270, 780) < 90
    for x0, y0 in ((380, 150), (900, 150), (380, 520), (900, 520)):
        assert _brightness(grid, x0, y0, x0 + 200, y0 + 160) > 40


def test_run_refuses_a_layout_without_a_case_or_an_unknown_layout(
    qapp: QApplication, demo_registry: tuple[Registry, Path], tmp_path: Path, capsys
) -> None:
    registry, _ = demo_registry
    settings = Settings(registry.url, tmp_path)
    token = cli_token(registry.url, "tester", DEMO_PASSWORD)
    png = tmp_path / "x.png"

    assert app_module.run(settings, token=token, screenshot=png, layout="2x2") == 1
    assert "needs a case" in capsys.readouterr().err
    code = app_module.run(
        settings, token=token, screenshot=png, case=DEMO.registry_id, layout="3x3"
    )
    assert code == 1
    assert "unknown grid layout" in capsys.readouterr().err
    assert not png.exists()


def test_gui_command_with_layout_writes_the_review_screenshot(
    qapp: QApplication, demo_registry: tuple[Registry, Path], tmp_path: Path, capsys
) -> None:
    registry, _ = demo_registry
    png = tmp_path / "review.png"
    login(registry.url, "tester", DEMO_PASSWORD)  # gui acts as the person signed in
    argv = ["--db", registry.url, "gui", "--case", DEMO.registry_id]

    assert cli_main([*argv, "--layout", "2x2", "--screenshot", str(png)]) == 0

    image = QImage(str(png))
    assert (image.width(), image.height()) == (1280, 800)
    assert cli_main(["--db", registry.url, "gui", "--layout", "2x2"]) == 2
    assert "--layout, --protocol, --tab and --panel need --case" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main([*argv, "--layout", "4x4"])


def test_no_settings_are_read_until_a_review_opens(
    qtbot: QtBot, demo: tuple[Registry, Actor], settings_dir: Path
) -> None:
    window = make_window(qtbot, *demo)
    window.open_case(DEMO.registry_id)
    assert window.review.settings._store is None
    assert not list(settings_dir.rglob("*.ini"))
    assert isinstance(window.review.grid.views[0], SliceView)
