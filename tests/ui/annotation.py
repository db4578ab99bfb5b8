"""Helpers shared by the annotation tests: paint through the editor, ask for unsaved work."""

from __future__ import annotations

import numpy as np

from viewers.labels_edit import VoxelBox
from workbench.ui.main_window import MainWindow


def paint_cube(window: MainWindow, lo: tuple[int, int, int], size: int) -> int:
    """Paint a ``size``³ cube of the active label at voxel ``lo``; the voxels painted."""
    editor = window.annotator.editor
    assert editor is not None
    hi = (lo[0] + size, lo[1] + size, lo[2] + size)
    return editor.paint(VoxelBox(lo, hi), np.ones((size,) * 3, dtype=bool), editor.active_label)


def unsaved(window: MainWindow) -> bool:
    """Whether the annotator has changes not saved yet."""
    return window.annotator.dirty
