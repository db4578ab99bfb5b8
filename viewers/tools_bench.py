"""Speed of the drawing tools, measured against a physical bound in the same run.

:func:`tool_benchmarks` returns rows ``{"name", "value", "unit", "peer", "peer_value",
"ratio", "target"}`` like :func:`viewers.bench.render_benchmarks`, for the application's
``bench`` command:

- **click-to-grow** on a 256³ int16 phantom (seed inside a lesion, ROI ± 30 mm): the
  preview a click shows, against SimpleITK's ``ConnectedThreshold`` with the same interval
  on the whole volume (image already converted: the cost that cropping first avoids), and
  against numpy copying the ROI (the memory traffic no grower can skip).
- **brush move**: one mouse move of a 3 mm disc brush during a drag on an axial view of the
  same phantom: painting the swept capsule, recording it in the change group,
  ``SliceView.labels_changed`` and ``SliceView.render`` of the slice, against numpy copying
  that slice out of the volume.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from viewers.bench import _median_ms, _row, synthetic_brain
from viewers.geometry import Plane
from viewers.grow import GrowTool
from viewers.image import ImageLayer, LabelLayer
from viewers.labels_edit import LabelEditor
from viewers.tools import Brush, connect_view
from viewers.view import SliceView


def _lesion_seeds(shape: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """Voxel centres of the phantom's lesions (see :func:`viewers.bench.synthetic_brain`)."""
    centres = [(-0.3, -0.2, 0.2), (-0.4, 0.25, 0.05), (-0.25, 0.1, 0.35), (-0.15, -0.45, -0.1)]
    return [
        (
            round((c[0] + 1.0) / 2.0 * (shape[0] - 1)),
            round((c[1] + 1.0) / 2.0 * (shape[1] - 1)),
            round((c[2] + 1.0) / 2.0 * (shape[2] - 1)),
        )
        for c in centres
    ]


def _grow_rows(volume: np.ndarray, affine: np.ndarray, repeat: int) -> list[dict[str, Any]]:
    import SimpleITK as sitk

    editor = LabelEditor.blank(volume.shape, affine, dtype=np.uint8)
    tool = GrowTool(editor, volume)
    seeds = [editor.voxel_to_world(s) for s in _lesion_seeds(editor.shape)]
    turn = iter(range(10**9))

    def click() -> None:
        tool.preview_grow(seeds[next(turn) % len(seeds)], tool.tolerance)

    ours = _median_ms(click, repeat)
    first = tool.preview_grow(seeds[0], tool.tolerance)
    assert first is not None
    whole = sitk.GetImageFromArray(volume)
    seed = first.seed
    full_peer = _median_ms(
        lambda: sitk.ConnectedThreshold(
            whole,
            seedList=[(seed[2], seed[1], seed[0])],
            lower=first.lower,
            upper=first.upper,
            replaceValue=1,
        ),
        max(repeat // 4, 3),
    )
    box = first.box
    copy_peer = _median_ms(lambda: np.ascontiguousarray(volume[box.slices]), repeat)
    size = "×".join(str(n) for n in volume.shape)
    apply_ms = _median_ms(lambda: _apply_and_undo(tool, editor, first), repeat)
    return [
        _row(
            f"click-to-grow preview, {size} int16, ROI ± {tool.roi_mm:g} mm "
            f"({box.shape[0]}×{box.shape[1]}×{box.shape[2]})",
            ours,
            "SimpleITK ConnectedThreshold on the whole volume (no crop)",
            full_peer,
            "≤ 150 ms",
        ),
        _row(
            "click-to-grow preview (same)",
            ours,
            "numpy copy of the ROI",
            copy_peer,
            "informative",
        ),
        _row(
            f"click-to-grow apply + undo ({first.voxel_count} voxels, one change group)",
            apply_ms,
            "numpy copy of the ROI",
            copy_peer,
            "informative",
        ),
    ]


def _apply_and_undo(tool: GrowTool, editor: LabelEditor, preview: Any) -> None:
    tool.apply_grow(preview=preview)
    editor.undo()


def _brush_rows(volume: np.ndarray, affine: np.ndarray, repeat: int) -> list[dict[str, Any]]:
    editor = LabelEditor.blank(volume.shape, affine, dtype=np.uint8)
    seeds = _lesion_seeds(editor.shape)
    editor.array[seeds[0]] = 1  # a label map with something in it
    view = SliceView(Plane.AXIAL, image=ImageLayer("bench", volume, affine))
    view.add_label(LabelLayer("lesions", editor.array, affine, opacity=0.5))
    connect_view(editor, view, "lesions")
    view.set_cursor(editor.voxel_to_world(seeds[0]))
    view.render()
    brush = Brush(editor, radius_mm=3.0)
    centre = editor.voxel_to_world(seeds[0])
    normal = view.plane.normal
    step = iter(range(10**9))

    def point() -> np.ndarray:
        # a circle of 40 mm radius, 1.5 mm per move: a brisk drag
        angle = next(step) * 1.5 / 40.0
        return centre + 40.0 * np.array([np.cos(angle), np.sin(angle), 0.0])

    brush.begin_stroke(point(), normal)

    def move_and_render() -> None:
        brush.continue_stroke(point())
        view.render()

    def move_only() -> None:
        with editor.events.changed.blocked():
            brush.continue_stroke(point())

    full = _median_ms(move_and_render, repeat)
    paint = _median_ms(move_only, repeat)
    brush.end_stroke()
    k = seeds[0][2]
    peer = _median_ms(lambda: np.ascontiguousarray(volume[:, :, k].T), repeat)
    size = "×".join(str(n) for n in volume.shape)
    return [
        _row(
            f"brush move (3 mm disc) → labels_changed → RGBA, axial slice of {size}",
            full,
            "numpy copy of the same slice",
            peer,
            "≤ 5 ms",
        ),
        _row(
            "brush move, painting and recording only (no view update)",
            paint,
            "numpy copy of the same slice",
            peer,
            "informative",
        ),
    ]


def tool_benchmarks(repeat: int = 50, size: int = 256) -> list[dict[str, Any]]:
    """Time click-to-grow and a brush move on a ``size``³ int16 phantom at 1 mm."""
    volume, _ = synthetic_brain((size, size, size), seed=3)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = -(size - 1) / 2.0
    rows = _grow_rows(volume, affine, repeat)
    rows.extend(_brush_rows(volume, affine, max(repeat, 20)))
    return rows


if __name__ == "__main__":  # pragma: no cover - manual run
    for row in tool_benchmarks():
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(
            f"{row['value']:8.3f} ms  peer {row['peer_value']:8.3f} ms  x{ratio:>6}  {row['name']}"
            f"  [{row['peer']}; target {row['target']}]"
        )
