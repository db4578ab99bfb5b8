"""Click-to-grow on synthetic blobs: size, ROI, tolerance, preview versus apply."""

from __future__ import annotations

import numpy as np
import pytest

from viewers.grow import GrowMethod, GrowPreview, GrowTool
from viewers.image import ImageLayer
from viewers.interaction import Buttons, Modifiers, PointerEvent, PointerKind
from viewers.labels_edit import EditorError, LabelEditor
from viewers.view import SliceView

SHAPE = (96, 96, 64)
SPACING = (1.0, 1.0, 1.5)
CENTRE_VOXEL = (50, 44, 30)
RADIUS_MM = 9.0


def blob_volume(noise: float = 20.0, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int16 image: a sphere of 1000 in a background of 100, plus Gaussian noise."""
    affine = np.diag([*SPACING, 1.0])
    affine[:3, 3] = (-40.0, -50.0, -30.0)
    i, j, k = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij", sparse=True)
    distance2 = sum(
        ((axis - c) * s) ** 2 for axis, c, s in zip((i, j, k), CENTRE_VOXEL, SPACING, strict=True)
    )
    blob = np.asarray(distance2 <= RADIUS_MM**2)
    rng = np.random.default_rng(seed)
    image = np.where(blob, 1000.0, 100.0) + rng.normal(0.0, noise, SHAPE)
    return image.astype(np.int16), blob, affine


@pytest.fixture(scope="module")
def blob() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return blob_volume()


def seed_world(affine: np.ndarray, voxel: tuple[int, int, int] = CENTRE_VOXEL) -> np.ndarray:
    return affine[:3, :3] @ np.array(voxel, dtype=float) + affine[:3, 3]


@pytest.mark.parametrize("method", [GrowMethod.THRESHOLD, GrowMethod.CONFIDENCE])
def test_grow_finds_the_blob_within_a_few_percent(blob, method):
    image, truth, affine = blob
    editor = LabelEditor.blank(SHAPE, affine)
    tool = GrowTool(editor, image, method=method)
    preview = tool.preview_grow(seed_world(affine, (52, 46, 31)), 2.5)
    assert preview is not None
    grown = preview.full_mask(SHAPE)
    assert grown.sum() == pytest.approx(truth.sum(), rel=0.03)
    assert np.count_nonzero(grown & ~truth) <= 0.01 * truth.sum()  # no leak into background
    assert not editor.array.any()  # a preview writes nothing
    assert editor.history == []


def test_grow_stays_inside_its_region_of_interest():
    image, _, affine = blob_volume()
    image[10:90, 10:90, 5:60] = 1000  # a bright slab much larger than the ROI
    editor = LabelEditor.blank(SHAPE, affine)
    tool = GrowTool(editor, image, roi_mm=12.0)
    preview = tool.preview_grow(seed_world(affine, (40, 40, 30)), 3.0)
    assert preview is not None
    assert preview.box.lo == (28, 28, 22)
    assert preview.box.hi == (53, 53, 39)  # ± 12 voxels at 1 mm, ± 8 at 1.5 mm
    assert preview.mask.shape == preview.box.shape
    assert preview.mask.all()
    tool.apply_grow(preview=preview)
    assert np.count_nonzero(editor.array) == preview.box.size
    assert np.array_equal(np.argwhere(editor.array).min(axis=0), preview.box.lo)
    # near the edge of the volume the ROI is clipped
    corner = tool.preview_grow(seed_world(affine, (2, 3, 1)), 1.0)
    assert corner is not None
    assert corner.box.lo == (0, 0, 0)
    assert corner.box.hi == (15, 16, 10)


def test_tolerance_changes_the_region_monotonically(blob):
    image, truth, affine = blob
    editor = LabelEditor.blank(SHAPE, affine)
    tool = GrowTool(editor, image, fill_holes=False)
    previous: np.ndarray | None = None
    counts = []
    for tolerance in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0):
        preview = tool.preview_grow(seed_world(affine), tolerance)
        assert preview is not None
        mask = preview.full_mask(SHAPE)
        counts.append(int(mask.sum()))
        if previous is not None:
            assert not np.any(previous & ~mask)  # nested: nothing is lost as it grows
        previous = mask
    assert counts == sorted(counts)
    assert counts[0] >= 1  # the seed always belongs to its region
    assert counts[-1] == truth.sum()
    assert counts[1] < counts[-1]


def test_apply_writes_the_active_label_as_one_step_and_keeps_other_lesions(blob):
    image, truth, affine = blob
    editor = LabelEditor.blank(SHAPE, affine)
    editor.array[50, 44, 20:40] = 7  # another lesion through the blob
    editor.active_label = 3
    tool = GrowTool(editor, image)
    changed = tool.apply_grow(seed_world(affine), 2.5)
    assert changed > 0.95 * (truth.sum() - 20)
    assert np.count_nonzero(editor.array == 7) == 20
    assert editor.history == ["grow"]
    editor.undo()
    assert np.count_nonzero(editor.array == 3) == 0
    tool.apply_grow(seed_world(affine), 2.5, overwrite_other=True, label=4)
    assert np.count_nonzero(editor.array == 7) < 20
    assert np.count_nonzero(editor.array == 4) >= 0.97 * truth.sum()


def test_clicks_and_shift_wheel_drive_the_preview(blob):
    image, _, affine = blob
    layer = ImageLayer("flair", image, affine)
    editor = LabelEditor.blank(SHAPE, affine)
    view = SliceView(image=layer, viewport=(400.0, 400.0))
    view.set_cursor(seed_world(affine))
    tool = GrowTool(editor, layer, tolerance=0.5, fill_holes=False)
    shown: list[GrowPreview | None] = []
    tool.events.preview.connect(shown.append)
    x, y = view.world_to_view(seed_world(affine))
    click = PointerEvent(PointerKind.PRESS, x, y, Buttons.LEFT, Buttons.LEFT)
    assert tool.handle_pointer(click, view)
    first = tool.preview
    assert first is not None
    assert first.seed == CENTRE_VOXEL
    wheel = PointerEvent(PointerKind.WHEEL, x, y, modifiers=Modifiers.SHIFT, wheel_delta=480)
    assert tool.handle_pointer(wheel, view)
    assert tool.tolerance == pytest.approx(1.5)
    second = tool.preview
    assert second is not None
    assert second.voxel_count >= first.voxel_count
    assert len(shown) == 2
    plain = PointerEvent(PointerKind.WHEEL, x, y, wheel_delta=120)
    assert not tool.handle_pointer(plain, view)
    assert tool.apply_grow() == second.voxel_count
    assert tool.preview is None
    assert shown[-1] is None
    assert editor.history == ["grow"]


def test_grow_refuses_another_grid_and_ignores_clicks_outside(blob):
    image, _, affine = blob
    editor = LabelEditor.blank(SHAPE, affine)
    with pytest.raises(EditorError, match="shape"):
        GrowTool(editor, image[:, :, :10])
    with pytest.raises(EditorError, match="grid"):
        GrowTool(editor, ImageLayer("other", image, np.eye(4)))
    tool = GrowTool(editor, image)
    assert tool.preview_grow([500.0, 0.0, 0.0], 2.0) is None
    assert tool.apply_grow([500.0, 0.0, 0.0]) == 0
