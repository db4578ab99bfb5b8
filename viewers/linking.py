"""``ViewLink``: several :class:`viewers.view.SliceView` s that move together.

Views are linked by **world position**, never by slice index: setting the cursor in one
view sets the same world point (LPS mm) in every other linked view, and each of them shows
the slice of *its own* grid through that point. So a click on an axial FLAIR lands on the
same spot of a differently angled T2, and scrolling one view by ``d`` mm moves the cursor
of the others by the same ``d`` mm (the cursor is shared; views of the same plane move
along the same normal).

Series that do not share a frame of reference (two timepoints, scanned on different days)
can still be linked: give :meth:`ViewLink.add` the 4x4 transform from the link's world to
the view's world (for example the result of :func:`viewers.registration.rigid_register`).

Zoom and pan can be linked too, between views of the same plane. A view whose
:attr:`~viewers.view.SliceView.linked` flag is off neither drives nor follows the link; it
catches up with the link's cursor when it is switched back on. A re-entrancy guard stops
feedback loops (a view set by the link does not set the link again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from viewers.events import Signal
from viewers.image import validate_affine
from viewers.view import SliceView


class ViewLink:
    """Keeps the cursors (and optionally zoom and pan) of several slice views together."""

    def __init__(
        self, views: Iterable[SliceView] = (), *, zoom: bool = False, pan: bool = False
    ) -> None:
        self.link_zoom = zoom
        """Share the zoom factor between linked views of the same plane."""
        self.link_pan = pan
        """Share the pan offset between linked views of the same plane."""
        self._views: list[SliceView] = []
        self._to_view: dict[int, np.ndarray] = {}
        self._from_view: dict[int, np.ndarray] = {}
        self._handlers: dict[int, list[tuple[Signal, Callable[..., object]]]] = {}
        self._cursor: np.ndarray | None = None
        self._busy = False
        for view in views:
            self.add(view)

    @property
    def views(self) -> tuple[SliceView, ...]:
        """All views in the link (linked or momentarily unlinked)."""
        return tuple(self._views)

    @property
    def cursor(self) -> np.ndarray | None:
        """The last shared cursor in the link's world (LPS mm), or None before any."""
        return None if self._cursor is None else self._cursor.copy()

    def add(self, view: SliceView, transform: np.ndarray | None = None) -> None:
        """Add ``view``; ``transform`` (4x4) maps the link's world to the view's world.

        A view joining a link that has a cursor adopts it; otherwise a view whose cursor was
        placed gives the link its cursor.
        """
        if view in self._views:
            raise ValueError("this view is already in the link")
        to_view = np.eye(4) if transform is None else validate_affine(transform, "link transform")
        self._views.append(view)
        self._to_view[id(view)] = to_view
        self._from_view[id(view)] = np.linalg.inv(to_view)
        handlers: list[tuple[Signal, Callable[..., object]]] = [
            (view.events.cursor, lambda cursor, v=view: self._on_cursor(v, cursor)),
            (view.events.camera, lambda zoom, pan, v=view: self._on_camera(v, zoom, pan)),
            (view.events.linked, lambda linked, v=view: self._on_linked(v, linked)),
        ]
        for signal, handler in handlers:
            signal.connect(handler)
        self._handlers[id(view)] = handlers
        if self._cursor is None:
            if view.cursor_placed:
                self._cursor = self._to_link(view, view.cursor)
        elif view.linked:
            self._push_cursor(view)

    def remove(self, view: SliceView) -> None:
        """Take ``view`` out of the link (no error if it is not in it)."""
        if view not in self._views:
            return
        for signal, handler in self._handlers.pop(id(view)):
            signal.disconnect(handler)
        self._views.remove(view)
        del self._to_view[id(view)], self._from_view[id(view)]

    def clear(self) -> None:
        """Remove every view."""
        for view in list(self._views):
            self.remove(view)

    def set_transform(self, view: SliceView, transform: np.ndarray | None) -> None:
        """Change the link-world → view-world transform of ``view`` and re-place its cursor."""
        to_view = np.eye(4) if transform is None else validate_affine(transform, "link transform")
        self._to_view[id(view)] = to_view
        self._from_view[id(view)] = np.linalg.inv(to_view)
        if view.linked:
            self._push_cursor(view)

    def set_cursor(self, point: npt.ArrayLike) -> None:
        """Set the shared cursor (link world, LPS mm) in every linked view."""
        self._cursor = np.array(point, dtype=np.float64).reshape(3)
        self._broadcast(source=None)

    # --- internals ---------------------------------------------------------------------------

    def _to_link(self, view: SliceView, point: np.ndarray) -> np.ndarray:
        matrix = self._from_view[id(view)]
        return np.asarray(matrix[:3, :3] @ point + matrix[:3, 3])

    def _to_view_world(self, view: SliceView, point: np.ndarray) -> np.ndarray:
        matrix = self._to_view[id(view)]
        return np.asarray(matrix[:3, :3] @ point + matrix[:3, 3])

    def _push_cursor(self, view: SliceView) -> None:
        if self._cursor is None or self._busy:
            return
        self._busy = True
        try:
            view.set_cursor(self._to_view_world(view, self._cursor))
        finally:
            self._busy = False

    def _broadcast(self, source: SliceView | None) -> None:
        assert self._cursor is not None
        self._busy = True
        try:
            for view in self._views:
                if view is not source and view.linked:
                    view.set_cursor(self._to_view_world(view, self._cursor))
        finally:
            self._busy = False

    def _on_cursor(self, view: SliceView, cursor: np.ndarray) -> None:
        if self._busy or not view.linked:
            return
        self._cursor = self._to_link(view, cursor)
        self._broadcast(source=view)

    def _on_camera(self, view: SliceView, zoom: float, pan: tuple[float, float]) -> None:
        if self._busy or not view.linked or not (self.link_zoom or self.link_pan):
            return
        self._busy = True
        try:
            for other in self._views:
                if other is view or not other.linked or other.plane is not view.plane:
                    continue
                other.set_camera(
                    zoom=zoom if self.link_zoom else None, pan=pan if self.link_pan else None
                )
        finally:
            self._busy = False

    def _on_linked(self, view: SliceView, linked: bool) -> None:
        if linked:
            self._push_cursor(view)
