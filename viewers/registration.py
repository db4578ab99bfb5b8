"""Rigid registration of two image layers with SimpleITK (for linking prior and current).

:func:`rigid_register` returns the 4x4 world→world transform that maps a point of the
*fixed* image's world (LPS mm) to the corresponding point of the *moving* image's world.
Give it to :meth:`viewers.linking.ViewLink.add` for the moving view, with the fixed view's
world as the link's world, and a click on the fixed image lands on the same anatomy in the
moving one.

Method: Euler (rotation + translation) transform started by a centred initializer (centres
of mass by default), Mattes mutual information on a random 20 % of voxels (fixed seed, so
runs repeat), regular-step gradient descent (first step 1, steps down to 1e-4; scales
from physical shift), three resolution levels (shrink 4, 2, 1; smoothing 2, 1, 0 mm).
ITK's physical space is LPS, like ours, so an affine converts directly to origin, spacing
and direction.

SimpleITK is imported inside the functions (it is heavy and the window must open fast).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from viewers.image import ImageLayer


class RegistrationCancelledError(Exception):
    """The caller's ``cancelled()`` returned True; no transform was produced."""


def to_sitk_image(layer: ImageLayer, pixel_type: str = "float32") -> Any:
    """The layer's current volume as a ``SimpleITK.Image`` (a copy) with its geometry.

    Index ``(i, j, k)`` of the layer is ITK index ``(x, y, z)``; origin, spacing and
    direction come from the LPS affine unchanged (ITK is LPS too).
    """
    import SimpleITK as sitk

    volume = np.asarray(layer.volume, dtype=np.dtype(pixel_type))
    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.T))
    columns = layer.affine[:3, :3]
    spacing = np.linalg.norm(columns, axis=0)
    image.SetSpacing([float(s) for s in spacing])
    image.SetOrigin([float(o) for o in layer.affine[:3, 3]])
    image.SetDirection([float(d) for d in (columns / spacing).ravel()])
    return image


def transform_to_matrix(transform: Any) -> np.ndarray:
    """4x4 matrix of an affine SimpleITK transform (probed at the origin and unit points)."""
    origin = np.array(transform.TransformPoint((0.0, 0.0, 0.0)))
    matrix = np.eye(4)
    for axis in range(3):
        point = [0.0, 0.0, 0.0]
        point[axis] = 1.0
        matrix[:3, axis] = np.array(transform.TransformPoint(tuple(point))) - origin
    matrix[:3, 3] = origin
    return matrix


def matrix_to_transform(matrix: np.ndarray) -> Any:
    """A ``SimpleITK.AffineTransform`` doing what the 4x4 ``matrix`` does."""
    import SimpleITK as sitk

    transform = sitk.AffineTransform(3)
    transform.SetMatrix([float(v) for v in np.asarray(matrix)[:3, :3].ravel()])
    transform.SetTranslation([float(v) for v in np.asarray(matrix)[:3, 3]])
    return transform


def rigid_register(
    fixed: ImageLayer,
    moving: ImageLayer,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    *,
    iterations: int = 200,
    shrink_factors: Sequence[int] = (4, 2, 1),
    smoothing_mm: Sequence[float] = (2.0, 1.0, 0.0),
    sampling: float = 0.2,
    initializer: str = "moments",
    seed: int = 20130411,
) -> np.ndarray:
    """The rigid 4x4 transform mapping ``fixed``'s world points to ``moving``'s world.

    ``progress(fraction)`` is called from the optimizer's iteration events (0 → 1, rising);
    ``cancelled()`` is polled at each iteration and a True stops the optimizer and raises
    :class:`RegistrationCancelledError`. ``initializer`` is ``"moments"`` (centres of mass) or
    ``"geometry"`` (image centres). Runs in the calling thread; call it from a worker
    thread to keep a window responsive.
    """
    import SimpleITK as sitk

    if len(shrink_factors) != len(smoothing_mm):
        raise ValueError("shrink_factors and smoothing_mm need one entry per level")
    if initializer not in ("moments", "geometry"):
        raise ValueError(f"initializer must be 'moments' or 'geometry', got {initializer!r}")
    fixed_image = to_sitk_image(fixed)
    moving_image = to_sitk_image(moving)
    mode = (
        sitk.CenteredTransformInitializerFilter.MOMENTS
        if initializer == "moments"
        else sitk.CenteredTransformInitializerFilter.GEOMETRY
    )
    initial = sitk.CenteredTransformInitializer(
        fixed_image, moving_image, sitk.Euler3DTransform(), mode
    )
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=50)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(sampling, seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0,
        minStep=1e-4,
        numberOfIterations=iterations,
        relaxationFactor=0.6,
        gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(shrink_factors))
    method.SetSmoothingSigmasPerLevel(list(smoothing_mm))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(initial, inPlace=False)

    levels = len(shrink_factors)
    state: dict[str, Any] = {"cancelled": False, "error": None, "last": 0.0}

    def on_iteration() -> None:
        try:
            if cancelled is not None and cancelled():
                state["cancelled"] = True
                method.StopRegistration()
                return
            if progress is not None:
                done = method.GetCurrentLevel() + min(
                    method.GetOptimizerIteration() / max(iterations, 1), 1.0
                )
                fraction = max(state["last"], min(done / levels, 1.0))
                state["last"] = fraction
                progress(fraction)
        except BaseException as exc:  # re-raised below: ITK's command must not see it
            state["error"] = exc
            method.StopRegistration()

    method.AddCommand(sitk.sitkIterationEvent, on_iteration)
    final = method.Execute(fixed_image, moving_image)
    if state["error"] is not None:
        raise state["error"]
    if state["cancelled"]:
        raise RegistrationCancelledError("registration cancelled")
    if progress is not None:
        progress(1.0)
    return transform_to_matrix(final)
