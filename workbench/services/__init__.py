"""The one door to the registry: application services.

The window (:mod:`workbench.ui`) and the command line (:mod:`workbench.cli`) call only these
modules; they never open a database session, run a query or restate a rule (import-linter
contracts in ``pyproject.toml`` forbid their importing SQLAlchemy, the ORM models or the data
layer). Each service function

- takes the registry and the acting person (:class:`~workbench.actor.Actor`),
- opens and owns its transaction (all or nothing),
- asks the one policy, :func:`workbench.policy.can`, for every permission and blinding rule,
- and returns frozen values, never ORM rows.

Rooms:

- :mod:`~workbench.services.signin` — who is acting: sign-in, sessions, the command line's
  token file, and on PostgreSQL the registry user of the connection's own login role;
- :mod:`~workbench.services.identity` — mapping PostgreSQL login roles to registry users;
- :mod:`~workbench.services.admin` — opening the registry, users and passwords, schema,
  audit verification and anchors;
- :mod:`~workbench.services.cases` — the case list, case pages, creating and assigning,
  lab results, history;
- :mod:`~workbench.services.imaging` — importing series, sequence classes, lesion export;
- :mod:`~workbench.services.reading` — a reader's drafts, submission and corrections, and the
  reads of a case as the actor may see them; :mod:`~workbench.services.draft` is the Qt-free
  draft session the annotation panel binds to (it saves only what changed);
- :mod:`~workbench.services.panel` — the panel page, the criteria engine, decisions and
  signatures, and the registry-wide re-classification.
- :mod:`~workbench.services.worklist` — my queue, the coordinator's dashboard and balanced
  assignment (due dates, overdue, readers' workload).

Below the door, the data layer (:mod:`workbench.cases`, :mod:`workbench.reads`,
:mod:`workbench.reading_flow`, :mod:`workbench.panel`, ...) works inside a session that a
service hands it.
"""

from workbench.actor import Actor
from workbench.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RegistryError,
    RegistryUnavailableError,
    ValidationError,
)
from workbench.policy import Action, Facts, Refusal, can
from workbench.registry.db import Registry

__all__ = [
    "Action",
    "Actor",
    "ConflictError",
    "Facts",
    "NotFoundError",
    "PermissionDeniedError",
    "Refusal",
    "Registry",
    "RegistryError",
    "RegistryUnavailableError",
    "ValidationError",
    "can",
]
