"""Acting people for tests that look at registry internals without a user of the registry."""

from __future__ import annotations

from adjudication.vocabulary import Role
from workbench.actor import Actor

AUDITOR = Actor("auditor", "Test Auditor", frozenset({Role.ADMIN}))
"""An administrator who reads no case and sees what the policy shows administrators."""
