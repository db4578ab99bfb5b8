"""Fixtures of the lesion tests: synthetic DICOM source series (axial and oblique) on disk."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from workbench.demo.dicom_series import new_uid, write_series
from workbench.domain import SequenceClass
from workbench.imaging.dicom import load_dicom
from workbench.imaging.volume import Volume

PSEUDONYM = "PML-0042"

MNI_MASK = "GOLD_STANDARD_N4_noneck_reduced_winsor_regtoFLAIR_regtoMNI.nii.gz"


@dataclass(frozen=True)
class SourceSeries:
    """A synthetic series written to disk and loaded back as the workbench loads it."""

    folder: Path
    paths: list[Path]
    volume: Volume


def rotation(ax: float, ay: float, az: float) -> np.ndarray:
    """Rotation matrix from angles (degrees) about x, then y, then z."""
    a, b, c = (math.radians(v) for v in (ax, ay, az))
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def write_source(
    folder: Path,
    *,
    shape: tuple[int, int, int] = (7, 24, 20),
    spacing_mm: tuple[float, float, float] = (0.9, 0.8, 3.0),
    origin_lps: tuple[float, float, float] = (-8.0, -11.0, 20.0),
    angles: tuple[float, float, float] = (0.0, 0.0, 0.0),
    tag: str = "axial",
    frame_of_reference_uid: str | None = None,
) -> SourceSeries:
    """Write a (slices, rows, columns) int16 series and load it with ``load_dicom``."""
    r = rotation(*angles)
    rng = np.random.default_rng(7)
    pixels = rng.integers(50, 400, size=shape).astype(np.int16)
    paths = write_series(
        pixels,
        folder,
        spacing_mm=spacing_mm,
        origin_lps=origin_lps,
        row_direction=tuple(r[:, 0]),
        column_direction=tuple(r[:, 1]),
        study_instance_uid=new_uid("lesion-tests", "study"),
        series_instance_uid=new_uid("lesion-tests", tag, "series"),
        frame_of_reference_uid=frame_of_reference_uid or new_uid("lesion-tests", "for"),
        series_number=3,
        sequence=SequenceClass.FLAIR,
        patient_pseudonym=PSEUDONYM,
    )
    (volume,) = load_dicom(folder)
    return SourceSeries(folder, paths, volume)


def paint(shape: tuple[int, ...]) -> np.ndarray:
    """Three lesions (labels 1, 2 and 5) on a grid of ``shape`` (at least 20 x 20 x 7)."""
    labels = np.zeros(shape, dtype=np.uint8)
    labels[2:6, 3:8, 1:3] = 1
    labels[12:15, 14:20, 4] = 2
    labels[7, 9, 6] = 5
    labels[8:10, 9, 6] = 5
    return labels


@pytest.fixture
def axial_series(tmp_path: Path) -> SourceSeries:
    """A 20 x 24 x 7 axial series (0.8 x 0.9 x 3 mm)."""
    return write_source(tmp_path / "axial")


@pytest.fixture
def oblique_series(tmp_path: Path) -> SourceSeries:
    """The same grid tilted about all three axes (12°, -8°, 25°)."""
    return write_source(tmp_path / "oblique", angles=(12.0, -8.0, 25.0), tag="oblique")
