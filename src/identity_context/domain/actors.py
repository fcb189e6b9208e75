"""The authenticated actor of a request and its assurance level."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from identity_context.domain.identifiers import ActorKind, TenantId

__all__ = ["Actor", "AssuranceLevel"]


class AssuranceLevel(enum.IntEnum):
    """Authenticator assurance (NIST SP 800-63B), ordered; NONE is below every level."""

    NONE = 0
    AAL1 = 1
    AAL2 = 2
    AAL3 = 3

    @classmethod
    def from_acr(cls, acr: str | None) -> AssuranceLevel:
        """Map a token's ``acr`` claim (``aal1``..``aal3``) to a level; anything else is NONE."""
        return _ACR.get((acr or "").strip().lower(), cls.NONE)


_ACR = {"aal1": AssuranceLevel.AAL1, "aal2": AssuranceLevel.AAL2, "aal3": AssuranceLevel.AAL3}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling, as established by a verified token.

    ``subject`` is ``user:<id>`` or ``service:<name>``; ``tenant`` is the token's
    ``tenant`` claim (the actor tenant); ``issuer`` names the trusted issuer that
    signed the token.
    """

    subject: str
    kind: ActorKind
    tenant: TenantId
    issuer: str
    assurance: AssuranceLevel = AssuranceLevel.NONE
