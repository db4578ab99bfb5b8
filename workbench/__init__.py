"""PML registry case-review workbench: the application.

Architecture (the dependency rule is enforced by import-linter contracts in pyproject.toml):

- ``workbench`` (this package) is the application: imaging import, the registry database
  (:mod:`workbench.registry`), cases and labs (:mod:`workbench.cases`, :mod:`workbench.labs`),
  the synthetic demo (:mod:`workbench.demo`), the command line (:mod:`workbench.cli`) and the
  Qt main window (:mod:`workbench.ui`). It may import ``viewers`` and ``adjudication``.
- ``viewers`` is looking at and drawing on volumes, as numpy models with toolkit-neutral
  events; its Qt widgets live in ``viewers.qt``. It knows nothing of cases or the database.
- ``adjudication`` is the review process as pure Python: criteria, reads, consensus, audit.

Qt is imported only in ``viewers.qt``, the ``ui`` packages and the shell. Geometry inside is
DICOM LPS millimetres; NIfTI's RAS is converted at the edge.
"""

__version__ = "0.1.0"
