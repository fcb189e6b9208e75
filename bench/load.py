"""The load generator: a separate process that drives one scenario at one concurrency.

``python -m bench.load`` reads a JSON spec on stdin (address, scenario,
concurrency, duration, warmup, and the scenario's inputs) and prints one JSON
object: calls, errors, elapsed seconds and latency percentiles (ms).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from identitycontext.v1 import (
    active_context_pb2,
    active_context_pb2_grpc,
    membership_pb2,
    membership_pb2_grpc,
    tenant_admin_pb2,
    tenant_admin_pb2_grpc,
)

Call = Callable[[int], Awaitable[Any]]


def _metadata(token: str, tenant: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"), ("x-tenant-id", tenant))


def _hot_path_calls(channel: grpc.aio.Channel, spec: dict[str, Any]) -> Call:
    """A gateway asking for identity contexts or claims of the big tenant's users."""
    contexts = active_context_pb2_grpc.ActiveContextServiceStub(channel)
    md = _metadata(spec["gateway_token"], spec["tenant"])
    users = spec["users"]

    def identity_context(n: int) -> Awaitable[Any]:
        request = active_context_pb2.GetIdentityContextRequest(user_id=users[n % len(users)])
        return contexts.GetIdentityContext(request, metadata=md, timeout=30)

    def project_claims(n: int) -> Awaitable[Any]:
        request = active_context_pb2.ProjectClaimsRequest(
            user_id=users[n % len(users)], audience="service:mail"
        )
        return contexts.ProjectClaims(request, metadata=md, timeout=30)

    return identity_context if spec["scenario"] == "identity_context" else project_claims


def _calls(channel: grpc.aio.Channel, spec: dict[str, Any]) -> Call:
    """Return the coroutine factory for one call of the scenario (argument: a sequence number)."""
    scenario = spec["scenario"]
    if scenario.startswith("floor."):
        path = {
            "floor.echo": "/bench.Floor/Echo",
            "floor.pk_select": "/bench.Floor/PkSelect",
            "floor.insert_commit": "/bench.Floor/InsertCommit",
        }[scenario]
        method = channel.unary_unary(path)
        users = spec.get("users", ["user:u00000"])
        tenant = spec.get("tenant", "")

        def floor(n: int) -> Awaitable[Any]:
            if scenario == "floor.pk_select":
                body = f"{tenant} {users[n % len(users)]}".encode()
            elif scenario == "floor.insert_commit":
                body = f"w{n}".encode()
            else:
                body = b"x" * 64
            return method(body, timeout=30)

        return floor
    admin = tenant_admin_pb2_grpc.TenantAdminServiceStub(channel)
    members = membership_pb2_grpc.MembershipServiceStub(channel)
    tenant = spec["tenant"]
    if scenario == "get_tenant_user.admin":
        md = _metadata(spec["admin_token"], tenant)
        users = spec["users"]

        def get_admin(n: int) -> Awaitable[Any]:
            request = tenant_admin_pb2.GetTenantUserRequest(user_id=users[n % len(users)])
            return admin.GetTenantUser(request, metadata=md, timeout=30)

        return get_admin
    if scenario == "get_tenant_user.self":
        selves = [(user, _metadata(token, tenant)) for user, token in spec["self_tokens"]]

        def get_self(n: int) -> Awaitable[Any]:
            user, md = selves[n % len(selves)]
            request = tenant_admin_pb2.GetTenantUserRequest(user_id=user)
            return admin.GetTenantUser(request, metadata=md, timeout=30)

        return get_self
    if scenario == "list_memberships":
        md = _metadata(spec["admin_token"], tenant)
        request = membership_pb2.ListMembershipsRequest(page_size=50)

        def list_page(n: int) -> Awaitable[Any]:
            return members.ListMemberships(request, metadata=md, timeout=30)

        return list_page
    if scenario in ("identity_context", "project_claims"):
        return _hot_path_calls(channel, spec)
    if scenario in ("grant.one_tenant", "grant.spread"):
        # A few relations, granted to many (subject, object) pairs: each grant
        # is new (the active-unique index), the relation names repeat.
        targets = [
            (t, _metadata(token, t), users, objects or [t])
            for t, token, users, objects in spec["grant_targets"]
        ]
        if scenario == "grant.one_tenant":
            targets = targets[:1]
        tag = f"{scenario[6]}{spec['seed']}{spec['concurrency']}"
        relations = [f"g{tag}-{i}" for i in range(5)]

        def grant(n: int) -> Awaitable[Any]:
            _, md, users, objects = targets[n % len(targets)]
            k = n // len(targets)
            subject = users[k % len(users)]
            place = objects[(k // len(users)) % len(objects)]
            relation = relations[(k // (len(users) * len(objects))) % len(relations)]
            request = membership_pb2.GrantMembershipRequest(
                subject=subject, relation=relation, object=place
            )
            return members.GrantMembership(request, metadata=md, timeout=30)

        return grant
    raise SystemExit(f"unknown scenario {scenario}")


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    options = [("grpc.max_receive_message_length", 16 * 1024 * 1024)]
    async with grpc.aio.insecure_channel(spec["address"], options=options) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        call = _calls(channel, spec)
        counter = itertools.count()
        total = 0
        latencies: list[float] = []
        errors: dict[str, int] = {}
        warmup_end = time.perf_counter() + spec.get("warmup", 0.5)
        end = warmup_end + spec["duration"]

        async def worker() -> None:
            nonlocal total
            while True:
                now = time.perf_counter()
                if now >= end:
                    return
                started = now
                total += 1
                try:
                    await call(next(counter))
                except grpc.aio.AioRpcError as error:
                    if started >= warmup_end:
                        errors[error.code().name] = errors.get(error.code().name, 0) + 1
                    continue
                if started >= warmup_end:
                    latencies.append(time.perf_counter() - started)

        measured_start = warmup_end
        await asyncio.gather(*(worker() for _ in range(spec["concurrency"])))
        elapsed = time.perf_counter() - measured_start
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "calls": len(latencies),
        "total_calls": total,
        "errors": errors,
        "elapsed_s": elapsed,
        "rps": len(latencies) / elapsed if elapsed > 0 else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def main() -> None:
    spec = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(run(spec))), flush=True)


if __name__ == "__main__":
    main()
