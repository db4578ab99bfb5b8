"""PML registry case-review workbench: the application.

Architecture (the dependency rules are import-linter contracts in ``pyproject.toml``):

- ``workbench`` (this package) is the application. It may import ``viewers`` and
  ``adjudication``; they never import it.
- ``viewers`` is looking at and drawing on volumes, as numpy models with toolkit-neutral
  events; its Qt widgets live in ``viewers.qt``. It knows nothing of cases or the database.
- ``adjudication`` is the review process as pure Python: criteria, discordance, consensus,
  lesion findings, the audit chain.

Inside ``workbench``, three floors:

1. **The doors** — :mod:`workbench.ui` (the Qt main window) and :mod:`workbench.cli` (the
   command line, one module per noun). They call only the services, show their answers and
   grey out what the policy refuses; a contract forbids their importing SQLAlchemy, the ORM
   models or the data layer.
2. **The services** — :mod:`workbench.services` (``admin``, ``cases``, ``imaging``,
   ``reading``, ``panel``): each function takes the acting person, owns its transaction,
   asks the one policy (:mod:`workbench.policy`, ``can(actor, action, facts)``) and returns
   frozen values.
3. **The data layer** — the registry database (:mod:`workbench.registry`: SQLAlchemy 2.0
   models, sessions, Alembic migrations, the audit chain) and the operations that work inside
   a session a service hands them (:mod:`workbench.cases`, :mod:`workbench.labs`,
   :mod:`workbench.reads`, :mod:`workbench.reading_flow`, :mod:`workbench.panel`,
   :mod:`workbench.case_criteria`), beside imaging import (:mod:`workbench.imaging`,
   :mod:`workbench.importer`, the de-identification gate :mod:`workbench.deid`) and lesion
   masks (:mod:`workbench.lesions`).

Plain values shared by all floors: :mod:`workbench.actor` (who acts), :mod:`workbench.domain`
(vocabularies), :mod:`workbench.errors`, :mod:`workbench.display` (labels and formats).
Qt is imported only in ``viewers.qt``, the ``ui`` packages and the shell. Geometry inside is
DICOM LPS millimetres; NIfTI's RAS is converted at the edge.
"""

__version__ = "0.1.0"
