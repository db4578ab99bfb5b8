"""Speed of the viewers, measured against a physical bound in the same run.

:func:`render_benchmarks` returns rows ``{"name", "value", "unit", "peer", "peer_value",
"ratio", "target"}`` (``ratio`` = value / peer_value) for the application's ``bench``
command. Each "model change → RGBA ready" row times what a user's gesture costs: the model
call (``set_window``, ``scroll``) plus :meth:`SliceView.render`, median over many repeats.
Peers are numpy doing the unavoidable part on the same bytes: copying the same slice out
of the same volume (the memory traffic no renderer can skip), or SimpleITK's ``Resample``
for oblique reslicing.

Data are generated (:func:`synthetic_brain`): an int16 head phantom with lesions, stored
C-ordered ``(i, j, k)`` like the application's voxel cache, which makes an axial slice the
most scattered one in memory (the worst case; NIfTI's Fortran order makes it contiguous).
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from viewers.geometry import Interpolation, Plane, layer_grid, reslice
from viewers.image import ImageLayer, LabelLayer
from viewers.view import SliceView
from viewers.window import Window


def synthetic_brain(
    shape: tuple[int, int, int] = (256, 256, 176), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """An int16 head phantom ``(i, j, k)`` and its uint8 lesion mask (1 = lesion).

    Axis i runs to the patient's left, j to posterior, k to superior (use a diagonal LPS
    affine). Scalp, skull, grey and white matter, asymmetric ventricles and four lesions in
    the right hemisphere make it asymmetric in every direction (registration can lock on).
    """
    rng = np.random.default_rng(seed)
    axes = [np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in shape]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    head = (x / 0.82) ** 2 + (y / 0.92) ** 2 + ((z + 0.05) / 0.86) ** 2
    brain = (x / 0.72) ** 2 + (y / 0.82) ** 2 + ((z + 0.02) / 0.76) ** 2
    white = (x / 0.52) ** 2 + (y / 0.64) ** 2 + ((z + 0.02) / 0.5) ** 2
    volume = np.zeros(shape, dtype=np.float32)
    volume += np.where(head < 1.0, 380.0, 0.0).astype(np.float32)
    volume = np.where(brain < 1.0, 520.0, volume)
    volume = np.where(white < 1.0, 430.0, volume)
    ventricles = ((x - 0.09) / 0.09) ** 2 + ((y + 0.05) / 0.3) ** 2 + ((z - 0.1) / 0.16) ** 2
    ventricles2 = ((x + 0.11) / 0.08) ** 2 + ((y + 0.1) / 0.26) ** 2 + ((z - 0.12) / 0.15) ** 2
    volume = np.where((ventricles < 1.0) | (ventricles2 < 1.0), 120.0, volume)
    nose = ((x / 0.12) ** 2 + ((y + 0.95) / 0.1) ** 2 + ((z + 0.25) / 0.2) ** 2) < 1.0
    volume = np.where(nose, 300.0, volume)
    mask = np.zeros(shape, dtype=np.uint8)
    for cx, cy, cz, r in (
        (-0.3, -0.2, 0.2, 0.1),
        (-0.4, 0.25, 0.05, 0.07),
        (-0.25, 0.1, 0.35, 0.06),
        (-0.15, -0.45, -0.1, 0.05),
    ):
        lesion = ((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) < r**2
        mask[lesion] = 1
    volume = np.where(mask > 0, 760.0, volume)
    volume += rng.normal(0.0, 12.0, size=shape).astype(np.float32) * (volume > 0)
    return np.clip(volume, -32768, 32767).astype(np.int16), mask


def median_seconds(function: Callable[[], object], *, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``function`` over ``repeat`` runs after ``warmup`` runs.

    The one timing loop of the benchmarks: these rows and the application's ``bench`` rows
    (``workbench.bench``) both time with it.
    """
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _median_ms(function: Callable[[], object], repeat: int) -> float:
    return median_seconds(function, repeat=repeat) * 1000.0


def _row(name: str, value: float, peer: str, peer_value: float, target: str) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "unit": "ms",
        "peer": peer,
        "peer_value": peer_value,
        "ratio": value / peer_value if peer_value > 0 else None,
        "target": target,
    }


def _view(volume: np.ndarray, mask: np.ndarray, spacing: float, plane: Plane) -> SliceView:
    affine = np.diag([spacing, spacing, spacing, 1.0])
    view = SliceView(plane, image=ImageLayer("bench", volume, affine))
    view.add_label(LabelLayer("lesions", mask, affine, opacity=0.5))
    return view


def _window_drag(view: SliceView, repeat: int) -> float:
    assert view.window is not None
    start = view.window
    steps = iter(range(10**9))

    def gesture() -> None:
        offset = next(steps) % 64
        view.set_window(Window(start.center + offset, start.width + 2 * offset))
        view.render()

    return _median_ms(gesture, repeat)


def _scroll(view: SliceView, repeat: int) -> float:
    steps = iter(range(10**9))

    def gesture() -> None:
        view.scroll(1 if (next(steps) // 20) % 2 == 0 else -1)
        view.render()

    return _median_ms(gesture, repeat)


def _slice_copy_peer(volume: np.ndarray, plane: Plane, repeat: int) -> float:
    """numpy copying one slice of the plane out of the volume (the memory traffic)."""
    middle = [n // 2 for n in volume.shape]
    index: list[slice | int] = [slice(None)] * 3
    axis = {Plane.SAGITTAL: 0, Plane.CORONAL: 1, Plane.AXIAL: 2}[plane]
    index[axis] = middle[axis]
    return _median_ms(lambda: np.ascontiguousarray(volume[tuple(index)].T), repeat)


def render_benchmarks(repeat: int = 200) -> list[dict[str, Any]]:
    """Time the viewers' render paths; one row per measurement (see the module docstring)."""
    rows: list[dict[str, Any]] = []

    volume, mask = synthetic_brain((256, 256, 176), seed=2)
    big = np.ascontiguousarray(volume.repeat(2, axis=0).repeat(2, axis=1))  # 512×512×176
    big_mask = np.ascontiguousarray(mask.repeat(2, axis=0).repeat(2, axis=1))
    view = _view(big, big_mask, 0.5, Plane.AXIAL)
    view.go_to_slice(110)  # through the lesions
    peer = _slice_copy_peer(big, Plane.AXIAL, repeat)
    rows.append(
        _row(
            "window drag → RGBA, axial 512×512 int16 slice + lesion overlay",
            _window_drag(view, repeat),
            "numpy copy of the same slice",
            peer,
            "≤ 2 ms",
        )
    )
    rows.append(
        _row(
            "scroll one slice → RGBA, axial 512×512 int16 + lesion overlay",
            _scroll(view, repeat),
            "numpy copy of the same slice",
            peer,
            "≤ 2 ms",
        )
    )
    floats = _view(big.astype(np.float32), big_mask, 0.5, Plane.AXIAL)
    floats.go_to_slice(110)
    rows.append(
        _row(
            "window drag → RGBA, axial 512×512 float32 slice + lesion overlay (no LUT)",
            _window_drag(floats, repeat),
            "numpy copy of the same int16 slice",
            peer,
            "informative",
        )
    )
    del floats

    for plane in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL):
        view = _view(volume, mask, 1.0, plane)
        rows.append(
            _row(
                f"scroll one slice → RGBA, {plane.value} of 256×256×176 int16 + overlay",
                _scroll(view, repeat),
                "numpy copy of the same slice",
                _slice_copy_peer(volume, plane, repeat),
                "informative",
            )
        )

    view = _view(volume, mask, 1.0, Plane.AXIAL)
    peer_all = _median_ms(
        lambda: [np.ascontiguousarray(volume[:, :, k].T) for k in range(volume.shape[2])], 5
    )

    def scroll_through() -> None:
        view.go_to_slice(0)
        view.render()
        for _ in range(volume.shape[2] - 1):
            view.scroll(1)
            view.render()

    rows.append(
        _row(
            "scroll through all 176 axial slices (256×256 + overlay), each rendered",
            _median_ms(scroll_through, 5),
            "numpy copy of all 176 slices",
            peer_all,
            "informative",
        )
    )

    rows.extend(_oblique_rows(volume, repeat=max(repeat // 10, 5)))
    return rows


def _oblique_rows(volume: np.ndarray, repeat: int) -> list[dict[str, Any]]:
    """Reslicing an oblique (20°) series onto an axial grid: ours against SimpleITK."""
    import SimpleITK as sitk

    from viewers.registration import to_sitk_image

    angle = np.deg2rad(20.0)
    rotation = np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rotation
    affine[:3, 3] = -np.array(volume.shape) / 2.0
    layer = ImageLayer("oblique", volume, affine)
    grid = layer_grid(layer, Plane.AXIAL, layer.center_world)
    image = to_sitk_image(layer, pixel_type="int16")
    reference = sitk.Image([grid.shape[1], grid.shape[0], 1], image.GetPixelID())
    reference.SetOrigin([float(v) for v in grid.origin])
    reference.SetSpacing([*grid.pixel_size, 1.0])
    columns = np.stack([grid.col_step, grid.row_step, grid.normal], axis=1)
    reference.SetDirection([float(v) for v in (columns / np.linalg.norm(columns, axis=0)).ravel()])
    rows = []
    for interpolation, itk in (
        (Interpolation.LINEAR, sitk.sitkLinear),
        (Interpolation.NEAREST, sitk.sitkNearestNeighbor),
    ):
        ours = _median_ms(functools.partial(reslice, layer, grid, interpolation), repeat)
        theirs = _median_ms(
            functools.partial(sitk.Resample, image, reference, sitk.Transform(), itk, 0.0),
            repeat,
        )
        rows.append(
            _row(
                f"oblique (20°) 256×256×176 → axial {grid.shape[0]}×{grid.shape[1]}, "
                f"{interpolation}",
                ours,
                "SimpleITK Resample (image prepared)",
                theirs,
                "informative",
            )
        )
    return rows


if __name__ == "__main__":  # pragma: no cover - manual run
    for row in render_benchmarks():
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(
            f"{row['value']:8.3f} ms  peer {row['peer_value']:8.3f} ms  x{ratio:>6}  {row['name']}"
        )
