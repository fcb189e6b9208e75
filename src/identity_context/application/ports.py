"""Ports the use cases depend on; adapters implement them."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from identity_context.domain.actors import Actor

__all__ = ["Clock", "TokenVerifier"]


class TokenVerifier(Protocol):
    """Turns a bearer token into a verified actor."""

    async def verify(self, token: str) -> Actor:
        """Verify *token* and return its actor.

        Raise Unauthenticated when the token does not verify for any reason.
        """
        ...


class Clock(Protocol):
    """The source of the current time (UTC)."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware in UTC."""
        ...
