"""Errors the application raises, each with a message a user can act on.

Services raise these; the window shows them in place and the command line prints them and
exits 1. A :class:`ValidationError` names the field it is about (``field``), so a form can
outline that field without reading the message.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base class: something about the registry a user must be told."""


class RegistryUnavailableError(RegistryError):
    """The registry cannot be opened: bad URL, unreachable server, not a database."""


class DatabaseError(RegistryError):
    """The database refused or failed an operation (server gone, a constraint, a lock).

    Raised by the registry's transactions in place of the driver's error, so no caller needs
    to know the database library; the message is the database's first line, without SQL.
    """


class ConflictError(RegistryError):
    """A save was refused because someone else saved the same record since it was read."""


class NotFoundError(RegistryError):
    """A record named by the user does not exist."""


class PermissionDeniedError(RegistryError):
    """The acting user may not do this; the message says why (from :mod:`workbench.policy`)."""


class ValidationError(RegistryError):
    """Input refused; the message names the record, the field and the problem.

    ``field`` is the name of the input the refusal is about (``"rationale"``, ``"age band"``),
    as the forms label it, or ``None`` when it is about the record as a whole.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
