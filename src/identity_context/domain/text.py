"""Free text: length bounds and the characters no free text may hold."""

from __future__ import annotations

import re

from identity_context.domain.errors import InvalidArgument

__all__ = ["MAX_DISPLAY_NAME", "MAX_PROFILE_VALUE", "MAX_REASON", "check_text"]

MAX_DISPLAY_NAME = 200
MAX_REASON = 1000
MAX_PROFILE_VALUE = 4096

# Unicode category Cc (C0, DEL, C1), and the bidirectional overrides and
# isolates, which reorder what a reader sees (spoofing).
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def check_text(value: str, *, field: str, max_length: int) -> str:
    """Return *value* when it is acceptable free text of at most *max_length* characters.

    Control characters (NUL, newlines and the rest of Unicode category Cc) and
    bidirectional overrides are refused. Raise InvalidArgument naming *field*.
    """
    if len(value) > max_length:
        raise InvalidArgument.for_field(field, f"at most {max_length} characters")
    found = _REFUSED.search(value)
    if found is not None:
        raise InvalidArgument.for_field(
            field, f"must not contain control characters (found U+{ord(found.group()):04X})"
        )
    return value
