"""``LabelEditor``: a writable lesion label map with change-group undo/redo, no toolkit in it.

The editor owns (edits in place) an integer label array ``(i, j, k)`` on the grid of the
annotated series, with that series' 4x4 LPS affine, and the *active label* that painting
tools write. Every edit goes through :meth:`LabelEditor.write` (or the helpers built on it),
which records what it changed in the open **change group**; a group is what one undo step
undoes. This follows FSLeyes' wx-free ``Editor``: a brush drag between press and release is
one group, a polygon fill or a click-to-grow is one group, and so is each whole-label
operation of :mod:`viewers.label_ops`.

A group stores only the voxels that changed: their flat (C-order) indices in the smallest
unsigned dtype that can address the array, and the old and new values in the label dtype.
Overlapping writes inside one group (a brush stroke crossing itself) are compacted when the
group ends, so each voxel is stored once (its value before the group and after it); a voxel
that ends where it started is dropped. A stroke of a few thousand voxels therefore costs
tens of kilobytes however long the drag, and undo history is unlimited within a session.

Events (plain callbacks, :class:`viewers.events.Signal`):

- ``events.changed(box: VoxelBox)`` after every write, undo and redo: the voxel box that
  holds every changed voxel, so an overlay updates only what changed (connect it to
  ``SliceView.labels_changed``, see :func:`viewers.tools.connect_view`).
- ``events.history()`` when a group is recorded, undone or redone (undo buttons, dirty flag).
- ``events.active_label(label: int)`` when the active label changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from viewers.events import Signal
from viewers.image import validate_affine


class EditorError(ValueError):
    """An edit that cannot be done (read-only array, bad label, undo during a group, ...)."""


@dataclass(frozen=True, slots=True)
class VoxelBox:
    """A box of voxel indices: ``lo`` inclusive, ``hi`` exclusive, per axis ``(i, j, k)``."""

    lo: tuple[int, int, int]
    hi: tuple[int, int, int]

    def __post_init__(self) -> None:
        lo = tuple(int(v) for v in self.lo)
        hi = tuple(int(v) for v in self.hi)
        if len(lo) != 3 or len(hi) != 3:
            raise ValueError(f"a voxel box needs 3 lower and 3 upper bounds, got {lo}, {hi}")
        object.__setattr__(self, "lo", (lo[0], lo[1], lo[2]))
        object.__setattr__(self, "hi", (hi[0], hi[1], hi[2]))

    @classmethod
    def of_shape(cls, shape: tuple[int, ...]) -> VoxelBox:
        """The box of a whole array of ``shape`` (3D)."""
        return cls((0, 0, 0), (int(shape[0]), int(shape[1]), int(shape[2])))

    @classmethod
    def around(cls, indices: npt.ArrayLike) -> VoxelBox:
        """The smallest box holding voxel indices ``(n, 3)`` (empty box for no indices)."""
        points = np.asarray(indices, dtype=np.int64).reshape(-1, 3)
        if points.shape[0] == 0:
            return cls((0, 0, 0), (0, 0, 0))
        lo = points.min(axis=0)
        hi = points.max(axis=0) + 1
        return cls((int(lo[0]), int(lo[1]), int(lo[2])), (int(hi[0]), int(hi[1]), int(hi[2])))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Size along each axis (0 where the box is empty)."""
        return (
            max(self.hi[0] - self.lo[0], 0),
            max(self.hi[1] - self.lo[1], 0),
            max(self.hi[2] - self.lo[2], 0),
        )

    @property
    def size(self) -> int:
        """Number of voxels in the box."""
        a, b, c = self.shape
        return a * b * c

    @property
    def is_empty(self) -> bool:
        """True when the box holds no voxel."""
        return self.size == 0

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        """Index an array with this (``array[box.slices]`` is a view)."""
        return (
            slice(self.lo[0], self.hi[0]),
            slice(self.lo[1], self.hi[1]),
            slice(self.lo[2], self.hi[2]),
        )

    def union(self, other: VoxelBox) -> VoxelBox:
        """The smallest box holding both (an empty box adds nothing)."""
        if self.is_empty:
            return other
        if other.is_empty:
            return self
        lo = tuple(min(a, b) for a, b in zip(self.lo, other.lo, strict=True))
        hi = tuple(max(a, b) for a, b in zip(self.hi, other.hi, strict=True))
        return VoxelBox((lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2]))

    def clip(self, shape: tuple[int, ...]) -> VoxelBox:
        """This box cut to an array of ``shape`` (may become empty)."""
        lo = tuple(min(max(v, 0), int(n)) for v, n in zip(self.lo, shape[:3], strict=True))
        hi = tuple(min(max(v, 0), int(n)) for v, n in zip(self.hi, shape[:3], strict=True))
        return VoxelBox((lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2]))

    def grown(self, margin: int) -> VoxelBox:
        """The box with ``margin`` voxels added on every side (not clipped)."""
        m = int(margin)
        lo, hi = self.lo, self.hi
        return VoxelBox((lo[0] - m, lo[1] - m, lo[2] - m), (hi[0] + m, hi[1] + m, hi[2] + m))

    def contains(self, index: tuple[int, int, int]) -> bool:
        """True when voxel ``index`` lies in the box."""
        return all(a <= v < b for a, v, b in zip(self.lo, index, self.hi, strict=True))


@dataclass(frozen=True, slots=True, eq=False)
class ChangeGroup:
    """One undo step: the voxels it changed, their values before and after, and its box.

    ``indices`` are flat C-order indices into the label array (unique, sorted); ``old`` and
    ``new`` the values there before and after the group (label dtype). Arrays are read-only.
    """

    name: str
    indices: np.ndarray
    old: np.ndarray
    new: np.ndarray
    box: VoxelBox

    def __post_init__(self) -> None:
        if not self.indices.shape == self.old.shape == self.new.shape:
            raise ValueError("a change group needs as many old and new values as indices")
        for array in (self.indices, self.old, self.new):
            array.setflags(write=False)

    @property
    def voxel_count(self) -> int:
        """Number of voxels the group changed."""
        return int(self.indices.size)

    @property
    def nbytes(self) -> int:
        """Memory held by the group's arrays."""
        return int(self.indices.nbytes + self.old.nbytes + self.new.nbytes)


@dataclass(slots=True)
class _OpenGroup:
    name: str
    depth: int = 1
    indices: list[np.ndarray] = field(default_factory=list)
    old: list[np.ndarray] = field(default_factory=list)
    new: list[np.ndarray] = field(default_factory=list)
    box: VoxelBox = field(default_factory=lambda: VoxelBox((0, 0, 0), (0, 0, 0)))


class LabelEditorEvents:
    """The signals of a :class:`LabelEditor`."""

    def __init__(self) -> None:
        self.changed = Signal()
        """``(box: VoxelBox)``: voxels inside ``box`` were changed (write, undo or redo)."""
        self.history = Signal()
        """``()``: a group was recorded, undone or redone."""
        self.active_label = Signal()
        """``(label: int)``: the active label changed."""


class LabelEditor:
    """A writable integer label map (0 = background) with change-group undo and redo.

    ``array`` is edited in place (so a :class:`viewers.image.LabelLayer` sharing it shows
    the edits once its views are told, see :func:`viewers.tools.connect_view`); it must be a
    writable 3D integer numpy array. ``affine`` maps voxel ``(i, j, k)`` to LPS mm.
    """

    def __init__(self, array: np.ndarray, affine: npt.ArrayLike, *, active_label: int = 1) -> None:
        if not isinstance(array, np.ndarray):
            raise EditorError(f"labels must be a numpy array, got {type(array).__name__}")
        if array.ndim != 3:
            raise EditorError(f"labels must be 3D, got {array.ndim} dimensions")
        if array.dtype.kind not in "iu":
            raise EditorError(f"labels must have an integer dtype, got {array.dtype}")
        if not array.flags.writeable:
            raise EditorError("labels array is read-only (copy it before editing)")
        try:
            self.affine = validate_affine(affine, "label editor")
        except ValueError as exc:
            raise EditorError(str(exc)) from exc
        self.inverse_affine = np.linalg.inv(self.affine)
        self.inverse_affine.setflags(write=False)
        self._array = array
        self._shape = (array.shape[0], array.shape[1], array.shape[2])
        self._index_dtype = np.min_scalar_type(max(array.size - 1, 0))
        if self._index_dtype.kind != "u" or self._index_dtype.itemsize < 2:
            self._index_dtype = np.dtype(np.uint16)
        self._undo: list[ChangeGroup] = []
        self._redo: list[ChangeGroup] = []
        self._open: _OpenGroup | None = None
        self.events = LabelEditorEvents()
        self._active = 1
        self.active_label = active_label

    @classmethod
    def blank(
        cls,
        shape: tuple[int, ...],
        affine: npt.ArrayLike,
        dtype: npt.DTypeLike = np.uint16,
    ) -> LabelEditor:
        """An editor on a new all-zero label map of ``shape`` (uint16: up to 65,535 lesions)."""
        return cls(np.zeros(shape, dtype=dtype), affine)

    # --- the label map -----------------------------------------------------------------------

    @property
    def array(self) -> np.ndarray:
        """The label array (edited in place; write to it only through the editor)."""
        return self._array

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(ni, nj, nk)``."""
        return self._shape

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along i, j and k."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(norms[0]), float(norms[1]), float(norms[2]))

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel in mm³ (``|det(affine[:3, :3])|``)."""
        return float(abs(np.linalg.det(self.affine[:3, :3])))

    def world_to_voxel(self, xyz: npt.ArrayLike) -> np.ndarray:
        """Fractional voxel indices of LPS points ``(..., 3)``."""
        points = np.asarray(xyz, dtype=np.float64)
        return points @ self.inverse_affine[:3, :3].T + self.inverse_affine[:3, 3]

    def voxel_to_world(self, ijk: npt.ArrayLike) -> np.ndarray:
        """LPS mm of (fractional) voxel indices ``(..., 3)``."""
        points = np.asarray(ijk, dtype=np.float64)
        return points @ self.affine[:3, :3].T + self.affine[:3, 3]

    def nearest_voxel(self, xyz: npt.ArrayLike) -> tuple[int, int, int] | None:
        """The voxel whose centre is nearest to an LPS point, or None outside the grid."""
        index = np.floor(self.world_to_voxel(xyz) + 0.5).astype(np.int64)
        if np.all(index >= 0) and np.all(index < np.array(self._shape)):
            return (int(index[0]), int(index[1]), int(index[2]))
        return None

    @property
    def label_limit(self) -> int:
        """The largest label the array's dtype can hold (65,535 for uint16)."""
        info = np.iinfo(self._array.dtype)
        return int(info.max)

    def labels_present(self) -> list[int]:
        """The nonzero labels in the map, ascending (a full scan)."""
        values = np.unique(self._array)
        return [int(v) for v in values if v != 0]

    def next_free_label(self) -> int:
        """One more than the largest label in the map (1 for an empty map)."""
        top = int(self._array.max()) if self._array.size else 0
        if top >= self.label_limit:
            raise EditorError(f"no free label: {self._array.dtype} is full")
        return max(top, 0) + 1

    @property
    def active_label(self) -> int:
        """The label painting tools write (1 or more)."""
        return self._active

    @active_label.setter
    def active_label(self, label: int) -> None:
        self._check_label(label)
        if int(label) != self._active:
            self._active = int(label)
            self.events.active_label.emit(self._active)

    def _check_label(self, label: int, *, allow_zero: bool = False) -> None:
        value = int(label)
        if value < (0 if allow_zero else 1) or value > self.label_limit:
            lowest = 0 if allow_zero else 1
            raise EditorError(
                f"label {value} outside {lowest}..{self.label_limit} of {self._array.dtype}"
            )

    # --- change groups -----------------------------------------------------------------------

    def begin_group(self, name: str) -> None:
        """Open a change group: the writes until :meth:`end_group` undo as one step.

        Groups nest: an inner ``begin_group`` joins the open group (its name is kept).
        """
        if self._open is not None:
            self._open.depth += 1
            return
        self._open = _OpenGroup(str(name))

    def end_group(self) -> ChangeGroup | None:
        """Close the open group; returns it, or None when it changed nothing (not recorded).

        Closing an inner group of a nested pair returns None and records nothing yet.
        """
        if self._open is None:
            raise EditorError("end_group without begin_group")
        self._open.depth -= 1
        if self._open.depth > 0:
            return None
        pending, self._open = self._open, None
        group = self._compact(pending)
        if group is None:
            return None
        self._undo.append(group)
        self._redo.clear()
        self.events.history.emit()
        return group

    @contextmanager
    def group(self, name: str) -> Iterator[None]:
        """``with editor.group("fill"):`` — :meth:`begin_group` / :meth:`end_group`."""
        self.begin_group(name)
        try:
            yield
        finally:
            self.end_group()

    @property
    def in_group(self) -> bool:
        """True while a change group is open (a brush drag in progress)."""
        return self._open is not None

    def _compact(self, pending: _OpenGroup) -> ChangeGroup | None:
        if not pending.indices:
            return None
        indices = np.concatenate(pending.indices)
        old = np.concatenate(pending.old)
        new = np.concatenate(pending.new)
        if len(pending.indices) > 1:
            # First write of a voxel holds its value before the group, the last one after.
            unique, first = np.unique(indices, return_index=True)
            _, last_reversed = np.unique(indices[::-1], return_index=True)
            last = indices.size - 1 - last_reversed
            indices, old, new = unique, old[first], new[last]
        else:
            order = np.argsort(indices, kind="stable")
            indices, old, new = indices[order], old[order], new[order]
        keep = old != new
        if not keep.any():
            return None
        if not keep.all():
            indices, old, new = indices[keep], old[keep], new[keep]
        box = VoxelBox.around(np.stack(np.unravel_index(indices, self._shape), axis=1))
        return ChangeGroup(pending.name, indices, old.copy(), new.copy(), box)

    @property
    def can_undo(self) -> bool:
        """True when there is a group to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """True when there is an undone group to redo."""
        return bool(self._redo)

    @property
    def history(self) -> list[str]:
        """Names of the groups that :meth:`undo` would undo, oldest first."""
        return [group.name for group in self._undo]

    @property
    def redo_history(self) -> list[str]:
        """Names of the groups that :meth:`redo` would redo, next first."""
        return [group.name for group in reversed(self._redo)]

    @property
    def history_nbytes(self) -> int:
        """Memory held by the undo and redo history."""
        return sum(group.nbytes for group in (*self._undo, *self._redo))

    def undo(self) -> ChangeGroup | None:
        """Undo the last group; returns it (None when there is nothing to undo)."""
        if self._open is not None:
            raise EditorError(f"cannot undo while the edit {self._open.name!r} is in progress")
        if not self._undo:
            return None
        group = self._undo.pop()
        self._put(group.indices, group.old)
        self._redo.append(group)
        self.events.changed.emit(group.box)
        self.events.history.emit()
        return group

    def redo(self) -> ChangeGroup | None:
        """Redo the last undone group; returns it (None when there is nothing to redo)."""
        if self._open is not None:
            raise EditorError(f"cannot redo while the edit {self._open.name!r} is in progress")
        if not self._redo:
            return None
        group = self._redo.pop()
        self._put(group.indices, group.new)
        self._undo.append(group)
        self.events.changed.emit(group.box)
        self.events.history.emit()
        return group

    def clear_history(self) -> None:
        """Forget every undo and redo step (after saving a read, for example)."""
        self._undo.clear()
        self._redo.clear()
        self.events.history.emit()

    def _put(self, indices: np.ndarray, values: np.ndarray) -> None:
        if self._array.flags.c_contiguous:
            self._array.reshape(-1)[indices] = values
        else:
            self._array[np.unravel_index(indices, self._shape)] = values

    # --- writing -------------------------------------------------------------------------------

    def write(
        self,
        box: VoxelBox,
        where: np.ndarray,
        value: int | np.ndarray,
        *,
        name: str = "edit",
    ) -> int:
        """Set the voxels of ``array[box]`` selected by the boolean ``where`` to ``value``.

        ``where`` has the box's shape; ``value`` is one label or an array with one value per
        selected voxel (in ``where``'s C order). Only voxels whose value changes are recorded.
        Outside a group the write is its own group called ``name``. Returns the number of
        voxels changed; emits ``events.changed`` with their box when there are any.
        """
        box = VoxelBox(box.lo, box.hi)
        if box.clip(self._shape) != box:
            raise EditorError(f"box {box} reaches outside the label map {self._shape}")
        where = np.asarray(where, dtype=bool)
        if where.shape != box.shape:
            raise EditorError(f"mask shape {where.shape} is not the box shape {box.shape}")
        if np.ndim(value) == 0:
            self._check_label(int(value), allow_zero=True)
        region = self._array[box.slices]
        old = region[where]
        new = np.broadcast_to(np.asarray(value).astype(self._array.dtype, copy=False), old.shape)
        changed = old != new
        count = int(np.count_nonzero(changed))
        if count == 0:
            return 0
        local = np.nonzero(where)
        if count != old.size:
            local = tuple(axis[changed] for axis in local)
            old, new = old[changed], new[changed]
        else:
            new = np.array(new)
        points = [axis + offset for axis, offset in zip(local, box.lo, strict=True)]
        flat = np.ravel_multi_index(points, self._shape).astype(self._index_dtype)
        region[local] = new
        changed_box = VoxelBox(
            (int(points[0].min()), int(points[1].min()), int(points[2].min())),
            (int(points[0].max()) + 1, int(points[1].max()) + 1, int(points[2].max()) + 1),
        )
        standalone = self._open is None
        if standalone:
            self.begin_group(name)
        assert self._open is not None
        self._open.indices.append(flat)
        self._open.old.append(old)
        self._open.new.append(new)
        self._open.box = self._open.box.union(changed_box)
        self.events.changed.emit(changed_box)
        if standalone:
            self.end_group()
        return count

    def paint(
        self,
        box: VoxelBox,
        mask: np.ndarray,
        label: int,
        *,
        preserve_other: bool = False,
        name: str = "paint",
    ) -> int:
        """Write ``label`` where ``mask`` is set in ``array[box]``.

        ``preserve_other``: leave voxels of other nonzero labels as they are (paint only
        background and voxels already of ``label``). Returns the number of voxels changed.
        """
        self._check_label(label, allow_zero=True)
        mask = np.asarray(mask, dtype=bool)
        if preserve_other:
            region = self._array[box.slices]
            mask = mask & ((region == 0) | (region == label))
        return self.write(box, mask, label, name=name)

    def erase(
        self, box: VoxelBox, mask: np.ndarray, *, only: int | None = None, name: str = "erase"
    ) -> int:
        """Set voxels where ``mask`` is set in ``array[box]`` to 0 (only those of label
        ``only`` when given). Returns the number of voxels changed."""
        mask = np.asarray(mask, dtype=bool)
        if only is not None:
            mask = mask & (self._array[box.slices] == only)
        return self.write(box, mask, 0, name=name)

    def replace(self, old_label: int, new_label: int, *, name: str = "relabel") -> int:
        """Every voxel of ``old_label`` becomes ``new_label`` (one group unless inside one)."""
        self._check_label(new_label, allow_zero=True)
        box = self.label_box(old_label)
        if box is None:
            return 0
        mask = self._array[box.slices] == old_label
        return self.write(box, mask, new_label, name=name)

    def label_box(self, label: int) -> VoxelBox | None:
        """The smallest box holding every voxel of ``label``, or None when it is absent."""
        found = self._array == label
        ij = np.any(found, axis=2)
        rows = np.flatnonzero(ij.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(ij.any(axis=0))
        i0, i1, j0, j1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        ks = np.flatnonzero(found[i0:i1, j0:j1].any(axis=(0, 1)))
        return VoxelBox((i0, j0, int(ks[0])), (i1, j1, int(ks[-1]) + 1))

    def world_box(self, lo_mm: npt.ArrayLike, hi_mm: npt.ArrayLike) -> VoxelBox:
        """The voxel box (clipped) whose centres may lie in the world box ``lo_mm..hi_mm``.

        Conservative for oblique grids: the 8 corners are mapped to voxel space and their
        bounding box rounded outwards.
        """
        lo = np.asarray(lo_mm, dtype=np.float64)
        hi = np.asarray(hi_mm, dtype=np.float64)
        corners = np.array(
            [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        )
        ijk = self.world_to_voxel(corners)
        low = np.floor(ijk.min(axis=0) - 1e-6).astype(np.int64)
        high = np.ceil(ijk.max(axis=0) + 1e-6).astype(np.int64) + 1
        box = VoxelBox(
            (int(low[0]), int(low[1]), int(low[2])), (int(high[0]), int(high[1]), int(high[2]))
        )
        return box.clip(self._shape)

    def centres(self, box: VoxelBox) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, y, z (LPS mm) of the voxel centres of ``box``, each of the box's shape.

        Built by broadcasting three index ranges, so a box costs three multiply-adds per voxel.
        """
        ranges = [
            np.arange(lo, hi, dtype=np.float64).reshape(shape)
            for lo, hi, shape in zip(
                box.lo, box.hi, ((-1, 1, 1), (1, -1, 1), (1, 1, -1)), strict=True
            )
        ]
        a = self.affine
        out = []
        for row in range(3):
            out.append(
                np.broadcast_to(
                    a[row, 0] * ranges[0]
                    + a[row, 1] * ranges[1]
                    + a[row, 2] * ranges[2]
                    + a[row, 3],
                    box.shape,
                )
            )
        return (out[0], out[1], out[2])
