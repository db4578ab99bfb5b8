"""What a view draws for its active tool, computed without a toolkit.

The widget (``viewers.qt.QtSliceView``) only strokes and fills what these return:

- :func:`brush_outline`: the brush (or eraser) circle at the pointer, radius in view pixels
  (``Brush.radius_px``);
- :func:`polygon_outline`: the open polygon's corners in view pixels, when they lie on the
  displayed slice (a polygon started in another viewport is not drawn here);
- :class:`GrowPreviewImage`: the grow preview as an RGBA image on the displayed slice grid
  (the same grid as ``SliceView.render``, drawn into ``SliceView.image_rect``): the region
  tinted with the active label's colour and its boundary in white, so it reads as "not yet
  applied" beside the drawn lesions. The preview mask is sampled through a temporary
  :class:`viewers.image.LabelLayer` over its region of interest, so oblique planes work as
  for any label map; the result is cached per preview, slice and colour.
- :func:`tool_captions`: short lines for the viewport corner ("Brush 2.0 mm 2D · lesion 1").
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from viewers.compositor import outline_mask
from viewers.geometry import reslice
from viewers.grow import GrowPreview, GrowTool
from viewers.image import RGBA, LabelLayer, default_color
from viewers.label_tools import shares_array
from viewers.labels_edit import LabelEditor
from viewers.tools import Brush, BrushShape, PolygonTool
from viewers.view import SliceView

PREVIEW_FILL_ALPHA = 0.45
"""Opacity of the preview's tint."""
PREVIEW_EDGE: RGBA = (255, 255, 255, 235)
"""Colour of the preview's boundary pixels."""


@dataclass(frozen=True, slots=True)
class BrushOutline:
    """The brush circle: centre and radius in view pixels, and how to draw it."""

    x: float
    y: float
    radius_px: float
    erase: bool
    sphere: bool
    color: RGBA
    """The active label's colour (the eraser is drawn in white regardless)."""


def label_color(view: SliceView, editor: LabelEditor, label: int) -> RGBA:
    """The colour ``label`` has in ``view``'s label layer showing the editor's array."""
    for layer in view.labels:
        if shares_array(layer.array, editor):
            color = layer.colors.get(int(label))
            if color is not None:
                return (color[0], color[1], color[2], color[3])
            break
    return default_color(int(label))


def brush_outline(view: SliceView) -> BrushOutline | None:
    """The circle to draw at the pointer, or None (no brush active, pointer away)."""
    tool = view.tool
    pointer = view.pointer
    if not isinstance(tool, Brush) or pointer is None:
        return None
    color = label_color(view, tool.editor, tool.editor.active_label)
    return BrushOutline(
        pointer[0],
        pointer[1],
        tool.radius_px(view),
        tool.erase,
        tool.shape is BrushShape.SPHERE,
        color,
    )


def polygon_outline(view: SliceView) -> np.ndarray | None:
    """``(m, 2)`` view pixels of the open polygon's corners on the displayed slice, or None."""
    tool = view.tool
    if not isinstance(tool, PolygonTool):
        return None
    corners = tool.vertices
    if corners.shape[0] == 0:
        return None
    normal = view.plane.normal
    depth = (corners - view.cursor) @ normal
    if np.any(np.abs(depth) > view.slice_step_mm() / 2.0 + 1e-6):
        return None
    return np.asarray(view.screen_mapping().to_screen(corners), dtype=np.float64).reshape(-1, 2)


class GrowPreviewImage:
    """The grow preview of a view's :class:`GrowTool` as RGBA on the displayed slice.

    One per widget: :meth:`render` returns the cached image while the preview, the slice
    grid and the colour stay the same.
    """

    def __init__(self) -> None:
        self._key: Hashable = None
        self._rgba: np.ndarray | None = None

    def render(self, view: SliceView) -> np.ndarray | None:
        """``(rows, cols, 4)`` uint8 on ``view.slice_grid()``, or None when the view's tool is
        not a grow tool, there is no preview, or the region does not reach this slice."""
        tool = view.tool
        if not isinstance(tool, GrowTool):
            return None
        preview = tool.preview
        grid = view.slice_grid()
        if preview is None or grid is None:
            return None
        color = label_color(view, tool.editor, tool.editor.active_label)
        key = (preview, grid.key, color)
        if key != self._key:
            self._rgba = preview_rgba(preview, tool.editor, view, color)
            self._key = key
        return self._rgba

    def clear(self) -> None:
        """Forget the cached image."""
        self._key = None
        self._rgba = None


def preview_layer(preview: GrowPreview, editor: LabelEditor) -> LabelLayer:
    """The preview as a label layer over its region of interest (value 1; no copy)."""
    affine = editor.affine.copy()
    affine[:3, 3] = editor.voxel_to_world(np.array(preview.box.lo, dtype=np.float64))
    return LabelLayer("grow preview", preview.mask.view(np.uint8), affine)


def preview_rgba(
    preview: GrowPreview, editor: LabelEditor, view: SliceView, color: RGBA
) -> np.ndarray | None:
    """The preview on ``view``'s displayed slice: tinted region, white boundary (see module)."""
    grid = view.slice_grid()
    if grid is None or preview.voxel_count == 0:
        return None
    values = reslice(preview_layer(preview, editor), grid)
    inside = values != 0
    if not inside.any():
        return None
    rgba = np.zeros((*inside.shape, 4), dtype=np.uint8)
    rgba[inside] = (color[0], color[1], color[2], round(255 * PREVIEW_FILL_ALPHA))
    rgba[outline_mask(values)] = PREVIEW_EDGE
    return rgba


def tool_captions(view: SliceView) -> list[str]:
    """Short lines about the active tool for a viewport corner (none without a tool).

    Each fits a narrow viewport (about 32 characters): the tool and its setting, the
    active lesion, and for a grow preview its volume and how to apply it.
    """
    tool = view.tool
    if isinstance(tool, Brush):
        name = "Eraser" if tool.erase else "Brush"
        shape = "3D" if tool.shape is BrushShape.SPHERE else "2D"
        text = f"{name} {tool.radius_mm:.1f} mm {shape}"
        return [text if tool.erase else f"{text} · lesion {tool.editor.active_label}"]
    if isinstance(tool, PolygonTool):
        count = tool.vertices.shape[0]
        corners = f" · {count} corner{'s' if count != 1 else ''}" if count else ""
        return [f"Polygon · lesion {tool.editor.active_label}{corners}"]
    if isinstance(tool, GrowTool):
        lines = [f"Grow · tolerance {tool.tolerance:.2f} · lesion {tool.editor.active_label}"]
        preview = tool.preview
        if preview is not None:
            ml = preview.voxel_count * tool.editor.voxel_volume_mm3 / 1000.0
            lines.append(f"Preview {ml:.2f} mL · Enter applies")
        return lines
    if tool is not None:
        return [type(tool).__name__]
    return []
