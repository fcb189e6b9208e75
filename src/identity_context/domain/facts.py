"""Access-control facts and their change stream: values, filters and stream positions.

A fact says that a subject has a relation on an object in a tenant. The store
derives facts from memberships, group members, active hats and scopes, keeps
the current ones per export mode, and numbers every change of them by the
tenant's change sequence (the commit that caused it), so a consumer can export
one snapshot and then watch exactly the changes after it.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from identity_context.domain.errors import InvalidArgument
from identity_context.domain.identifiers import parse_relation

__all__ = [
    "DEFAULT_EXPORT_BATCH",
    "MAX_EXPORT_BATCH",
    "ExportMode",
    "Fact",
    "FactChange",
    "FactFilter",
    "FactOperation",
    "FactSource",
    "Position",
]

DEFAULT_EXPORT_BATCH = 500
MAX_EXPORT_BATCH = 5000
_MAX_FILTER_VALUES = 64
# Inside the store a position "after every change of seq" is (seq, ALL).
ALL_CHANGES = 2**31 - 1


class ExportMode(enum.IntEnum):
    """How group-held memberships are exported (numbers as stored)."""

    NATIVE = 1
    FLATTENED = 2


class FactSource(enum.IntEnum):
    """Why a fact holds (numbers as stored and as in the contract)."""

    DIRECT = 1
    GROUP = 2
    ACTIVE_CONTEXT = 3
    SCOPE = 4


class FactOperation(enum.IntEnum):
    """Whether a change makes a fact start (WRITE) or stop (DELETE) holding."""

    WRITE = 1
    DELETE = 2


@dataclass(frozen=True, slots=True)
class Fact:
    """One fact; (subject, relation, object) identifies it within a tenant and mode."""

    tenant_id: str
    subject: str
    relation: str
    object: str
    source: FactSource
    via: tuple[str, ...] = ()
    evidence_refs: tuple[str, ...] = ()
    access_profile: str = ""
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A place in a tenant's change stream: after change *change* of commit *seq*.

    ``change == ALL_CHANGES`` means after every change of *seq* (a commit
    boundary); positions order as the stream does.
    """

    seq: int
    change: int = ALL_CHANGES

    @property
    def at_boundary(self) -> bool:
        """True between commits."""
        return self.change == ALL_CHANGES


@dataclass(frozen=True, slots=True)
class FactChange:
    """One change of the stream: the fact, what happened to it, and where."""

    seq: int
    change: int
    operation: FactOperation
    fact: Fact
    committed_at: dt.datetime

    @property
    def position(self) -> Position:
        """The stream position right after this change."""
        return Position(self.seq, self.change)


@dataclass(frozen=True, slots=True)
class FactFilter:
    """Relations and sources a consumer wants (empty: all), in one canonical order."""

    relations: tuple[str, ...] = ()
    sources: tuple[FactSource, ...] = ()

    @classmethod
    def of(cls, relations: list[str], sources: list[FactSource]) -> FactFilter:
        """Validate and canonicalize; raise InvalidArgument naming the field."""
        if len(relations) > _MAX_FILTER_VALUES:
            raise InvalidArgument.for_field(
                "filter.relations", f"at most {_MAX_FILTER_VALUES} relations"
            )
        for index, relation in enumerate(relations):
            parse_relation(relation, field=f"filter.relations[{index}]")
        return cls(tuple(sorted(set(relations))), tuple(sorted(set(sources))))

    def canonical(self) -> str:
        """The filter as one string (what a token is bound to)."""
        return ",".join(self.relations) + ";" + ",".join(str(int(s)) for s in self.sources)
