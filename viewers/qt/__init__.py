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
- :func:`shortcut_help` lists the keys and gestures, for the application's help panel.

Geometry, rendering and input semantics all live in the Qt-free models; nothing here
decides where a pixel is in the world.
"""

from viewers.interaction import shortcut_help
from viewers.qt.qt_slice_view import QtSliceView
from viewers.qt.qt_viewer_grid import SERIES_MIME_TYPE, QtViewerGrid

__all__ = ["SERIES_MIME_TYPE", "QtSliceView", "QtViewerGrid", "shortcut_help"]
