"""Errors of the imaging import: each message names the file (or folder) and the problem."""

from __future__ import annotations

from workbench.errors import ValidationError


class ImagingError(ValidationError):
    """An image source was refused; the message names the file and says what is wrong.

    ``series_uid`` is the SeriesInstanceUID of the file's series where it is known.
    """

    series_uid: str | None = None


class NotDicomError(ImagingError):
    """A file (or every file of a folder) is not a DICOM image."""


class SeriesGeometryError(ImagingError):
    """A series' slices do not make one regular grid (missing, duplicated, uneven, mixed)."""


class UnsupportedSeriesError(ImagingError):
    """A series is recognised but this loader cannot build a correct volume from it."""


class CorruptImageError(ImagingError):
    """A file is truncated, has a broken header, or holds values that cannot be used."""
