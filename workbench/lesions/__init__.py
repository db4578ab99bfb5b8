"""Lesion masks of the workbench: measure, store, export and import them.

A reader's lesions are one label map on the grid of a named series, indexed ``(i, j, k)``
like :class:`~workbench.imaging.volume.Volume` and placed in the world by the series' LPS
affine. The findings that describe them (:mod:`adjudication.lesions`) point at the series by
identity, never at a viewer. This package does the numpy work around them:

- :mod:`.measure` — volumes, centroids and bounding boxes of every label at once, 26-connected
  splitting, hemisphere from the centroid, and the report of a mask file (NIfTI or DICOM SEG)
  behind ``pml-workbench lesions``;
- :mod:`.codec` — a compact, checked byte form of a label map for the registry database;
- :mod:`.nifti_io` — NIfTI label maps on the series grid (RAS at the edge), refusal of masks on
  another grid, and explicit nearest-neighbour resampling through world space;
- :mod:`.seg_io` — DICOM Segmentation objects (highdicom) that reference the source series'
  instances, de-identified like the source, and reading them back onto the source grid;
- :mod:`.commands` — the ``lesions`` command.

No Qt here; SimpleITK and highdicom are imported where they are used.
"""
