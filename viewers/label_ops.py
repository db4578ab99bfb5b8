"""Whole-label operations on a ``LabelEditor``: fill holes, remove islands, split, merge, delete.

Each is one change group (one undo step) named after the operation, and works on the
label's bounding box (plus a one-voxel margin) rather than the whole volume, so a small
lesion in a large map costs little beyond one scan to find it. Connected components use
SimpleITK (imported when called): 26-connectivity for a lesion's voxels, and for the
background of "fill holes" the complementary 6-connectivity (a hole closed by diagonal
contacts of the lesion is still a hole, as the lesion itself is 26-connected).
"""

from __future__ import annotations

import numpy as np

from viewers.labels_edit import EditorError, LabelEditor, VoxelBox
from viewers.measure import components


def _box_of(editor: LabelEditor, label: int) -> VoxelBox | None:
    if int(label) == 0:
        raise EditorError("label 0 is the background")
    return editor.label_box(label)


def fill_holes(editor: LabelEditor, label: int, *, overwrite_other: bool = False) -> int:
    """Fill the 3D holes of ``label``: parts of "not this label" that cannot reach the
    border of the label's box (grown by one voxel) through 6-connected steps.

    Voxels of other labels inside a hole are kept unless ``overwrite_other``. One change
    group ("fill holes"); returns the number of voxels filled.
    """
    box = _box_of(editor, label)
    if box is None:
        return 0
    roi = box.grown(1).clip(editor.shape)
    region = editor.array[roi.slices]
    outside = region != label
    padded = np.pad(outside, 1, constant_values=True)  # the margin reaches the ROI border
    parts, _ = components(padded, fully_connected=False)
    border = np.unique(
        np.concatenate(
            [
                parts[0].ravel(), parts[-1].ravel(),
                parts[:, 0].ravel(), parts[:, -1].ravel(),
                parts[:, :, 0].ravel(), parts[:, :, -1].ravel(),
            ]
        )
    )  # fmt: skip
    holes = outside & ~np.isin(parts[1:-1, 1:-1, 1:-1], border)
    with editor.group("fill holes"):
        return editor.paint(roi, holes, label, preserve_other=not overwrite_other)


def remove_islands(editor: LabelEditor, label: int, *, min_voxels: int | None = None) -> int:
    """Remove the small 26-connected parts of ``label`` (set them to 0).

    ``min_voxels`` None keeps only the largest component; otherwise components of fewer
    than ``min_voxels`` voxels go. One change group ("remove islands"); returns the number
    of voxels removed.
    """
    box = _box_of(editor, label)
    if box is None:
        return 0
    region = editor.array[box.slices]
    mine = region == label
    parts, _ = components(mine, fully_connected=True)
    if min_voxels is None:
        drop = mine & (parts != 1)
    else:
        sizes = np.bincount(parts.ravel())
        small = sizes < int(min_voxels)
        small[0] = False
        drop = small[parts] & mine
    with editor.group("remove islands"):
        return editor.erase(box, drop)


def split_label(editor: LabelEditor, label: int) -> list[int]:
    """Make each 26-connected part of ``label`` a lesion of its own.

    The largest part keeps ``label``; the others, largest first, get new labels from
    :meth:`LabelEditor.next_free_label` upwards. One change group ("split"); returns the
    labels of the parts, largest first (``[label]`` when it is in one piece, ``[]`` when
    it is absent).
    """
    box = _box_of(editor, label)
    if box is None:
        return []
    region = editor.array[box.slices]
    mine = region == label
    parts, sizes = components(mine, fully_connected=True)
    count = int(sizes.size)
    if count <= 1:
        return [int(label)]
    first = editor.next_free_label()
    if first + count - 2 > editor.label_limit:
        raise EditorError(f"not enough free labels in {editor.array.dtype} for {count} parts")
    new_ids = np.zeros(count + 1, dtype=np.int64)
    new_ids[1] = label
    new_ids[2:] = np.arange(first, first + count - 1)
    where = mine & (parts > 1)
    with editor.group("split"):
        editor.write(box, where, new_ids[parts[where]])
    return [int(v) for v in new_ids[1:]]


def merge_labels(editor: LabelEditor, target: int, source: int) -> int:
    """Label ``source`` becomes part of ``target`` (B into A). One change group ("merge");
    returns the number of voxels relabelled."""
    if int(target) == int(source):
        return 0
    if int(target) == 0 or int(source) == 0:
        raise EditorError("merge needs two lesion labels (not 0)")
    with editor.group("merge"):
        return editor.replace(source, target)


def delete_label(editor: LabelEditor, label: int) -> int:
    """Erase every voxel of ``label``. One change group ("delete"); returns the voxels erased."""
    if int(label) == 0:
        raise EditorError("label 0 is the background")
    with editor.group("delete"):
        return editor.replace(label, 0)
