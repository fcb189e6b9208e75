"""The access-control fact stream end to end through the gRPC API on a real server and database:
snapshot export, gapless watch with signed tokens, NATIVE and FLATTENED modes, derived facts,
continuity, hand-off under concurrent writers, resumption, windows, tokens and authorization."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from identitycontext.v1 import (
    active_context_pb2,
    common_pb2,
    fact_export_pb2,
    fact_export_pb2_grpc,
    membership_pb2,
    tenant_admin_pb2,
)
from support import cli, rich_status, tool
from world import Caller, World, onboard

from identity_context.api.mappers import fact_pb
from identity_context.domain.facts import Fact, FactSource

AC, MS, TA = "ActiveContextService", "MembershipService", "TenantAdminService"
ac, mb, ta, fx = active_context_pb2, membership_pb2, tenant_admin_pb2, fact_export_pb2
PLATFORM = "tenant:platform"
NATIVE, FLATTENED = fx.EXPORT_MODE_NATIVE, fx.EXPORT_MODE_FLATTENED
WRITE, DELETE = fx.FACT_OPERATION_WRITE, fx.FACT_OPERATION_DELETE
Key = tuple[str, str, str]


def _metadata(caller: Caller, tenant: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {caller.token}"), ("x-tenant-id", tenant)]


def _stub(caller: Caller) -> fact_export_pb2_grpc.FactExportServiceStub:
    return fact_export_pb2_grpc.FactExportServiceStub(caller.channel)


def _key(fact: common_pb2.AccessControlFact) -> Key:
    return (fact.subject, fact.relation, fact.object)


def _ts(delta_s: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delta_s))
    return stamp


class GapError(AssertionError):
    """A watch message does not continue where the previous one ended."""


@dataclass
class Materialized:
    """A consumer's copy of the facts: export, then apply the watch, checking continuity."""

    facts: dict[Key, common_pb2.AccessControlFact] = field(default_factory=dict)
    position: tuple[int, int] = (0, 0)
    token: str = ""
    seen: set[tuple[int, int]] = field(default_factory=set)
    messages: int = 0

    def apply(self, message: fx.WatchFactsResponse) -> None:
        previous = (message.previous.seq, message.previous.change)
        if previous != self.position:
            raise GapError(f"message covers from {previous}, the stream was at {self.position}")
        if message.HasField("change"):
            change = message.change
            where = (change.seq, change.change)
            assert where not in self.seen, f"change {where} delivered twice"
            self.seen.add(where)
            if change.operation == WRITE:
                self.facts[_key(change.fact)] = change.fact
            else:
                assert change.operation == DELETE
                self.facts.pop(_key(change.fact), None)
        self.position = (message.position.seq, message.position.change)
        self.token = message.facts_token
        self.messages += 1


@dataclass
class Feed:
    """A tenant of its own, with scopes, a group, a hat profile and the stream's callers."""

    world: World
    tenant: str
    admin: Caller
    realm: str
    area: str
    asset: str
    group: str
    profile: str
    consumer: Caller  # `fact-consumer` on tenant:platform
    users: list[str]

    async def export(
        self,
        mode: int,
        *,
        by: Caller | None = None,
        batch_size: int = 0,
        relations: list[str] | None = None,
    ) -> tuple[dict[Key, common_pb2.AccessControlFact], str, list[fx.ExportFactsResponse]]:
        caller = by or self.consumer
        request = fx.ExportFactsRequest(
            mode=mode,
            batch_size=batch_size,
            filter=fx.FactFilter(relations=relations or []),
        )
        messages = [
            m
            async for m in _stub(caller).ExportFacts(
                request, metadata=_metadata(caller, self.tenant), timeout=30
            )
        ]
        facts: dict[Key, common_pb2.AccessControlFact] = {}
        for message in messages:
            for fact in message.facts:
                assert _key(fact) not in facts, "a fact exported twice"
                facts[_key(fact)] = fact
        assert messages[-1].last and not any(m.last for m in messages[:-1])
        assert len({m.facts_token for m in messages}) == 1
        return facts, messages[-1].facts_token, messages

    def watch(
        self, mode: int, token: str, *, by: Caller | None = None, heartbeat_s: int = 1
    ) -> Any:
        caller = by or self.consumer
        return _stub(caller).WatchFacts(
            fx.WatchFactsRequest(
                mode=mode,
                facts_token=token,
                heartbeat_interval=duration_pb2.Duration(seconds=heartbeat_s),
            ),
            metadata=_metadata(caller, self.tenant),
        )

    async def head(self, mode: int) -> int:
        reply = await _stub(self.consumer).GetFactsToken(
            fx.GetFactsTokenRequest(mode=mode), metadata=_metadata(self.consumer, self.tenant)
        )
        return int(reply.seq)

    async def grant(self, subject: str, relation: str, obj: str, **window: Any) -> str:
        reply = await self.admin.call(
            MS,
            "GrantMembership",
            mb.GrantMembershipRequest(subject=subject, relation=relation, object=obj, **window),
            tenant=self.tenant,
        )
        return str(reply.membership.membership_id)

    async def revoke(self, membership_id: str) -> None:
        await self.admin.call(
            MS,
            "RevokeMembership",
            mb.RevokeMembershipRequest(membership_id=membership_id, reason="test"),
            tenant=self.tenant,
        )

    async def join(self, user: str, group: str | None = None) -> None:
        await self.admin.call(
            MS,
            "AddGroupMember",
            mb.AddGroupMemberRequest(group_id=group or self.group, user_id=user),
            tenant=self.tenant,
        )

    async def leave(self, user: str, group: str | None = None) -> None:
        await self.admin.call(
            MS,
            "RemoveGroupMember",
            mb.RemoveGroupMemberRequest(group_id=group or self.group, user_id=user),
            tenant=self.tenant,
        )

    async def wear(self, user: str, scope: str) -> None:
        await self.world.caller(user, self.tenant).call(
            AC,
            "SelectActiveHat",
            ac.SelectActiveHatRequest(user_id=user, hat_id=f"{self.profile}@{scope}"),
            tenant=self.tenant,
        )

    async def take_off(self, user: str) -> None:
        await self.world.caller(user, self.tenant).call(
            AC, "ClearActiveHat", ac.ClearActiveHatRequest(user_id=user), tenant=self.tenant
        )


async def _feed(world: World, *, users: int = 4) -> Feed:
    tag = secrets.token_hex(3)
    tenant, admin_id = f"tenant:facts-{tag}", f"user:fadmin-{tag}"
    await onboard(world.operator, tenant, admin_id)
    admin = world.caller(admin_id, tenant)
    slug = tenant.split(":", 1)[1]
    realm, area = f"realm:{slug}/r", f"service:{slug}/r/app"
    asset, group = f"asset:{slug}/r/app/db", f"group:{slug}/ops"
    await admin.call(MS, "CreateScope", mb.CreateScopeRequest(scope_id=realm), tenant=tenant)
    await admin.call(
        MS,
        "CreateScope",
        mb.CreateScopeRequest(scope_id=area, parent_scope_id=realm),
        tenant=tenant,
    )
    await admin.call(
        MS,
        "CreateScope",
        mb.CreateScopeRequest(scope_id=asset, parent_scope_id=area),
        tenant=tenant,
    )
    await admin.call(MS, "CreateGroup", mb.CreateGroupRequest(group_id=group), tenant=tenant)
    profile = f"profile:{slug}/editor"
    await admin.call(
        AC,
        "CreateAccessProfile",
        ac.CreateAccessProfileRequest(
            access_profile=ac.AccessProfile(
                access_profile_id=profile,
                display_name="Editor",
                scope_kinds=[mb.SCOPE_KIND_REALM, mb.SCOPE_KIND_SERVICE_AREA, mb.SCOPE_KIND_ASSET],
                membership_requirements=[ac.MembershipRequirement(relation="editor")],
            )
        ),
        tenant=tenant,
    )
    consumer_id = f"service:facts-{tag}"
    await world.operator.call(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(subject=consumer_id, relation="fact-consumer", object=PLATFORM),
        tenant=PLATFORM,
    )
    names = []
    for index in range(users):
        user = f"user:f{index}-{tag}"
        await admin.call(
            TA,
            "UpsertTenantUser",
            ta.UpsertTenantUserRequest(user_id=user, initial_state=common_pb2.ACCOUNT_STATE_ACTIVE),
            tenant=tenant,
        )
        names.append(user)
    return Feed(
        world,
        tenant,
        admin,
        realm,
        area,
        asset,
        group,
        profile,
        world.caller(consumer_id, PLATFORM),
        names,
    )


@pytest.fixture
async def feed(world: World) -> Feed:
    return await _feed(world)


async def _fails(stream: Any) -> tuple[grpc.StatusCode, str]:
    try:
        async for _ in stream:
            pass
    except grpc.aio.AioRpcError as error:
        info, _ = rich_status(error)
        return error.code(), info.reason if info else ""
    raise AssertionError("the stream unexpectedly ended without an error")


async def _until(materialized: Materialized, stream: Any, head: int) -> None:
    """Apply messages until the consumer is at the boundary of *head*."""
    async with asyncio.timeout(30):
        while (message := await stream.read()) is not grpc.aio.EOF:
            materialized.apply(message)
            if materialized.position == (head, 0) or (
                materialized.position[0] > head and message.HasField("heartbeat")
            ):
                return


# ---- export contents ------------------------------------------------------------------


async def test_export_carries_direct_group_hat_and_scope_facts_in_both_modes(feed: Feed) -> None:
    ann, bob = feed.users[:2]
    await feed.grant(ann, "editor", feed.realm)
    await feed.grant(feed.group, "viewer", feed.area)
    await feed.grant(feed.group, "editor", feed.realm)  # bob: through the group only
    await feed.join(ann)
    await feed.join(bob)
    await feed.wear(ann, feed.asset)

    native, _, _ = await feed.export(NATIVE)
    assert native[(ann, "editor", feed.realm)].source == common_pb2.FACT_SOURCE_DIRECT
    assert (f"{feed.group}#member", "viewer", feed.area) in native
    assert native[(bob, "member", feed.group)].source == common_pb2.FACT_SOURCE_GROUP
    assert (bob, "viewer", feed.area) not in native  # NATIVE keeps the userset
    hat = native[(ann, "wears", feed.asset)]
    assert hat.source == common_pb2.FACT_SOURCE_ACTIVE_CONTEXT
    assert hat.access_profile == feed.profile and hat.HasField("valid_from")
    scope = native[(feed.area, "parent", feed.asset)]
    assert scope.source == common_pb2.FACT_SOURCE_SCOPE
    assert (feed.tenant, "parent", feed.realm) in native
    # the tenant admin's own membership is a fact on the tenant itself
    assert any(k[1] == "tenant-admin" and k[2] == feed.tenant for k in native)

    flat, _, _ = await feed.export(FLATTENED)
    assert (f"{feed.group}#member", "viewer", feed.area) not in flat
    both = flat[(ann, "editor", feed.realm)]  # direct and through the group: one fact
    assert both.source == common_pb2.FACT_SOURCE_DIRECT
    assert list(both.via_groups) == [feed.group] and both.via == feed.group
    only_group = flat[(bob, "editor", feed.realm)]
    assert only_group.source == common_pb2.FACT_SOURCE_GROUP
    assert list(only_group.via_groups) == [feed.group]
    assert (bob, "viewer", feed.area) in flat and (ann, "wears", feed.asset) in flat
    # filters narrow the export
    editors, _, _ = await feed.export(FLATTENED, relations=["editor"])
    assert editors and all(k[1] == "editor" for k in editors)
    assert set(editors) == {k for k in flat if k[1] == "editor"}


async def test_export_batches_are_bounded_and_the_last_says_so(feed: Feed) -> None:
    for index, user in enumerate(feed.users):
        await feed.grant(user, f"role-{index}", feed.realm)
    full, token, _ = await feed.export(NATIVE)
    batched, token2, messages = await feed.export(NATIVE, batch_size=2)
    assert batched == full and token2 == token
    assert all(len(m.facts) <= 2 for m in messages) and len(messages) >= len(full) // 2
    for bad in (-1, 5001):
        code, _ = await _fails(
            _stub(feed.consumer).ExportFacts(
                fx.ExportFactsRequest(batch_size=bad),
                metadata=_metadata(feed.consumer, feed.tenant),
            )
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT


# ---- watch: derived changes, continuity --------------------------------------------------


async def test_watch_delivers_derived_changes_in_order(feed: Feed) -> None:
    ann, bob = feed.users[:2]
    await feed.join(bob)
    _, token, _ = await feed.export(FLATTENED)
    stream = feed.watch(FLATTENED, token)
    seen: list[fx.WatchFactsResponse] = []
    try:
        grant = await feed.grant(feed.group, "editor", feed.realm)
        await feed.join(ann)
        await feed.wear(ann, feed.area)
        await feed.wear(ann, feed.asset)  # replacing the hat: delete and write
        await feed.revoke(grant)  # ann's hat loses its ground: it ends in the same change
        head = await feed.head(FLATTENED)
        async with asyncio.timeout(30):
            async for message in stream:
                seen.append(message)
                if message.position.seq >= head and message.position.change == 0:
                    break
    finally:
        stream.cancel()
    changes = [(m.change.operation, _key(m.change.fact)) for m in seen if m.HasField("change")]
    assert (WRITE, (bob, "editor", feed.realm)) in changes  # group grant, expanded
    assert (WRITE, (ann, "member", feed.group)) in changes
    assert (WRITE, (ann, "wears", feed.area)) in changes
    assert changes.index((DELETE, (ann, "wears", feed.area))) < changes.index(
        (WRITE, (ann, "wears", feed.asset))
    )
    assert (DELETE, (bob, "editor", feed.realm)) in changes  # revoked: expanded deletes
    assert (DELETE, (ann, "wears", feed.asset)) in changes  # the hat ended with its ground
    seqs = [m.change.seq for m in seen if m.HasField("change")]
    assert seqs == sorted(seqs)
    # continuity holds over the whole stream, from the export's token on
    materialized = Materialized()
    materialized.position = (seen[0].previous.seq, seen[0].previous.change)
    for message in seen:
        materialized.apply(message)


async def test_a_dropped_message_is_detected_from_the_messages_alone(feed: Feed) -> None:
    _, token, _ = await feed.export(NATIVE)
    stream = feed.watch(NATIVE, token)
    received: list[fx.WatchFactsResponse] = []
    try:
        for user in feed.users:
            await feed.grant(user, "viewer", feed.realm)
        head = await feed.head(NATIVE)
        async with asyncio.timeout(30):
            async for message in stream:
                received.append(message)
                if message.position.seq >= head and message.position.change == 0:
                    break
    finally:
        stream.cancel()
    changes = [i for i, m in enumerate(received) if m.HasField("change")]
    assert len(changes) >= 4
    intact = Materialized(position=(received[0].previous.seq, received[0].previous.change))
    for message in received:
        intact.apply(message)
    dropped = received[: changes[1]] + received[changes[1] + 1 :]
    broken = Materialized(position=(received[0].previous.seq, received[0].previous.change))
    with pytest.raises(GapError):
        for message in dropped:
            broken.apply(message)


# ---- hand-off under concurrent writers -----------------------------------------------------


async def _writer(feed: Feed, rng: random.Random, rounds: int) -> None:
    scopes = [feed.realm, feed.area, feed.asset]
    granted: list[str] = []
    for _ in range(rounds):
        user = rng.choice(feed.users)
        action = rng.randrange(6)
        try:
            if action == 0:
                granted.append(
                    await feed.grant(rng.choice([user, feed.group]), "editor", rng.choice(scopes))
                )
            elif action == 1 and granted:
                await feed.revoke(granted.pop(rng.randrange(len(granted))))
            elif action == 2:
                await feed.join(user)
            elif action == 3:
                await feed.leave(user)
            elif action == 4:
                await feed.wear(user, rng.choice(scopes))
            else:
                await feed.take_off(user)
        except grpc.aio.AioRpcError as error:  # already there / not there / not eligible
            assert error.code() in {
                grpc.StatusCode.ALREADY_EXISTS,
                grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.FAILED_PRECONDITION,
                grpc.StatusCode.PERMISSION_DENIED,
            }, error


@pytest.mark.parametrize("mode", [NATIVE, FLATTENED], ids=["native", "flattened"])
async def test_export_then_watch_under_eight_writers_equals_a_fresh_export(
    world: World, mode: int
) -> None:
    feed = await _feed(world, users=6)
    await feed.grant(feed.group, "viewer", feed.realm)
    writers = [asyncio.create_task(_writer(feed, random.Random(seed), 12)) for seed in range(8)]
    await asyncio.sleep(0.2)  # the export's snapshot falls in the middle of the writes
    facts, token, _ = await feed.export(mode, batch_size=3)
    materialized = Materialized(facts=dict(facts))
    stream = feed.watch(mode, token)
    first = await stream.read()
    materialized.position = (first.previous.seq, first.previous.change)
    materialized.apply(first)
    try:
        await asyncio.gather(*writers)
        head = await feed.head(mode)
        await _until(materialized, stream, head)
    finally:
        stream.cancel()
    fresh, _, _ = await feed.export(mode)
    assert materialized.facts == fresh
    assert materialized.seen, "the writers changed facts during the watch"


async def test_watch_resumes_from_the_last_token_and_export_from_its_cursor(feed: Feed) -> None:
    _, token, _ = await feed.export(FLATTENED)
    materialized = Materialized(facts=dict((await feed.export(FLATTENED))[0]))
    materialized.position = (0, 0)
    await feed.grant(feed.group, "editor", feed.realm)
    for user in feed.users:
        await feed.join(user)
    stream = feed.watch(FLATTENED, token)
    first = await stream.read()
    materialized.position = (first.previous.seq, first.previous.change)
    materialized.apply(first)
    for _ in range(2):
        materialized.apply(await stream.read())
    stream.cancel()  # killed mid-way (inside a commit's changes)
    for user in feed.users[:2]:
        await feed.leave(user)
    head = await feed.head(FLATTENED)
    resumed = feed.watch(FLATTENED, materialized.token)
    try:
        await _until(materialized, resumed, head)
    finally:
        resumed.cancel()
    fresh, _, _ = await feed.export(FLATTENED)
    assert materialized.facts == fresh

    # an export interrupted after its first batch continues at the same snapshot
    request = fx.ExportFactsRequest(mode=FLATTENED, batch_size=2)
    call = _stub(feed.consumer).ExportFacts(request, metadata=_metadata(feed.consumer, feed.tenant))
    first_batch = await call.read()
    call.cancel()
    await feed.grant(feed.users[0], "late", feed.realm)  # after the snapshot: not exported
    rest = [
        m
        async for m in _stub(feed.consumer).ExportFacts(
            fx.ExportFactsRequest(
                mode=FLATTENED, batch_size=2, resume_cursor=first_batch.resume_cursor
            ),
            metadata=_metadata(feed.consumer, feed.tenant),
        )
    ]
    keys = [_key(f) for m in [first_batch, *rest] for f in m.facts]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(fresh) and rest[-1].last
    assert all(m.facts_token == first_batch.facts_token for m in rest)


# ---- windows -----------------------------------------------------------------------------


async def test_windows_that_open_and_close_later_become_changes_then(feed: Feed) -> None:
    ann, bob = feed.users[:2]
    _, token, _ = await feed.export(NATIVE)
    await feed.grant(ann, "oncall", feed.realm, valid_from=_ts(2))
    await feed.grant(bob, "oncall", feed.realm, valid_until=_ts(2))
    stream = feed.watch(NATIVE, token)
    events: list[tuple[int, Key]] = []
    try:
        async with asyncio.timeout(20):
            async for message in stream:
                if message.HasField("change"):
                    events.append((message.change.operation, _key(message.change.fact)))
                if (DELETE, (bob, "oncall", feed.realm)) in events and (
                    WRITE,
                    (ann, "oncall", feed.realm),
                ) in events:
                    break
    finally:
        stream.cancel()
    assert events.index((WRITE, (bob, "oncall", feed.realm))) < events.index(
        (DELETE, (bob, "oncall", feed.realm))
    )
    facts, _, _ = await feed.export(NATIVE)
    assert (ann, "oncall", feed.realm) in facts and (bob, "oncall", feed.realm) not in facts


# ---- tokens --------------------------------------------------------------------------------


async def test_tokens_are_bound_to_tenant_mode_and_filter(feed: Feed, world: World) -> None:
    _, token, _ = await feed.export(NATIVE)
    body, _, mac = token.partition(".")
    tampered = body[:-1] + ("A" if body[-1] != "A" else "B") + "." + mac
    for bad, mode, relations in (
        (tampered, NATIVE, []),
        ("not-a-token", NATIVE, []),
        (token, FLATTENED, []),
        (token, NATIVE, ["editor"]),
    ):
        call = _stub(feed.consumer).WatchFacts(
            fx.WatchFactsRequest(
                facts_token=bad, mode=mode, filter=fx.FactFilter(relations=relations)
            ),
            metadata=_metadata(feed.consumer, feed.tenant),
        )
        assert await _fails(call) == (grpc.StatusCode.INVALID_ARGUMENT, "FACTS_TOKEN_INVALID")
    other = await _feed(world, users=0)
    call = _stub(feed.consumer).WatchFacts(
        fx.WatchFactsRequest(facts_token=token, mode=NATIVE),
        metadata=_metadata(feed.consumer, other.tenant),
    )
    assert await _fails(call) == (grpc.StatusCode.INVALID_ARGUMENT, "FACTS_TOKEN_INVALID")


# ---- who may consume ---------------------------------------------------------------------


async def test_only_fact_consumers_and_the_tenants_own_admins_may_consume(
    feed: Feed, world: World
) -> None:
    other = await _feed(world, users=1)
    # the tenant's own admin: allowed
    facts, token, _ = await feed.export(NATIVE, by=feed.admin)
    assert facts
    stream = feed.watch(NATIVE, token, by=feed.admin)
    first = await stream.read()
    assert first.HasField("heartbeat")
    stream.cancel()
    # another tenant's admin, a plain user, a gateway: denied, for export, watch and token
    gateway = f"service:gw-{secrets.token_hex(3)}"
    await world.operator.call(
        MS,
        "GrantMembership",
        mb.GrantMembershipRequest(subject=gateway, relation="gateway", object=PLATFORM),
        tenant=PLATFORM,
    )
    for intruder in (
        other.admin,
        world.caller(feed.users[0], feed.tenant),
        world.caller(gateway, PLATFORM),
    ):
        call = _stub(intruder).ExportFacts(
            fx.ExportFactsRequest(), metadata=_metadata(intruder, feed.tenant)
        )
        code, _ = await _fails(call)
        assert code == grpc.StatusCode.PERMISSION_DENIED
        call = _stub(intruder).WatchFacts(
            fx.WatchFactsRequest(facts_token=token), metadata=_metadata(intruder, feed.tenant)
        )
        code, _ = await _fails(call)
        assert code in {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT}
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await _stub(intruder).GetFactsToken(
                fx.GetFactsTokenRequest(), metadata=_metadata(intruder, feed.tenant)
            )
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # the fact consumer reads every tenant
    other_facts, _, _ = await feed.export(NATIVE, by=feed.consumer)
    assert other_facts
    theirs = [
        m
        async for m in _stub(feed.consumer).ExportFacts(
            fx.ExportFactsRequest(), metadata=_metadata(feed.consumer, other.tenant)
        )
    ]
    assert theirs[-1].last


async def test_too_many_streams_for_one_tenant_is_resource_exhausted(feed: Feed) -> None:
    _, token, _ = await feed.export(NATIVE)
    streams = [feed.watch(NATIVE, token) for _ in range(8)]
    try:
        for stream in streams:
            assert (await stream.read()).HasField("heartbeat")
        code, _ = await _fails(feed.watch(NATIVE, token))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        for stream in streams:
            stream.cancel()
    await asyncio.sleep(0.2)
    again = feed.watch(NATIVE, token)
    assert (await again.read()).HasField("heartbeat")
    again.cancel()


# ---- retention, stream limits and shutdown (a server and database of their own) -----------


@dataclass
class Short:
    """A server with a 1 s retention and 3 s streams, on a database of its own."""

    running: Any
    world: World
    feed: Feed


@pytest.fixture(scope="module")
async def short(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from conftest import make_database, start_service
    from world import build_world

    from identity_context.config import Settings

    database = await make_database(pg_admin_url)
    settings = Settings(
        listen="127.0.0.1:0",
        data_dir=tmp_path_factory.mktemp("short"),
        database_url=database.runtime_url,
        migration_database_url=database.migration_url,
        shutdown_grace_s=1.0,
        shutdown_pause_s=0,
        fact_retention_s=1.0,
        fact_job_s=0.1,
        fact_stream_max_s=3.0,
        export_resume_s=0.5,
    )
    running = await start_service(settings)
    try:
        world = await build_world(settings, running.address)
        yield Short(running, world, await _feed(world, users=2))
        await world.channel.close()
    finally:
        await running.service.stop()


async def test_a_token_older_than_the_retained_changes_is_expired(short: Short) -> None:
    feed = short.feed
    _, token, _ = await feed.export(NATIVE)
    await feed.grant(feed.users[0], "viewer", feed.realm)  # a change after the token
    for _ in range(100):  # until the pruning job (every 0.25 s here) passed the token
        await asyncio.sleep(0.1)
        stream = feed.watch(NATIVE, token)
        try:
            message = await stream.read()
        except grpc.aio.AioRpcError as error:
            info, _ = rich_status(error)
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert info is not None and info.reason == "TOKEN_EXPIRED"
            break
        finally:
            stream.cancel()
        assert message.HasField("change")  # still retained: delivered
    else:
        raise AssertionError("the token never expired")
    # a fresh export's token is good again
    _, fresh, _ = await feed.export(NATIVE)
    stream = feed.watch(NATIVE, fresh)
    assert (await stream.read()).HasField("heartbeat")
    stream.cancel()


async def test_a_cursor_whose_snapshot_is_gone_asks_for_a_restart(short: Short) -> None:
    feed = short.feed
    _, _, messages = await feed.export(NATIVE, batch_size=1)
    assert len(messages) > 2
    resumed = _stub(feed.consumer).ExportFacts(
        fx.ExportFactsRequest(mode=NATIVE, batch_size=1, resume_cursor=messages[0].resume_cursor),
        metadata=_metadata(feed.consumer, feed.tenant),
    )
    assert [_key(f) for m in [messages[0], *[m async for m in resumed]] for f in m.facts] == [
        _key(f) for m in messages for f in m.facts
    ]  # within the resume window (0.5 s here): the same snapshot
    await asyncio.sleep(1.5)  # the window passed: the snapshot is gone
    code, reason = await _fails(
        _stub(feed.consumer).ExportFacts(
            fx.ExportFactsRequest(
                mode=NATIVE, batch_size=1, resume_cursor=messages[0].resume_cursor
            ),
            metadata=_metadata(feed.consumer, feed.tenant),
        )
    )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "EXPORT_RESTART_REQUIRED")


async def test_a_stream_ends_at_its_maximum_duration_after_a_last_heartbeat(short: Short) -> None:
    feed = short.feed
    _, token, _ = await feed.export(NATIVE)
    stream = feed.watch(NATIVE, token)
    last: fx.WatchFactsResponse | None = None
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        async with asyncio.timeout(20):
            while (message := await stream.read()) is not grpc.aio.EOF:
                last = message
    assert ended.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert last is not None and last.HasField("heartbeat") and last.facts_token


async def test_shutdown_ends_watches_with_the_last_token(
    pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from conftest import make_database, start_service
    from world import build_world

    from identity_context.config import Settings

    database = await make_database(pg_admin_url)
    settings = Settings(
        listen="127.0.0.1:0",
        data_dir=tmp_path_factory.mktemp("shutdown"),
        database_url=database.runtime_url,
        migration_database_url=database.migration_url,
        shutdown_grace_s=5.0,
        shutdown_pause_s=0,
    )
    running = await start_service(settings)
    stopping = None
    try:
        world = await build_world(settings, running.address)
        feed = await _feed(world, users=1)
        _, token, _ = await feed.export(NATIVE)
        stream = feed.watch(NATIVE, token, heartbeat_s=60)
        materialized = Materialized()
        first = await stream.read()
        materialized.position = (first.previous.seq, first.previous.change)
        materialized.apply(first)
        await feed.grant(feed.users[0], "viewer", feed.realm)
        materialized.apply(await stream.read())  # the change
        stopping = asyncio.ensure_future(running.service.stop())
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            async with asyncio.timeout(10):
                while (message := await stream.read()) is not grpc.aio.EOF:
                    materialized.apply(message)
                    assert message.HasField("heartbeat")
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
        assert materialized.messages == 3  # the last heartbeat carries the position
        await stopping
        await world.channel.close()
    finally:
        if stopping is None:
            await running.service.stop()


# ---- the real OpenFGA evaluator ------------------------------------------------------------


def _export_cli(database: Any, tmp_path: Path, *args: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IDENTITY_CONTEXT_")}
    done = subprocess.run(
        [*cli(), "export", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            **clean,
            "IDENTITY_CONTEXT_DATABASE_URL": database.runtime_url,
            "IDENTITY_CONTEXT_DATA_DIR": str(tmp_path / "cli"),
        },
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _expected(
    feed: Feed, users: list[str], scopes: dict[str, str | None]
) -> dict[tuple[str, str, str], bool]:
    """(user, relation, object) -> allowed, from the service's own ListMemberships."""
    memberships = []
    token = ""
    while True:
        page = await feed.admin.call(
            MS,
            "ListMemberships",
            mb.ListMembershipsRequest(
                state=mb.MEMBERSHIP_STATE_ACTIVE, page_size=1000, page_token=token
            ),
            tenant=feed.tenant,
        )
        memberships += list(page.memberships)
        if not (token := page.next_page_token):
            break
    members = await feed.admin.call(
        MS, "ListGroupMembers", mb.ListGroupMembersRequest(group_id=feed.group), tenant=feed.tenant
    )
    in_group = {m.user_id for m in members.group_members}

    def ancestors(obj: str) -> list[str]:
        chain: list[str] = [obj]
        while (parent := scopes.get(chain[-1])) is not None:
            chain.append(parent)
        return chain

    relations = {m.relation for m in memberships}
    expected = {}
    for user in users:
        for obj in scopes:
            for relation in relations:
                expected[(user, relation, obj)] = any(
                    m.relation == relation
                    and m.object in ancestors(obj)
                    and (m.subject == user or (m.subject == feed.group and user in in_group))
                    for m in memberships
                )
    return expected


def _fga_run(
    directory: Path, model: str, tuples: str, expected: dict[tuple[str, str, str], bool]
) -> subprocess.CompletedProcess[str]:
    (directory / "model.fga").write_text(model)
    (directory / "tuples.jsonl").write_text(tuples)
    checks: dict[tuple[str, str], dict[str, bool]] = {}
    for (user, relation, obj), allowed in expected.items():
        checks.setdefault((user, obj), {})[relation] = allowed
    lines = [
        "name: identity-context export",
        "model_file: ./model.fga",
        "tuple_file: ./tuples.jsonl",
        "tests:",
        "  - name: memberships",
        "    check:",
    ]
    for (user, obj), assertions in sorted(checks.items()):
        lines += [f"      - user: {user}", f"        object: {obj}", "        assertions:"]
        lines += [f"          {rel}: {str(ok).lower()}" for rel, ok in sorted(assertions.items())]
    (directory / "facts.fga.yaml").write_text("\n".join(lines) + "\n")
    return subprocess.run(
        [tool("fga"), "model", "test", "--tests", str(directory / "facts.fga.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _fga_test(
    directory: Path, model: str, tuples: str, expected: dict[tuple[str, str, str], bool]
) -> str:
    done = _fga_run(directory, model, tuples, expected)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("mode", ["native", "flattened"])
async def test_an_export_fed_to_the_real_openfga_evaluator_answers_like_the_service(
    feed: Feed, database: Any, tmp_path: Path, mode: str
) -> None:
    ann, bob, cid, dan = feed.users
    await feed.grant(ann, "editor", feed.realm)  # inherited by the area and the asset
    await feed.grant(feed.group, "viewer", feed.area)  # group-held, nested scope
    await feed.grant(cid, "viewer", feed.asset)
    revoked_later = await feed.grant(dan, "editor", feed.area)
    await feed.join(bob)
    await feed.join(cid)
    await feed.wear(ann, feed.area)
    scopes: dict[str, str | None] = {
        feed.tenant: None,
        feed.realm: feed.tenant,
        feed.area: feed.realm,
        feed.asset: feed.area,
    }
    users = feed.users
    model = _export_cli(database, tmp_path, "--tenant", feed.tenant, "--format", "openfga-model")
    tuples = _export_cli(database, tmp_path, "--tenant", feed.tenant, "--mode", mode)
    assert len(tuples.splitlines()) < 10_000
    if mode == "native":
        assert f'"user":"{feed.group}#member"' in tuples
    expected = await _expected(feed, users, scopes)
    # the hat: worn on the area, so on the asset below it, not on the realm above
    expected |= {
        (ann, "wears", feed.area): True,
        (ann, "wears", feed.asset): True,
        (ann, "wears", feed.realm): False,
        (bob, "wears", feed.area): False,
    }
    assert expected[(bob, "viewer", feed.asset)] and not expected[(bob, "viewer", feed.realm)]
    assert expected[(dan, "editor", feed.asset)]
    work = tmp_path / "fga"
    work.mkdir()
    report = _fga_test(work, model, tuples, expected)
    assert f"Checks {len(expected)}/{len(expected)} passing" in report

    # after a revocation, a re-export flips the corresponding checks
    await feed.revoke(revoked_later)
    tuples = _export_cli(database, tmp_path, "--tenant", feed.tenant, "--mode", mode)
    after = await _expected(feed, users, scopes) | {
        k: v for k, v in expected.items() if k[1] == "wears"
    }
    assert not after[(dan, "editor", feed.asset)]
    report = _fga_test(work, model, tuples, after)
    assert f"Checks {len(after)}/{len(after)} passing" in report
    # and the answers before the revocation no longer hold against the new export
    stale = _fga_run(work, model, tuples, expected)
    assert stale.returncode != 0 and "failing" in (stale.stdout + stale.stderr).lower()


async def test_relations_the_stream_derives_cannot_be_granted(feed: Feed) -> None:
    for reserved in ("wears", "parent"):
        code, _ = await feed.admin.fails(
            MS,
            "GrantMembership",
            mb.GrantMembershipRequest(subject=feed.users[0], relation=reserved, object=feed.realm),
            tenant=feed.tenant,
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT
    await feed.grant(feed.users[0], "wearer", feed.realm)  # a look-alike is just a relation


@pytest.mark.parametrize(
    "fact",
    [
        Fact("tenant:acme", "user:a", "editor", "realm:acme/r", FactSource.DIRECT),
        Fact(
            "tenant:acme",
            "user:ünï",
            "viewer",
            "asset:acme/r/s/" + "x" * 200,
            FactSource.GROUP,
            via=("group:acme/a", "group:acme/b"),
            valid_from=dt.datetime(1969, 7, 20, 20, 17, 40, 123456, tzinfo=dt.UTC),
            valid_until=dt.datetime(2999, 1, 1, tzinfo=dt.UTC),
        ),
        Fact(
            "tenant:acme",
            "user:a",
            "wears",
            "tenant:acme",
            FactSource.ACTIVE_CONTEXT,
            evidence_refs=("ev-1", ""),
            access_profile="profile:acme/editor",
            valid_from=dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
            valid_until=dt.datetime(2026, 11, 23, 12, 0, 0, 1, tzinfo=dt.UTC),
        ),
        Fact("tenant:acme", "tenant:acme", "parent", "realm:acme/r", FactSource.SCOPE),
    ],
    ids=["plain", "flattened", "hat", "scope"],
)
async def test_the_database_encodes_a_fact_exactly_as_the_protobuf_runtime(
    admin_conn: Any, fact: Fact
) -> None:
    row = await (
        await admin_conn.execute(
            "SELECT app_pb_fact(%s, %s, %s, %s, %s::smallint, %s::text[], %s::text[], %s, %s, %s)",
            (
                fact.tenant_id,
                fact.subject,
                fact.relation,
                fact.object,
                int(fact.source),
                list(fact.via),
                list(fact.evidence_refs),
                fact.access_profile,
                fact.valid_from,
                fact.valid_until,
            ),
        )
    ).fetchone()
    expected = fx.ExportFactsResponse(facts=[fact_pb(fact)]).SerializeToString()
    assert bytes(row[0]) == expected
