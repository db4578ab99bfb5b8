"""Who is acting: the signed-in person and the roles they hold (plain values, no SQL)."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

from adjudication.vocabulary import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """The user on whose behalf the workbench acts, with their roles.

    What an actor may do is decided by :func:`workbench.policy.can`, never by the actor.
    """

    username: str
    display_name: str
    roles: frozenset[Role]

    @property
    def main_role(self) -> str:
        """The role recorded in audit events (the most specific one held)."""
        for role in (Role.COORDINATOR, Role.PANEL, Role.READER, Role.ADMIN):
            if role in self.roles:
                return role.value
        return "none"


def default_username() -> str:
    """The OS login name, as a registry username."""
    name = os.environ.get("PML_WORKBENCH_USER") or getpass.getuser()
    return name.lower()
