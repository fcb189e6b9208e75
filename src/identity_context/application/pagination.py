"""Page sizes and signed page tokens bound to the tenant, the RPC and the filter (AIP-158)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from identity_context.domain.errors import ErrorReason, InvalidArgument
from identity_context.domain.identifiers import TenantId

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "Page", "PageRequest", "PageTokens"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_MAX_TOKEN = 1024
_MAC_BYTES = 16
T = TypeVar("T")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid_token() -> InvalidArgument:
    return InvalidArgument.for_field(
        "page_token",
        "is not a token of this list, tenant and filter",
        reason=ErrorReason.PAGE_TOKEN_INVALID,
    )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results and how to continue.

    ``next_page_token`` is empty on the last page. ``token_after(i)`` is the
    token that continues after item *i* (used when a page has to be cut short,
    for example to fit the response size limit).
    """

    items: Sequence[T]
    next_page_token: str
    token_after: Callable[[int], str]


class PageTokens:
    """Signs and verifies page tokens with HMAC-SHA256.

    The first key signs; every key verifies, so keys can be rotated by adding
    the new one first and dropping the old one after tokens expire from use.
    A token is bound to the tenant, the RPC and the filter: the signature
    covers them, so a token of another list, tenant or filter never verifies.
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys or any(len(key) < 16 for key in keys):
            raise ValueError("page tokens need at least one key of 16 bytes or more")
        self._keys = tuple(keys)

    def _mac(self, key: bytes, scope: bytes, after: bytes) -> bytes:
        return hmac.new(key, scope + b"\x00" + after, hashlib.sha256).digest()[:_MAC_BYTES]

    def sign(self, scope: bytes, after: str) -> str:
        """Return the token that continues after *after* in *scope*."""
        raw = after.encode()
        return f"{_b64(raw)}.{_b64(self._mac(self._keys[0], scope, raw))}"

    def verify(self, scope: bytes, token: str) -> str:
        """Return the key a token continues after; raise InvalidArgument (PAGE_TOKEN_INVALID)."""
        if len(token) > _MAX_TOKEN or not token.isascii():
            raise _invalid_token()
        body, _, mac = token.partition(".")
        try:
            raw, given = _unb64(body), _unb64(mac)
            after = raw.decode()
        except (binascii.Error, ValueError):
            raise _invalid_token() from None
        if _b64(raw) != body or _b64(given) != mac:  # one spelling per token, no look-alikes
            raise _invalid_token()
        if not any(hmac.compare_digest(self._mac(k, scope, raw), given) for k in self._keys):
            raise _invalid_token()
        return after

    def parse(
        self,
        tenant: TenantId,
        rpc: str,
        page_size: int,
        page_token: str,
        *filter_values: object,
    ) -> PageRequest:
        """Validate *page_size* and *page_token* for *tenant*, *rpc* and the filter values.

        Raise InvalidArgument on a negative size, and on a token that does not
        verify (malformed, tampered, or issued for another tenant, RPC or
        filter; reason PAGE_TOKEN_INVALID).
        """
        if page_size < 0:
            raise InvalidArgument.for_field("page_size", "must not be negative")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        scope = "\x1f".join([str(tenant), rpc, *(repr(v) for v in filter_values)]).encode()
        after = self.verify(scope, page_token) if page_token else ""
        return PageRequest(size, after, self, scope)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A validated page request: its size and the key to continue after."""

    size: int
    after: str
    _tokens: PageTokens
    _scope: bytes

    def page(self, items: Sequence[T], key: str) -> Page[T]:
        """Return the page for *items* fetched with ``limit = size + 1``.

        *key* names the attribute the list is ordered by.
        """
        shown = items[: self.size]

        def token_after(index: int) -> str:
            return self._tokens.sign(self._scope, str(getattr(shown[index], key)))

        following = token_after(len(shown) - 1) if len(items) > self.size else ""
        return Page(shown, following, token_after)
