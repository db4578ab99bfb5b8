"""Lesion details (side, location, PML features) and carrying lesions between timepoints.

One case with a phantom FLAIR at day 0 and day 35 (same scanner frame, so no alignment runs
by itself) and a reader ``rad1``. Sets details through the form, saves through the autosave,
reopens in a second window; carries the day-0 lesions to day 35 and reads the Δ volume.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from adjudication.lesions import (
    ContrastEnhancement,
    DwiPattern,
    Hemisphere,
    Location,
    hemisphere_of,
)
from adjudication.vocabulary import Role, TriState
from tests.ui.annotation import assign_readers, paint_cube, unsaved
from workbench import cache
from workbench.cases import NewCase, create_case
from workbench.demo import phantom
from workbench.domain import Condition, SequenceClass, Sex, SourceKind
from workbench.lesions.longitudinal import TRACK_KEY
from workbench.registry.db import Registry
from workbench.services import reading
from workbench.studies import SeriesRecord, add_series, add_study
from workbench.ui.main_window import MainWindow
from workbench.users import Actor, add_user, resolve_actor

CASE_ID = "PML-L-0001"
DAYS = (0, 35)


@dataclass
class Setup:
    """The registry, its reader, the voxel cache and the FLAIR series id of each day."""

    registry: Registry
    reader: Actor
    cache_root: Path
    flair: dict[int, str]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    """One case with a phantom FLAIR at day 0 and day 35 in a private cache; reader ``rad1``."""
    registry = Registry.open(f"sqlite:///{tmp_path / 'details.sqlite3'}")
    cache_root = tmp_path / "cache"
    anatomy = phantom.make_anatomy(seed=7)
    affine = anatomy.affine_lps
    flair: dict[int, str] = {}
    with registry.write() as session:
        coordinator = resolve_actor(session, "coordinator")
        add_user(session, "rad1", "Dr Reader", {Role.READER}, by=coordinator)
        create_case(
            session,
            coordinator,
            NewCase(CASE_ID, "NL-AMS", Sex.FEMALE, "40-49", Condition.HIV, None, None,
                    TriState.PRESENT),
        )  # fmt: skip
        for day in DAYS:
            study = add_study(session, coordinator, CASE_ID, day, description=f"MRI day {day}")
            sequence = SequenceClass.FLAIR
            array = np.ascontiguousarray(phantom.synthesize(anatomy, None, sequence, seed=1).T)
            sha = hashlib.sha256(f"{sequence.value}-{day}".encode()).hexdigest()
            path, _ = cache.store(cache_root, sha, 0, array)
            series = add_series(
                session,
                coordinator,
                study,
                SeriesRecord(
                    source_kind=SourceKind.NIFTI,
                    source_uri=f"/site/{sequence.name}-{day}.nii.gz",
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
            session.flush()
            flair[day] = str(series.id)
    assign_readers(registry, coordinator, CASE_ID, ["rad1"])
    with registry.write() as session:
        reader = resolve_actor(session, "rad1")
    yield Setup(registry, reader, cache_root, flair)
    registry.close()


def make_window(qtbot: QtBot, setup: Setup) -> MainWindow:
    """A shown main window for the reader."""
    window = MainWindow(setup.registry, setup.reader, cache_root=setup.cache_root)
    qtbot.addWidget(window)
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    return window


def annotate_series(window: MainWindow, series_id: str) -> None:
    """Open the case's review, show ``series_id`` in the active viewport and annotate it."""
    if not window.reviewing:
        assert window.open_review(CASE_ID)
    QApplication.processEvents()
    window.annotator.set_active(False)
    assert window.review.show_in_active(series_id)
    assert window.annotator.set_active(True), window.annotator.last_error
    assert window.annotator.series_id == series_id
    QApplication.processEvents()


def read_id_of(setup: Setup) -> int:
    """The id of the reader's draft."""
    ref = reading.latest_draft(setup.registry, setup.reader)
    assert ref is not None
    return ref.read_id


def lesions_of(setup: Setup, read_id: int) -> list[reading.LesionSummary]:
    """The stored lesions of the reader's read ``read_id``."""
    return reading.list_lesions(setup.registry, setup.reader, read_id)


def test_details_saved_and_restored(qtbot: QtBot, setup: Setup) -> None:
    """Location, features and a side override survive autosave and a second window."""
    window = make_window(qtbot, setup)
    annotate_series(window, setup.flair[0])
    annotator = window.annotator
    paint_cube(window, (20, 30, 10), 4)  # left of the midline or not: the side is suggested
    annotator.refresh_table()
    table = annotator.panel.table
    form = annotator.panel.details_form
    assert table.rowCount() == 1
    assert not form.isEnabled()
    suggested = hemisphere_of(table.stats[0].centroid_mm).value
    assert table.cell_text(0, table.SIDE) == suggested
    assert table.cell_text(0, table.CHANGE) == ""
    table.selectRow(0)
    assert form.isEnabled()
    assert form.label == table.stats[0].label
    assert annotator.autosave()  # the painted label
    override = Hemisphere.RIGHT if suggested == "left" else Hemisphere.LEFT
    form.set_choice("side", override)
    form.set_choice("location", Location.PARIETAL)
    form.set_choice("u_fibres", TriState.PRESENT)
    form.set_choice("dwi_pattern", DwiPattern.RIM)
    form.set_choice("contrast_enhancement", ContrastEnhancement.FAINT_PUNCTATE)
    form.set_choice("swi_rim", TriState.ABSENT)
    assert unsaved(window)
    assert table.cell_text(0, table.SIDE) == override.value
    assert table.cell_text(0, table.LOCATION) == "parietal"
    assert annotator.autosave()
    assert not unsaved(window)

    (lesion,) = lesions_of(setup, read_id_of(setup))
    assert lesion.hemisphere == override.value
    assert lesion.location == "parietal"
    assert lesion.features["u_fibres"] == "present"
    assert lesion.features["dwi_pattern"] == "rim"
    assert lesion.features["contrast_enhancement"] == "faint_punctate"
    assert lesion.features["swi_rim"] == "absent"
    assert lesion.features["mass_effect"] == "not_assessed"
    window.close()

    second = make_window(qtbot, setup)
    annotate_series(second, setup.flair[0])
    restored = second.annotator.details[lesion.label]
    assert restored.hemisphere == override
    assert restored.location == Location.PARIETAL
    assert restored.features["u_fibres"] == "present"
    table = second.annotator.panel.table
    assert table.cell_text(0, table.SIDE) == override.value
    table.selectRow(0)
    form = second.annotator.panel.details_form
    assert form.side_box.currentData() == override.value
    assert form.location_box.currentData() == "parietal"
    assert form.feature_boxes["dwi_pattern"].currentData() == "rim"
    assert form.feature_boxes["t1_hypointensity"].currentData() == "not_assessed"

    # Back to the suggestion: stored as the suggested side, read back as "not chosen".
    form.set_choice("side", None)
    assert second.annotator.save()
    (lesion,) = lesions_of(setup, read_id_of(setup))
    assert lesion.hemisphere == suggested
    assert lesion.location == "parietal"  # the rest is kept


def test_carry_to_other_timepoint_and_delta(qtbot: QtBot, setup: Setup) -> None:
    """Carry day-0 FLAIR lesions to day-35 FLAIR; the Δ column follows painting."""
    window = make_window(qtbot, setup)
    annotate_series(window, setup.flair[0])
    annotator = window.annotator
    assert paint_cube(window, (30, 40, 12), 4) == 64
    annotator.refresh_table()
    annotator.panel.table.selectRow(0)
    annotator.panel.details_form.set_choice("location", Location.FRONTAL)
    source = annotator.editor
    assert source is not None
    drawn = source.array.copy()
    targets = dict(annotator.carry_targets())
    assert set(targets) == {setup.flair[35]}
    annotator.panel.carry_menu.aboutToShow.emit()
    assert [a.text() for a in annotator.panel.carry_menu.actions()] == [targets[setup.flair[35]]]

    assert annotator.carry_to(setup.flair[35]) == 1
    assert not unsaved(window)  # carried and saved
    read_id = read_id_of(setup)
    lesions = lesions_of(setup, read_id)
    carried = reading.load_labels(setup.registry, setup.reader, read_id, int(setup.flair[35]))
    assert sorted((lesion.series_id, lesion.label) for lesion in lesions) == [
        (int(setup.flair[0]), 1),
        (int(setup.flair[35]), 2),
    ]
    later = next(lesion for lesion in lesions if lesion.label == 2)
    assert later.features[TRACK_KEY] == 1
    assert later.location == "frontal"
    assert np.array_equal(carried != 0, drawn != 0)  # same grid, no alignment: same voxels
    table = annotator.panel.table
    assert table.cell_text(0, table.CHANGE) == "+0.000 mL (+0 %)"
    # Carrying again adds nothing: the track is there already.
    assert annotator.carry_to(setup.flair[35]) == 0

    # Paint more at day 0: the lesion shrank from day 0 to day 35.
    paint_cube(window, (34, 40, 12), 4)
    annotator.refresh_table()
    voxel_ml = source.voxel_volume_mm3 / 1000.0
    assert table.cell_text(0, table.CHANGE) == f"{-64 * voxel_ml:+.3f} mL (-50 %)"
    assert annotator.save()

    # The day-35 series has the lesion to start from; painting more there grows it.
    annotate_series(window, setup.flair[35])
    editor = annotator.editor
    assert editor is not None
    assert np.array_equal(editor.array != 0, carried != 0)
    assert editor.active_label == 2
    table = annotator.panel.table
    assert table.rowCount() == 1
    assert table.cell_text(0, table.CHANGE) == f"{-64 * voxel_ml:+.3f} mL (-50 %)"
    paint_cube(window, (30, 44, 12), 4)
    paint_cube(window, (30, 48, 12), 4)
    annotator.refresh_table()
    assert table.cell_text(0, table.CHANGE) == f"{64 * voxel_ml:+.3f} mL (+50 %)"
    assert annotator.save()
    assert len(lesions_of(setup, read_id)) == 2  # day 0 was kept by the save
    draft = annotator.draft
    assert draft is not None
    assert draft.last_saved is not None
    assert draft.last_saved.written == (2,)  # only the day-35 lesion was written


def test_carry_through_alignment(qtbot: QtBot, setup: Setup) -> None:
    """With an alignment (current world → prior world), carried lesions move by it."""
    window = make_window(qtbot, setup)
    annotate_series(window, setup.flair[0])
    annotator = window.annotator
    paint_cube(window, (30, 40, 12), 4)
    source = annotator.editor
    assert source is not None
    shift = np.array([6.0, 0.0, 0.0])  # prior world = current world + shift
    transform = np.eye(4)
    transform[:3, 3] = shift
    window.review._transforms[0] = transform  # as an alignment of day 0 to day 35 leaves it
    assert annotator.carry_to(setup.flair[35]) == 1
    carried = annotator.others[int(setup.flair[35])]
    ijk_before = np.argwhere(source.array != 0).mean(axis=0)
    ijk_after = np.argwhere(carried.labels != 0).mean(axis=0)
    before = (source.affine @ np.append(ijk_before, 1.0))[:3]
    after = (carried.affine @ np.append(ijk_after, 1.0))[:3]
    spacing = np.linalg.norm(source.affine[:3, :3], axis=0)
    assert np.all(np.abs((after - before) - (-shift)) <= spacing / 2 + 1e-6)
