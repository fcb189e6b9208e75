"""Page sizes and opaque page tokens bound to the tenant and the filter (AIP-158)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from identity_context.domain.errors import ErrorReason, InvalidArgument
from identity_context.domain.identifiers import TenantId

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "Page", "PageRequest"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results and the token of the next one (empty on the last page)."""

    items: Sequence[T]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A validated page request: its size and the key to continue after."""

    size: int
    after: str
    _tenant: str
    _filter: str

    @classmethod
    def parse(
        cls, tenant: TenantId, page_size: int, page_token: str, *filter_values: object
    ) -> PageRequest:
        """Validate *page_size* and *page_token* for *tenant* and the filter values.

        Raise InvalidArgument on a negative size, and on a token that is malformed
        or was issued for another tenant or filter (reason PAGE_TOKEN_INVALID).
        """
        if page_size < 0:
            raise InvalidArgument.for_field("page_size", "must not be negative")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        digest = hashlib.sha256(json.dumps([str(v) for v in filter_values]).encode()).hexdigest()
        after = ""
        if page_token:
            try:
                padded = page_token + "=" * (-len(page_token) % 4)
                body = json.loads(base64.urlsafe_b64decode(padded.encode()))
                valid = body["t"] == str(tenant) and body["f"] == digest[:16]
                after = str(body["a"])
            except (ValueError, KeyError, TypeError):
                valid = False
            if not valid:
                raise InvalidArgument.for_field(
                    "page_token",
                    "is not a token of this list, tenant and filter",
                    reason=ErrorReason.PAGE_TOKEN_INVALID,
                )
        return cls(size, after, str(tenant), digest[:16])

    def page(self, items: Sequence[T], key: str) -> Page[T]:
        """Return the page for *items* fetched with ``limit = size + 1``.

        *key* names the attribute the list is ordered by.
        """
        if len(items) <= self.size:
            return Page(items, "")
        shown = items[: self.size]
        body = {"t": self._tenant, "f": self._filter, "a": str(getattr(shown[-1], key))}
        token = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
        return Page(shown, token)
