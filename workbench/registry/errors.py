"""Errors of the registry layer, each with a message a user can act on."""

from __future__ import annotations


class RegistryError(Exception):
    """Base class: something about the registry a user must be told."""


class RegistryUnavailableError(RegistryError):
    """The registry cannot be opened: bad URL, unreachable server, not a database."""


class ConflictError(RegistryError):
    """A save was refused because someone else saved the same record since it was read."""


class NotFoundError(RegistryError):
    """A record named by the user does not exist."""


class PermissionDeniedError(RegistryError):
    """The acting user's roles do not allow the action."""


class ValidationError(RegistryError):
    """Input refused; the message names the record, the field and the problem."""
