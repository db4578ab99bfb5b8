"""The synthetic demo: a brain phantom with PML-like lesions, written as de-identified DICOM.

The images are synthetic, no real person. :mod:`workbench.demo.phantom` builds the anatomy, the
lesions and the MR contrasts as numpy arrays (no Qt, no outside data);
:mod:`workbench.demo.dicom_series` writes a volume as a classic MR Image Storage series with
pydicom, de-identified by construction so that the registry's import gate accepts it.
"""
