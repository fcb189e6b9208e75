"""Audit records and their per-tenant hash chain: canonical encoding, hashing, verification."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["GENESIS_HASH", "AuditRecord", "ChainVerification", "record_hash", "verify_chain"]

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


def verify_chain(records: Iterable[AuditRecord], *, expected_last_seq: int) -> ChainVerification:
    """Verify records ordered by seq: 1..N without gaps, linked, each hash correct.

    *expected_last_seq* is the tenant's committed sequence; a chain ending
    before it was truncated.
    """
    previous_hash, expected_seq, checked = GENESIS_HASH, 1, 0

    def broken(seq: int, problem: str) -> ChainVerification:
        return ChainVerification(False, checked, seq, expected_seq - 1, previous_hash, problem)

    for record in records:
        if record.seq != expected_seq:
            return broken(expected_seq, f"seq {expected_seq} is missing")
        if record.prev_hash != previous_hash:
            return broken(record.seq, "prev_hash does not link to the previous record")
        if record_hash(record) != record.hash:
            return broken(record.seq, "hash does not match the record")
        checked += 1
        previous_hash, expected_seq = record.hash, expected_seq + 1
    if expected_seq - 1 != expected_last_seq:
        return broken(
            expected_seq, f"chain ends at {expected_seq - 1}, tenant is at {expected_last_seq}"
        )
    return ChainVerification(True, checked, 0, expected_seq - 1, previous_hash)
