"""Redaction of change summaries, the audit hash chain, the idempotency codec."""

from __future__ import annotations

import dataclasses
import datetime as dt

from identity_context.application.idempotency import decode, encode, fingerprint
from identity_context.domain.audit import GENESIS_HASH, AuditRecord, record_hash, verify_chain
from identity_context.domain.changes import REDACTED, redact
from identity_context.domain.identifiers import TenantId
from identity_context.domain.tenancy import AccountState, TenantAccount

T0 = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def test_fields_off_the_allow_list_are_redacted() -> None:
    assert redact({"user_id": "user:a", "password": "hunter2", "token": {"x": 1}}) == {
        "user_id": "user:a",
        "password": REDACTED,
        "token": REDACTED,
    }


def test_sensitive_values_are_redacted_wherever_they_appear() -> None:
    summary = {
        "profile_values": {"ssn": "078", "tags": ["a", "078"]},
        "reason": "078",
        "display_name": "Alice",
    }
    assert redact(summary, {"078"}) == {
        "profile_values": {"ssn": REDACTED, "tags": ["a", REDACTED]},
        "reason": REDACTED,
        "display_name": "Alice",
    }


def test_sensitive_values_are_redacted_inside_free_text_too() -> None:
    summary = {"reason": "her ssn is 078-05-1120, again 078-05-1120", "state": "ok"}
    redacted = redact(summary, {"078-05-1120", "05"})
    assert redacted == {"reason": f"her ssn is {REDACTED}, again {REDACTED}", "state": "ok"}
    assert "078" not in str(redacted)


def _chain(length: int) -> list[AuditRecord]:
    records, previous = [], GENESIS_HASH
    for seq in range(1, length + 1):
        unsigned = AuditRecord(
            "tenant:t-1",
            seq,
            T0 + dt.timedelta(seconds=seq),
            "user:a",
            "tenant:t-1",
            "tenant:t-1",
            "x.y",
            "allow",
            ("p",),
            "c",
            "",
            {"user_id": f"user:{seq}"},
            False,
            previous,
            "",
        )
        record = dataclasses.replace(unsigned, hash=record_hash(unsigned))
        records.append(record)
        previous = record.hash
    return records


def test_an_intact_chain_verifies() -> None:
    verdict = verify_chain(_chain(4), expected_last_seq=4)
    assert verdict.valid and verdict.records_checked == 4 and verdict.last_seq == 4


def test_an_edited_record_fails_at_that_record() -> None:
    records = _chain(4)
    records[1] = dataclasses.replace(records[1], actor="user:mallory")
    verdict = verify_chain(records, expected_last_seq=4)
    assert not verdict.valid and verdict.first_invalid_seq == 2


def test_a_rehashed_record_fails_at_the_next_link() -> None:
    records = _chain(4)
    edited = dataclasses.replace(records[1], actor="user:mallory")
    records[1] = dataclasses.replace(edited, hash=record_hash(edited))
    assert verify_chain(records, expected_last_seq=4).first_invalid_seq == 3


def test_a_gap_or_a_truncated_tail_fails() -> None:
    records = _chain(4)
    assert verify_chain(records[:2] + records[3:], expected_last_seq=4).first_invalid_seq == 3
    assert verify_chain(records[:3], expected_last_seq=4).first_invalid_seq == 4


def test_results_round_trip_through_the_idempotency_codec() -> None:
    account = TenantAccount(TenantId("coulomb"), "user:a", "A", AccountState.ACTIVE, 3, T0, T0)
    assert decode(TenantAccount, encode(account)) == account


def test_fingerprint_ignores_request_id_but_not_content_or_actor() -> None:
    @dataclasses.dataclass(frozen=True)
    class Command:
        user_id: str
        request_id: str

    base = fingerprint("op", "user:a", Command("user:x", "r1"))
    assert base == fingerprint("op", "user:a", Command("user:x", "r2"))
    assert base != fingerprint("op", "user:a", Command("user:y", "r1"))
    assert base != fingerprint("op", "user:b", Command("user:x", "r1"))
    assert base != fingerprint("other", "user:a", Command("user:x", "r1"))
