"""Helpers for the imaging tests: the shared-data manifest and world-space comparison."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.conftest import SHARED_DATA


def manifest_entries() -> list[dict[str, Any]]:
    """The manifest of the real-data folder, or [] where it is absent (tests then skip).

    Read at collection time to parametrize the tests; nothing else of the folder is.
    """
    path = SHARED_DATA / "manifest.json"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        entries: list[dict[str, Any]] = json.load(handle)
    return entries


def entry_params(predicate: Any) -> list[Any]:
    """pytest params (id = manifest id) of the entries matching ``predicate``; one skipping
    placeholder where the data is absent, so the skip says why."""
    chosen = [pytest.param(e, id=e["id"]) for e in manifest_entries() if predicate(e)]
    return chosen or [pytest.param(None, id="no-shared-data")]


def canonical(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Array and RAS affine reoriented to the closest canonical (RAS+) axis order.

    Trailing axes beyond the three spatial ones (time, RGB channels) are carried along.
    """
    from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation

    ornt = io_orientation(affine)
    out = apply_orientation(array, ornt)
    return out, affine @ inv_ornt_aff(ornt, array.shape[:3])


def corner_distance(shape: tuple[int, ...], a: np.ndarray, b: np.ndarray) -> float:
    """Largest distance (mm) between the two affines' voxel centres at the grid corners."""
    ni, nj, nk = shape[:3]
    corners = np.array(
        [[i, j, k, 1] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)], float
    ).T
    return float(np.abs(a @ corners - b @ corners).max())
