"""Errors of lesion masks: each message names the file (or the blob) and the problem."""

from __future__ import annotations

from workbench.imaging.errors import ImagingError


class LesionMaskError(ImagingError):
    """A mask was refused: unreadable, not integer labels, NaN, or a float mask not 0/1."""


class GridMismatchError(LesionMaskError):
    """A mask lies on another grid than the series it is meant for.

    Overlaying it by voxel index would put lesions in the wrong place; resample it explicitly
    (:func:`workbench.lesions.nifti_io.resample_labels_to`) or refuse it.
    """


class MaskCodecError(LesionMaskError):
    """A stored mask blob is corrupted, truncated, of an unknown format or implausibly large."""
