"""The unit of work: gapless commit-ordered seq, audit + outbox per change, chain, idempotency."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import psycopg
import pytest
from conftest import (
    ProvisionedDatabase,
    add_account,
    context,
    create_tenant,
    unique_tenant,
)
from psycopg import errors as pg

from identity_context.adapters.postgres.unit_of_work import PostgresStore
from identity_context.application.idempotency import run_idempotent
from identity_context.application.ports import UnitOfWork
from identity_context.domain.audit import verify_chain
from identity_context.domain.changes import REDACTED, Change, Decision
from identity_context.domain.errors import (
    Aborted,
    AlreadyExists,
    ErrorReason,
    FailedPrecondition,
    NotFound,
)
from identity_context.domain.identifiers import TenantId
from identity_context.domain.tenancy import AccountState, TenantAccount

ALLOW = Decision(True, ("policy:test",))
DISABLE_GUARD = "ALTER TABLE audit_records DISABLE TRIGGER audit_records_no_update_delete"
ENABLE_GUARD = "ALTER TABLE audit_records ENABLE TRIGGER audit_records_no_update_delete"


class Rollback(Exception):
    pass


async def _chain(store: PostgresStore, tenant: TenantId):
    async def read(uow: UnitOfWork):
        tenant_row = await uow.tenants.get()
        assert tenant_row is not None
        return verify_chain(await uow.audit.all(), expected_last_seq=tenant_row.last_seq)

    return await store.run(context(tenant), read, read_only=True)


async def _concurrent_writers(store: PostgresStore, tenant: TenantId) -> tuple[list[int], int]:
    rng = random.Random(16)
    committed: list[int] = []
    rolled_back = 0

    async def writer(index: int) -> None:
        nonlocal rolled_back
        await asyncio.sleep(rng.uniform(0, 0.02))
        fail = rng.random() < 0.25

        async def work(uow: UnitOfWork) -> int:
            await uow.accounts.insert(f"user:w{index}", f"writer {index}", AccountState.ACTIVE)
            recorded = await uow.record(
                Change(
                    "tenant.user.upsert",
                    "tenant_user.created",
                    {"user_id": f"user:w{index}"},
                    ALLOW,
                )
            )
            await asyncio.sleep(rng.uniform(0, 0.01))
            if fail:
                raise Rollback
            return recorded.seq

        try:
            seq = await store.run(context(tenant), work)
        except Rollback:
            rolled_back += 1
        else:
            committed.append(seq)

    await asyncio.gather(*(writer(i) for i in range(16)))
    return committed, rolled_back


async def test_concurrent_writers_get_gapless_commit_ordered_seq(store: PostgresStore) -> None:
    tenant = unique_tenant("order")
    await create_tenant(store, tenant)
    committed, rolled_back = await _concurrent_writers(store, tenant)
    assert rolled_back > 0 and committed
    # Client-observed commit order is the seq order, and seqs are 1..N.
    assert committed == sorted(committed)
    assert committed == list(range(1, len(committed) + 1))

    async def read(uow: UnitOfWork):
        return (
            await uow.tenants.get(),
            await uow.audit.all(),
            await uow.outbox.list(after_seq=0, limit=1000),
            await uow.accounts.list(after="", state=None, limit=1000),
        )

    tenant_row, audit, outbox, accounts = await store.run(context(tenant), read, read_only=True)
    assert tenant_row.last_seq == len(committed)
    assert [r.seq for r in audit] == committed
    assert [e.seq for e in outbox] == committed
    # Exactly the committed changes left rows; rolled-back ones left none.
    written = {r.change_summary["user_id"] for r in audit}
    assert written == {a.user_id for a in accounts}
    assert {e.payload["user_id"] for e in outbox} == written
    assert len(accounts) == 16 - rolled_back
    assert (await _chain(store, tenant)).valid


async def test_audit_record_carries_context_and_redacted_summary(store: PostgresStore) -> None:
    tenant = unique_tenant("audit")
    await create_tenant(store, tenant)

    async def work(uow: UnitOfWork) -> None:
        await uow.record(
            Change(
                "tenant.profile.set",
                "profile_values.set",
                {
                    "user_id": "user:alice",
                    "profile_values": {"locale": "de", "ssn": "078-05-1120"},
                    "password_hint": "my dog",
                    "reason": "her ssn is 078-05-1120",
                },
                Decision(True, ("tenant-admin", "permit-profile")),
                sensitive_values=frozenset({"078-05-1120"}),
            )
        )

    ctx = context(tenant, actor="user:carol", request_id="req-1", correlation_id="corr-77")
    await store.run(ctx, work)

    async def read(uow: UnitOfWork):
        return await uow.audit.all(), await uow.outbox.list(after_seq=0, limit=10)

    audit, outbox = await store.run(context(tenant), read, read_only=True)
    record = audit[-1]
    assert (record.actor, record.actor_tenant_id, record.target_tenant_id) == (
        "user:carol",
        str(tenant),
        str(tenant),
    )
    assert record.policy_ids == ("tenant-admin", "permit-profile")
    assert (record.correlation_id, record.request_id, record.decision) == (
        "corr-77",
        "req-1",
        "allow",
    )
    assert record.change_summary == {
        "user_id": "user:alice",
        "profile_values": {"locale": "de", "ssn": REDACTED},
        "password_hint": REDACTED,
        "reason": "her ssn is [REDACTED]",
    }
    event = outbox[-1]
    assert event.payload == record.change_summary
    assert (event.correlation_id, event.actor_tenant_id, event.target_tenant_id) == (
        "corr-77",
        str(tenant),
        str(tenant),
    )
    assert "078-05-1120" not in repr(record.change_summary)


async def test_audit_chain_breaks_at_an_altered_row(
    store: PostgresStore, database: ProvisionedDatabase
) -> None:
    tenant = unique_tenant("chain")
    await create_tenant(store, tenant)
    for index in range(5):
        await add_account(store, tenant, f"user:c{index}")
    assert (await _chain(store, tenant)).valid
    async with await psycopg.AsyncConnection.connect(database.migration_url) as owner:
        await owner.execute(DISABLE_GUARD)
        await owner.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant),))
        changed = await owner.execute(
            "UPDATE audit_records SET actor = 'user:mallory' WHERE tenant_id = %s AND seq = 3",
            (str(tenant),),
        )
        assert changed.rowcount == 1
        await owner.execute(ENABLE_GUARD)
        await owner.commit()
    verdict = await _chain(store, tenant)
    assert not verdict.valid and verdict.first_invalid_seq == 3


async def test_audit_chain_detects_a_deleted_tail(
    store: PostgresStore, database: ProvisionedDatabase
) -> None:
    tenant = unique_tenant("tail")
    await create_tenant(store, tenant)
    for index in range(3):
        await add_account(store, tenant, f"user:t{index}")
    async with await psycopg.AsyncConnection.connect(database.migration_url) as owner:
        await owner.execute(DISABLE_GUARD)
        await owner.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant),))
        await owner.execute(
            "DELETE FROM audit_records WHERE tenant_id = %s AND seq = 3", (str(tenant),)
        )
        await owner.execute(ENABLE_GUARD)
        await owner.commit()
    verdict = await _chain(store, tenant)
    assert not verdict.valid and verdict.first_invalid_seq == 3


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_records SET actor = 'user:mallory' WHERE tenant_id = %s",
        "DELETE FROM audit_records WHERE tenant_id = %s",
    ],
)
async def test_runtime_role_cannot_update_or_delete_audit_records(
    store: PostgresStore, database: ProvisionedDatabase, statement: str
) -> None:
    tenant = unique_tenant("append")
    await create_tenant(store, tenant)
    await add_account(store, tenant, "user:a")
    async with await psycopg.AsyncConnection.connect(database.runtime_url) as conn:
        await conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant),))
        with pytest.raises(pg.InsufficientPrivilege):
            await conn.execute(statement, (str(tenant),))


async def test_trigger_refuses_audit_changes_even_with_the_privilege(
    store: PostgresStore, database: ProvisionedDatabase
) -> None:
    tenant = unique_tenant("trig")
    await create_tenant(store, tenant)
    await add_account(store, tenant, "user:a")
    async with await psycopg.AsyncConnection.connect(database.migration_url) as owner:
        await owner.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant),))
        with pytest.raises(pg.InsufficientPrivilege, match="append-only"):
            await owner.execute("DELETE FROM audit_records WHERE tenant_id = %s", (str(tenant),))


async def test_leaving_without_commit_writes_nothing(store: PostgresStore) -> None:
    tenant = unique_tenant("rollback")
    await create_tenant(store, tenant)
    async with store.unit_of_work(context(tenant)) as uow:
        await uow.accounts.insert("user:ghost", "", AccountState.ACTIVE)
        await uow.record(
            Change("tenant.user.upsert", "tenant_user.created", {"user_id": "user:ghost"}, ALLOW)
        )

    async def read(uow: UnitOfWork):
        return (
            await uow.tenants.get(),
            await uow.accounts.get("user:ghost"),
            await uow.audit.all(),
        )

    tenant_row, ghost, audit = await store.run(context(tenant), read, read_only=True)
    assert tenant_row.last_seq == 0 and ghost is None and audit == []


async def test_unique_violation_maps_to_already_exists_and_fk_to_not_found(
    store: PostgresStore,
) -> None:
    tenant = unique_tenant("sqlstate")
    await create_tenant(store, tenant)
    await add_account(store, tenant, "user:dup")
    with pytest.raises(AlreadyExists):
        await add_account(store, tenant, "user:dup")

    async def orphan(uow: UnitOfWork) -> None:
        await uow.connection.execute(  # type: ignore[attr-defined]
            "INSERT INTO group_members (tenant_id, group_id, user_id) VALUES (%s, %s, %s)",
            (str(tenant), f"group:{tenant.slug}/nope", "user:dup"),
        )

    with pytest.raises(NotFound):
        await store.run(context(tenant), orphan)


async def test_missing_tenant_fails_closed(store: PostgresStore) -> None:
    async def work(uow: UnitOfWork) -> None:
        await uow.record(Change("tenant.user.upsert", "tenant_user.created", {}, ALLOW))

    with pytest.raises(NotFound):
        await store.run(context(unique_tenant("ghost")), work)


async def test_serialization_failures_are_retried_then_aborted(store: PostgresStore) -> None:
    tenant = unique_tenant("retry")
    await create_tenant(store, tenant)
    attempts = 0

    async def flaky(uow: UnitOfWork) -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise pg.SerializationFailure("simulated")
        return "done"

    assert await store.run(context(tenant), flaky) == "done" and attempts == 3

    async def always(uow: UnitOfWork) -> None:
        raise pg.DeadlockDetected("simulated")

    with pytest.raises(Aborted):
        await store.run(context(tenant), always)


async def test_pool_exhaustion_is_unavailable(database: ProvisionedDatabase) -> None:
    from psycopg_pool import AsyncConnectionPool

    from identity_context.domain.errors import Unavailable

    pool = AsyncConnectionPool(
        database.runtime_url, min_size=1, max_size=1, timeout=0.3, open=False
    )
    await pool.open(wait=True)
    try:
        store = PostgresStore(pool)
        async with pool.connection():
            with pytest.raises(Unavailable) as raised:
                await store.run(context(unique_tenant()), lambda uow: asyncio.sleep(0))
        assert raised.value.reason is ErrorReason.STORE_UNAVAILABLE
    finally:
        await pool.close()


async def _upsert(
    store: PostgresStore, tenant: TenantId, request_id: str, display_name: str
) -> TenantAccount:
    command = {"user_id": "user:idem", "display_name": display_name}

    async def work(uow: UnitOfWork) -> TenantAccount:
        async def execute() -> TenantAccount:
            account = await uow.accounts.insert("user:idem", display_name, AccountState.INVITED)
            await uow.record(Change("tenant.user.upsert", "tenant_user.created", command, ALLOW))
            return account

        return await run_idempotent(
            uow,
            operation="tenant.user.upsert",
            command=command,
            result_type=TenantAccount,
            execute=execute,
        )

    return await store.run(context(tenant, request_id=request_id), work)


async def test_same_request_id_writes_once_and_returns_the_first_result(
    store: PostgresStore,
) -> None:
    tenant = unique_tenant("idem")
    await create_tenant(store, tenant)
    first = await _upsert(store, tenant, "req-42", "Idem")
    again = await _upsert(store, tenant, "req-42", "Idem")
    assert again == first

    async def read(uow: UnitOfWork) -> Any:
        return (
            await uow.tenants.get(),
            await uow.audit.all(),
            await uow.outbox.list(after_seq=0, limit=10),
        )

    tenant_row, audit, outbox = await store.run(context(tenant), read, read_only=True)
    assert tenant_row.last_seq == 1 and len(audit) == 1 and len(outbox) == 1


async def test_same_request_id_with_a_different_request_is_refused(store: PostgresStore) -> None:
    tenant = unique_tenant("idem")
    await create_tenant(store, tenant)
    await _upsert(store, tenant, "req-43", "First")
    with pytest.raises(FailedPrecondition) as raised:
        await _upsert(store, tenant, "req-43", "Different")
    assert raised.value.reason is ErrorReason.IDEMPOTENCY_KEY_REUSED


async def test_concurrent_duplicates_of_one_request_id_write_once(store: PostgresStore) -> None:
    tenant = unique_tenant("idem")
    await create_tenant(store, tenant)
    results = await asyncio.gather(*(_upsert(store, tenant, "req-44", "Same") for _ in range(6)))
    assert len({r.version for r in results}) == 1 and len(set(results)) == 1
