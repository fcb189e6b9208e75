"""Onboarding diagnostics: checks with a status, a finding and a remedy, and the report."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Check", "CheckStatus", "Report"]


class CheckStatus(enum.IntEnum):
    """The outcome of one check, ordered: the worst of a report decides it."""

    PASS = 1
    WARN = 2
    FAIL = 3


@dataclass(frozen=True, slots=True)
class Check:
    """One check: a stable name, its status, what was found and what to do about it.

    Findings never carry sensitive values, factor data or tokens: they name
    identifiers, counts and states only.
    """

    name: str
    status: CheckStatus
    finding: str
    remedy: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """Every check of one tenant, in a stable order."""

    tenant_id: str
    checks: Sequence[Check]

    @property
    def worst(self) -> CheckStatus:
        """The worst status; PASS for a report without checks."""
        return max((c.status for c in self.checks), default=CheckStatus.PASS)

    @property
    def ready(self) -> bool:
        """True when no check fails."""
        return self.worst is not CheckStatus.FAIL
