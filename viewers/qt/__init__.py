"""Qt widgets that show the models of :mod:`viewers`; the only place here that imports Qt.

- :class:`QtSliceView` (``qt_slice_view.py``) wraps one :class:`viewers.view.SliceView`:
  Qt mouse, wheel and key events become toolkit-neutral ``PointerEvent`` s and ``Key`` s
  for the model; the model's ``changed`` event schedules a repaint, which wraps the
  model's RGBA array in a ``QImage`` (no copy) and draws the crosshair, orientation
  letters, scale bar and corner texts. Binding runs model → widget by repaint only, so it
  cannot loop.
- :class:`QtViewerGrid` (``qt_viewer_grid.py``) lays out linked ``QtSliceView`` s
  (1×1, 1×2, 2×2, 2×3) with a plane selector and a link toggle per viewport and accepts
  dropped series ids (:data:`SERIES_MIME_TYPE`), which it hands to the application.
- :class:`QtLabelToolbar` (``qt_label_toolbar.py``) wraps a
  :class:`viewers.label_tools.LabelTools`: drawing tools (navigate, brush, eraser, polygon,
  grow) set on a set of views, brush radius and 2D/3D, grow tolerance with a live preview,
  the active lesion label, undo/redo (Ctrl+Z / Ctrl+Shift+Z) and the whole-label
  operations. The slice views draw the tools' overlays (brush circle, open polygon, grow
  preview).
- :func:`shortcut_help` lists the keys and gestures, for the application's help panel.

Geometry, rendering and input semantics all live in the Qt-free models; nothing here
decides where a pixel is in the world.
"""

from viewers.interaction import shortcut_help
from viewers.qt.qt_label_toolbar import QtLabelToolbar
from viewers.qt.qt_slice_view import QtSliceView
from viewers.qt.qt_viewer_grid import SERIES_MIME_TYPE, QtViewerGrid

__all__ = ["SERIES_MIME_TYPE", "QtLabelToolbar", "QtSliceView", "QtViewerGrid", "shortcut_help"]
