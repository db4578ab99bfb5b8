"""Acting people for tests that look at registry internals without a user of the registry."""

from __future__ import annotations

from adjudication.vocabulary import Role
from workbench.actor import Actor
from workbench.registry.db import Registry
from workbench.users import resolve_actor

AUDITOR = Actor("auditor", "Test Auditor", frozenset({Role.ADMIN}))
"""An administrator who reads no case and sees what the policy shows administrators."""


def actor_of(registry: Registry, username: str) -> Actor:
    """The registry user ``username`` as an actor, for tests of the services beneath sign-in
    (an empty registry gets them as its first administrator and coordinator)."""
    with registry.write() as session:
        return resolve_actor(session, username)
