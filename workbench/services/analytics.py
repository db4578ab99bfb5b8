"""Registry analytics and incidence denominators, behind the one door.

Each function opens its own transaction, asks the policy (analytics need
:data:`Action.SEE_ANALYTICS <workbench.policy.Action.SEE_ANALYTICS>`: coordinators,
administrators, panel members; importing denominators
:data:`Action.IMPORT_DENOMINATORS <workbench.policy.Action.IMPORT_DENOMINATORS>`:
coordinators, administrators) and returns frozen values (:mod:`workbench.analytics`,
:mod:`workbench.denominators`).
"""

from __future__ import annotations

from pathlib import Path

from adjudication.vocabulary import Certainty
from workbench import __version__
from workbench.actor import Actor
from workbench.analytics import CERTAINTY_FLOORS, RegistryAnalytics
from workbench.analytics import registry_analytics as _registry_analytics
from workbench.denominators import (
    COLUMNS,
    Denominator,
    DenominatorFileError,
    ImportSummary,
    Problem,
    StoredDenominator,
    Stratum,
    read_denominators,
)
from workbench.denominators import import_denominators as _import
from workbench.denominators import list_denominators as _list
from workbench.policy import Action, require
from workbench.registry.db import Registry

__all__ = [
    "CERTAINTY_FLOORS",
    "COLUMNS",
    "Certainty",
    "Denominator",
    "DenominatorFileError",
    "ImportSummary",
    "Problem",
    "RegistryAnalytics",
    "StoredDenominator",
    "Stratum",
    "analytics",
    "check_html_path",
    "import_denominators",
    "list_denominators",
    "write_html",
]

TITLE = "PML registry analytics"


def analytics(
    registry: Registry, actor: Actor, certainty: Certainty | str = Certainty.PROBABLE
) -> RegistryAnalytics:
    """The registry's analytics; ``certainty`` is the least final certainty that counts as a
    PML case (default probable: definite and probable)."""
    with registry.read() as session:
        return _registry_analytics(session, actor, certainty)


def check_html_path(path: Path) -> Path:
    """``path`` if the HTML report can be written there, else
    :class:`~workbench.errors.ValidationError` naming the file and the problem."""
    from workbench.analysis.report import check_report_path

    return check_report_path(path)


def write_html(result: RegistryAnalytics, path: Path, actor: Actor) -> Path:
    """Write ``result`` as a self-contained HTML report to ``path`` (whole or not at all); a
    path that cannot be written is a :class:`~workbench.errors.ValidationError` naming it."""
    import datetime as dt

    from workbench.analysis.report import html_document, write_report

    require(actor, Action.SEE_ANALYTICS)
    meta = {
        "generated": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "by": actor.username,
        "software": f"pml-workbench {__version__}",
        "rule": result.rule,
    }
    return write_report(Path(path), html_document(TITLE, result.sections(), meta=meta))


def import_denominators(
    registry: Registry, actor: Actor, path: Path, *, dry_run: bool = False
) -> ImportSummary:
    """Import a denominators CSV file (coordinators, administrators), all or nothing.

    The person is checked before the file is read; a bad file raises
    :class:`DenominatorFileError` listing every problem as ``FILE:LINE: COLUMN: PROBLEM`` and
    writes nothing. ``dry_run`` checks the file and says what would change.
    """
    require(actor, Action.IMPORT_DENOMINATORS)
    path = Path(path)
    rows = read_denominators(path)
    opener = registry.read if dry_run else registry.write
    with opener() as session:
        return _import(session, actor, rows, file=path.name, dry_run=dry_run)


def list_denominators(registry: Registry, actor: Actor) -> tuple[StoredDenominator, ...]:
    """The stored denominators (whoever may see the analytics)."""
    with registry.read() as session:
        return _list(session, actor)
