"""Looking at and drawing on volumes.

Models here are plain numpy and plain-Python callbacks: view state, reslicing through the
affine, window/level, overlays, linking and drawing tools, all testable without a screen.
``viewers.qt`` turns them into pixels and Qt events into toolkit-neutral events. This package
knows nothing of cases, the registry or adjudication (import-linter enforces it).

How it fits together (each module's docstring says more):

- :mod:`viewers.image` — ``ImageLayer`` (3D/4D greyscale) and ``LabelLayer`` (integer
  masks with colours, opacity, filled/outline): frozen, validated, array + 4x4 affine from
  voxel ``(i, j, k)`` to DICOM **LPS** mm. Arrays are never copied (memory maps welcome).
- :mod:`viewers.geometry` — ``Plane`` with its radiological screen axes (axial: patient
  right on screen left), ``SliceGrid`` sample grids, ``reslice`` (a numpy slice when the
  plane is aligned with the voxel grid; vectorised nearest/trilinear otherwise) and
  ``ScreenMapping`` (view pixel ↔ LPS mm, exact).
- :mod:`viewers.window` — window/level via 65,536-entry lookup tables for 16-bit data,
  percentile auto-window and contrast presets.
- :mod:`viewers.compositor` — grey + label overlays → C-contiguous RGBA, staged and cached.
- :mod:`viewers.view` — ``SliceView``, the model of one viewport: layers, plane, world
  cursor, camera, window; ``render()``; pointer and key handling; readouts.
- :mod:`viewers.linking` — ``ViewLink``: views share the cursor by world position (with an
  optional per-view world transform), and optionally zoom/pan.
- :mod:`viewers.layout` — grid layouts and hanging protocols (reading order, prior/current).
- :mod:`viewers.registration` — rigid registration with SimpleITK (imported lazily).
- :mod:`viewers.interaction`, :mod:`viewers.events` — ``PointerEvent``/``Key`` and the
  small ``Signal`` the models emit on.
- :mod:`viewers.labels_edit` — ``LabelEditor``: a writable label map with unlimited undo in
  change groups (one brush drag is one step) storing only the changed voxels.
- :mod:`viewers.tools`, :mod:`viewers.grow`, :mod:`viewers.label_ops` — brush/eraser (disc
  or sphere), polygon fill, click-to-grow (SimpleITK inside a region around the click), fill
  holes, remove islands, split, merge, delete; all driven by toolkit-neutral events.
- :mod:`viewers.label_tools` — ``LabelTools``: the tool a reader holds on a set of views
  (``SliceView.set_tool``), its settings, the active label, undo/redo and the label
  operations; the model of ``viewers.qt.QtLabelToolbar``. :mod:`viewers.tool_overlay`
  computes what a view draws for its tool (brush circle, open polygon, grow preview).
- :mod:`viewers.measure` — per-label voxel count, mL, centroid (LPS mm) and box; 26-connected
  lesions. The code base's one lesion measurement: the workbench stores what it computes.
- :mod:`viewers.bench`, :mod:`viewers.tools_bench` — speed rows for the application's
  ``bench`` command.

World convention: DICOM LPS millimetres everywhere inside; a caller with NIfTI data converts
its RAS affine at the edge (``np.diag([-1, -1, 1, 1]) @ ras_affine``).
"""
