"""Audit records and their per-tenant hash chain: canonical encoding, hashing, verification."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GENESIS_HASH",
    "AuditRecord",
    "ChainVerification",
    "ChainVerifier",
    "record_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One append-only audit entry of a tenant."""

    tenant_id: str
    seq: int
    recorded_at: dt.datetime
    actor: str
    actor_tenant_id: str
    target_tenant_id: str
    action: str
    decision: str
    policy_ids: tuple[str, ...]
    correlation_id: str
    request_id: str
    change_summary: Mapping[str, Any]
    break_glass: bool
    prev_hash: str
    hash: str


def _canonical(record: AuditRecord) -> bytes:
    body = {
        "tenant_id": record.tenant_id,
        "seq": record.seq,
        "recorded_at": record.recorded_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": record.actor,
        "actor_tenant_id": record.actor_tenant_id,
        "target_tenant_id": record.target_tenant_id,
        "action": record.action,
        "decision": record.decision,
        "policy_ids": list(record.policy_ids),
        "correlation_id": record.correlation_id,
        "request_id": record.request_id,
        "change_summary": record.change_summary,
        "break_glass": record.break_glass,
        "prev_hash": record.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def record_hash(record: AuditRecord) -> str:
    """Return the hex SHA-256 of *record*'s canonical encoding (its ``hash`` field excluded)."""
    return hashlib.sha256(_canonical(record)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainVerification:
    """The outcome of verifying a tenant's chain; ``first_invalid_seq`` is 0 when valid."""

    valid: bool
    records_checked: int
    first_invalid_seq: int
    last_seq: int
    head_hash: str
    problem: str = ""


class ChainVerifier:
    """Verifies a tenant's records one at a time (constant memory, whatever the length).

    Feed records ordered by seq to ``add()``; it returns False at the first
    broken link, after which ``result()`` says where and why.
    """

    def __init__(self) -> None:
        self._previous_hash = GENESIS_HASH
        self._expected_seq = 1
        self._checked = 0
        self._broken: ChainVerification | None = None

    def _break(self, seq: int, problem: str) -> bool:
        self._broken = ChainVerification(
            False, self._checked, seq, self._expected_seq - 1, self._previous_hash, problem
        )
        return False

    def add(self, record: AuditRecord) -> bool:
        """Check the next record; False once the chain is broken."""
        if self._broken is not None:
            return False
        if record.seq != self._expected_seq:
            return self._break(self._expected_seq, f"seq {self._expected_seq} is missing")
        if record.prev_hash != self._previous_hash:
            return self._break(record.seq, "prev_hash does not link to the previous record")
        if record_hash(record) != record.hash:
            return self._break(record.seq, "hash does not match the record")
        self._checked += 1
        self._previous_hash, self._expected_seq = record.hash, self._expected_seq + 1
        return True

    def result(self, *, expected_last_seq: int) -> ChainVerification:
        """The verification; a chain ending before *expected_last_seq* was truncated."""
        if self._broken is not None:
            return self._broken
        last = self._expected_seq - 1
        if last != expected_last_seq:
            return ChainVerification(
                False,
                self._checked,
                self._expected_seq,
                last,
                self._previous_hash,
                f"chain ends at {last}, tenant is at {expected_last_seq}",
            )
        return ChainVerification(True, self._checked, 0, last, self._previous_hash)


def verify_chain(records: Iterable[AuditRecord], *, expected_last_seq: int) -> ChainVerification:
    """Verify records ordered by seq: 1..N without gaps, linked, each hash correct.

    *expected_last_seq* is the tenant's committed sequence; a chain ending
    before it was truncated.
    """
    verifier = ChainVerifier()
    for record in records:
        if not verifier.add(record):
            break
    return verifier.result(expected_last_seq=expected_last_seq)
