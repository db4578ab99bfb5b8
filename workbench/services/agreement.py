"""Reader agreement: the service behind the window's page and ``pml-workbench agreement``.

:func:`agreement_report` opens one read transaction and returns the frozen
:class:`~workbench.agreement.AgreementReport` of :mod:`workbench.agreement` (which asks the
policy: :data:`Action.SEE_AGREEMENT <workbench.policy.Action.SEE_AGREEMENT>`, and counts only
cases whose every assigned read is in). :func:`write_html` saves a report as one HTML file,
whole or not at all; :func:`parse_since` checks the ``--since`` day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from workbench.actor import Actor
from workbench.agreement import (
    JUDGEMENTS,
    AgreementReport,
    CertaintyAgreement,
    DisagreementReport,
    FleissGroup,
    JudgementAgreement,
    MaskAgreement,
    MaskPair,
    PairKappa,
)
from workbench.agreement import agreement_report as _agreement_report
from workbench.errors import ValidationError
from workbench.registry.db import Registry

__all__ = [
    "JUDGEMENTS",
    "AgreementReport",
    "CertaintyAgreement",
    "DisagreementReport",
    "FleissGroup",
    "JudgementAgreement",
    "MaskAgreement",
    "MaskPair",
    "PairKappa",
    "agreement_report",
    "check_html_path",
    "parse_since",
    "write_html",
]


def agreement_report(
    registry: Registry, actor: Actor, *, since: dt.date | None = None
) -> AgreementReport:
    """How well the registry's readers agree, as ``actor`` may see it (one transaction)."""
    with registry.read() as session:
        return _agreement_report(session, actor, since=since)


def parse_since(text: str) -> dt.date:
    """The day ``YYYY-MM-DD`` of ``--since``; refused with the reason otherwise."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"--since: {text!r} is not a day written YYYY-MM-DD (for example 2026-01-01)",
            field="since",
        ) from None


def check_html_path(path: Path) -> Path:
    """``path`` if an HTML report can be written there, else :class:`ValidationError`
    naming the file and the problem (a folder, or a folder that does not exist)."""
    from workbench.analysis.report import check_report_path

    return check_report_path(path)


def write_html(report: AgreementReport, path: Path) -> Path:
    """Write ``report`` to ``path`` as one self-contained HTML page, whole or not at all.

    Raises :class:`ValidationError` naming the file when it cannot be written (a folder that
    does not exist, no permission): nothing is left behind.
    """
    from workbench.analysis.report import write_report

    return write_report(path, report.html())
