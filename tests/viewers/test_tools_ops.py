"""Whole-label operations: fill holes, remove islands, split, merge, delete; one undo each."""

from __future__ import annotations

import numpy as np
import pytest

from viewers.label_ops import delete_label, fill_holes, merge_labels, remove_islands, split_label
from viewers.labels_edit import EditorError, LabelEditor


def editor_with(array: np.ndarray) -> LabelEditor:
    return LabelEditor(array, np.diag([1.0, 1.0, 2.0, 1.0]))


def ball(shape: tuple[int, int, int], centre: tuple[int, int, int], radius: float) -> np.ndarray:
    i, j, k = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij", sparse=True)
    return (i - centre[0]) ** 2 + (j - centre[1]) ** 2 + (k - centre[2]) ** 2 <= radius**2


def undo_restores(editor: LabelEditor, before: np.ndarray, name: str) -> None:
    assert editor.history[-1] == name
    after = editor.array.copy()
    depth = len(editor.history)
    editor.undo()
    assert len(editor.history) == depth - 1
    assert np.array_equal(editor.array, before)
    editor.redo()
    assert np.array_equal(editor.array, after)


def test_fill_holes_fills_enclosed_cavities_in_3d_only():
    shape = (40, 40, 40)
    solid = ball(shape, (20, 20, 20), 12)
    cavity = ball(shape, (20, 20, 20), 5)
    array = np.zeros(shape, dtype=np.uint8)
    array[solid & ~cavity] = 2
    array[5:8, 5:8, 5:8] = 2  # another part of the label, nothing to fill
    # a cup: a hollow open to the outside is not a hole
    array[30:38, 30:38, 2:10] = 2
    array[32:36, 32:36, 4:10] = 0
    array[20, 20, 20] = 5  # another lesion inside the cavity stays
    editor = editor_with(array)
    before = array.copy()
    filled = fill_holes(editor, 2)
    assert filled == int(cavity.sum()) - 1
    assert np.all(array[cavity & (before != 5)] == 2)
    assert array[20, 20, 20] == 5
    assert not array[32:36, 32:36, 4:10].any()
    undo_restores(editor, before, "fill holes")
    editor.undo()
    fill_holes(editor, 2, overwrite_other=True)
    assert array[20, 20, 20] == 2
    assert fill_holes(editor, 9) == 0  # absent label: nothing, no history
    assert editor.history == ["fill holes"]


def test_a_hole_behind_diagonal_contacts_is_still_a_hole():
    array = np.zeros((5, 5, 5), dtype=np.uint8)
    array[1:4, 1:4, 1:4] = 1
    array[2, 2, 2] = 0
    for corner in [(1, 1, 1), (3, 3, 3), (1, 3, 1)]:
        array[corner] = 0  # the cavity still cannot leave through faces
    editor = editor_with(array)
    assert fill_holes(editor, 1) == 1
    assert array[2, 2, 2] == 1


def test_remove_islands_keeps_the_largest_or_drops_small_parts():
    shape = (40, 40, 20)
    array = np.zeros(shape, dtype=np.int16)
    array[ball(shape, (12, 12, 10), 6)] = 1
    array[30:33, 30:33, 5:8] = 1  # 27 voxels
    array[2, 35, 2] = 1  # 1 voxel
    array[36, 3, 15:17] = 1  # 2 voxels
    array[20:25, 30:35, 10] = 3  # another label is untouched
    big = int(ball(shape, (12, 12, 10), 6).sum())
    editor = editor_with(array)
    before = array.copy()
    assert remove_islands(editor, 1, min_voxels=5) == 3
    assert np.count_nonzero(array == 1) == big + 27
    undo_restores(editor, before, "remove islands")
    editor.undo()
    assert remove_islands(editor, 1) == 30
    assert np.count_nonzero(array == 1) == big
    assert np.count_nonzero(array == 3) == 25
    assert editor.history == ["remove islands"]


def test_split_gives_each_26_connected_part_a_new_label():
    array = np.zeros((30, 30, 30), dtype=np.uint8)
    array[2:10, 2:10, 2:10] = 4  # 512, keeps 4
    array[10, 10, 10] = 4  # touches the cube at a corner: same part
    array[20:24, 20:24, 20:24] = 4  # 64
    array[20:22, 2:4, 25:27] = 4  # 8
    array[15, 15, 15] = 9  # the largest label in the map
    editor = editor_with(array)
    before = array.copy()
    labels = split_label(editor, 4)
    assert labels == [4, 10, 11]
    assert np.count_nonzero(array == 4) == 513
    assert np.all(array[20:24, 20:24, 20:24] == 10)
    assert np.all(array[20:22, 2:4, 25:27] == 11)
    undo_restores(editor, before, "split")
    assert split_label(editor, 9) == [9]
    assert split_label(editor, 3) == []
    assert editor.history == ["split"]


def test_merge_and_delete():
    array = np.zeros((10, 10, 10), dtype=np.uint8)
    array[1:3, 1:3, 1:3] = 1
    array[5:8, 5:8, 5:8] = 2
    editor = editor_with(array)
    before = array.copy()
    assert merge_labels(editor, 1, 2) == 27
    assert np.count_nonzero(array == 1) == 35
    assert not np.any(array == 2)
    undo_restores(editor, before, "merge")
    merged = array.copy()
    assert delete_label(editor, 1) == 35
    assert not array.any()
    undo_restores(editor, merged, "delete")
    assert editor.history == ["merge", "delete"]
    with pytest.raises(EditorError):
        delete_label(editor, 0)
    with pytest.raises(EditorError):
        merge_labels(editor, 0, 1)
    assert merge_labels(editor, 1, 1) == 0
