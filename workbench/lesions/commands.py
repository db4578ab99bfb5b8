"""The ``lesions`` command, as a function the CLI wires in: ``pml-workbench lesions MASK [--json]``.

It measures a lesion mask file (NIfTI or DICOM SEG) with
:func:`workbench.lesions.measure.measure_mask_file` and prints a table, or with ``--json``::

    {"total_ml": 8.227, "lesions": [{"label": 1, "voxels": 3121, "ml": 3.121,
      "centroid_ras_mm": [23.5, -20.1, 18.0]}, ...], "file": ..., "source": ..., "kind": ...,
     "total_voxels": ...}

Centroids are in RAS millimetres (as FSL, FreeSurfer, ITK-SNAP and 3D Slicer's RAS display
print them). Exit status: 0 measured, 1 the file is not a usable mask (unreadable,
non-integer, NaN, a float mask not 0/1), 2 the file does not exist. Errors go to ``err`` as
one line starting with ``error:`` and naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from adjudication.lesions import Hemisphere
from workbench.imaging.errors import ImagingError
from workbench.lesions.measure import MaskReport, measure_mask_file

EXIT_OK = 0
EXIT_BAD_MASK = 1
EXIT_MISSING = 2


def lesions_main(path: Path, as_json: bool, out: TextIO, err: TextIO) -> int:
    """Measure the mask at ``path``; print a table (or JSON) to ``out``; return 0, 1 or 2."""
    try:
        report = measure_mask_file(path)
    except FileNotFoundError:
        print(f"error: {path}: no such file", file=err)
        return EXIT_MISSING
    except ImagingError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_BAD_MASK
    except OSError as exc:
        print(f"error: {path}: cannot read: {exc.strerror or type(exc).__name__}", file=err)
        return EXIT_BAD_MASK
    if as_json:
        json.dump(report.as_json(), out, indent=2)
        out.write("\n")
    else:
        for line in report_lines(report):
            print(line, file=out)
    return EXIT_OK


def report_lines(report: MaskReport) -> list[str]:
    """The plain-text table of a mask report."""
    n = len(report.measurements)
    what = (
        f"binary mask split into {n} connected lesion{'s' if n != 1 else ''} (26-connectivity)"
        if report.kind == "binary"
        else f"label map with {n} label{'s' if n != 1 else ''}"
    )
    size = " x ".join(str(v) for v in report.shape)
    voxel = " x ".join(f"{v:.3f}" for v in report.voxel_size_mm)
    lines = [
        f"{report.path}: {what}",
        f"grid {size}, voxel {voxel} mm ({report.source})",
        "",
        f"{'label':>6} {'voxels':>9} {'mL':>9}   centroid RAS (mm)",
    ]
    for row in report.lesions:
        x, y, z = row.centroid_ras_mm
        lines.append(
            f"{row.label:>6} {row.voxels:>9} {row.ml:>9.3f}   ({x:8.1f}, {y:8.1f}, {z:8.1f})"
        )
    lines.append(f"{'total':>6} {report.total_voxels:>9} {report.total_ml:>9.3f} mL")
    sides = report.hemisphere_ml()
    split = f"right {sides[Hemisphere.RIGHT]:.3f} mL, left {sides[Hemisphere.LEFT]:.3f} mL"
    if sides[Hemisphere.MIDLINE]:
        split += f", midline {sides[Hemisphere.MIDLINE]:.3f} mL"
    lines.append(f"by centroid (world x): {split}")
    return lines
