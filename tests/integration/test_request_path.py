"""The request path: one transaction per RPC, a fixed statement budget, decisions taken inside
it (a revocation committed before the tenant lock is honoured), typed decisions that behave the
same with an engine that names no policies."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from conftest import ProvisionedDatabase, RunningService, start_service
from identitycontext.v1 import common_pb2, membership_pb2, tenant_admin_pb2
from psycopg import pq
from psycopg_pool import AsyncConnectionPool
from world import World, build_world

from identity_context.adapters.authz.cedar import CedarAuthorizationClient
from identity_context.adapters.postgres.unit_of_work import PostgresStore
from identity_context.application.authorization import AuthzEntity, AuthzRequest
from identity_context.application.commands import GrantMembership
from identity_context.application.invocation import Invocation
from identity_context.application.pagination import PageTokens
from identity_context.bootstrap import build_use_cases
from identity_context.config import Settings
from identity_context.domain.actors import Actor, AssuranceLevel
from identity_context.domain.changes import Decision
from identity_context.domain.errors import ErrorReason, PermissionDenied
from identity_context.domain.identifiers import ActorKind, TenantId, parse_tenant_id

PLATFORM = "tenant:platform"
PAGES = PageTokens([b"0123456789abcdef0123456789abcdef"])


def _invocation(world: World, *, request_id: str = "") -> Invocation:
    tenant = parse_tenant_id(world.tenant)
    actor = Actor(world.admin_id, ActorKind.USER, tenant, "test", AssuranceLevel.AAL1)
    return Invocation(tenant, actor, f"budget-{secrets.token_hex(4)}", request_id=request_id)


class StatementTrace:
    """Counts what one pooled connection sends to PostgreSQL (libpq protocol trace)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "libpq-trace.txt"
        self._file = self.path.open("w")

    def configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        conn.pgconn.trace(self._file.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def mark(self) -> int:
        self._file.flush()
        return len(self.path.read_text().splitlines())

    def statements_since(self, mark: int) -> list[str]:
        """Each statement sent since *mark*: a simple Query, or an extended-protocol Execute."""
        self._file.flush()
        lines = self.path.read_text().splitlines()[mark:]
        sent: list[str] = []
        parsed: dict[str, str] = {}
        bound = ""
        for line in lines:
            fields = line.split("\t")
            if len(fields) < 3 or fields[0] != "F":
                continue
            kind, rest = fields[2], (fields[3] if len(fields) > 3 else "").strip()
            if kind == "Query":
                sent.append(rest.strip('"'))
            elif kind == "Parse":
                name, query = re.match(r'"([^"]*)" "(.*)"', rest).groups()  # type: ignore[union-attr]
                parsed[name] = query
                bound = query
            elif kind == "Bind":
                statement = re.match(r'"[^"]*" "([^"]*)"', rest)
                bound = parsed.get(statement.group(1), bound) if statement else bound
            elif kind == "Execute":
                sent.append(bound)
        return sent


@pytest.fixture
async def traced(
    database: ProvisionedDatabase, world: World, tmp_path: Path
) -> AsyncIterator[tuple[Any, StatementTrace]]:
    trace = StatementTrace(tmp_path)

    async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
        trace.configure(conn)

    pool = AsyncConnectionPool(
        database.runtime_url,
        min_size=1,
        max_size=1,
        open=False,
        configure=configure,
        kwargs={"autocommit": False},
    )
    await pool.open(wait=True)
    try:
        yield build_use_cases(PostgresStore(pool), CedarAuthorizationClient(), PAGES), trace
    finally:
        await pool.close()


async def _count(trace: StatementTrace, call: Callable[[], Awaitable[Any]]) -> list[str]:
    await call()  # warm: the same statements, prepared or not
    mark = trace.mark()
    await call()
    return trace.statements_since(mark)


# The budgets this request path reaches; a change that adds a round trip fails here.
READ_BUDGET = 4  # BEGIN READ ONLY, facts, the read, COMMIT
WRITE_BUDGET = 6  # BEGIN, facts, tenant lock, the write, the changes, COMMIT


async def test_a_read_is_one_transaction_of_four_statements(traced: Any, world: World) -> None:
    use_cases, trace = traced
    inv = _invocation(world)
    sent = await _count(trace, lambda: use_cases.accounts.get(inv, world.admin_id))
    assert len(sent) == READ_BUDGET, sent
    assert sent[0].startswith("BEGIN") and sent[-1] == "COMMIT"
    assert "app_actor_roles" in sent[1] and "tenant_accounts" in sent[2]
    listed = await _count(
        trace,
        lambda: use_cases.memberships.list_memberships(
            inv, subject="", object_="", relation="", state=None, page_size=50, page_token=""
        ),
    )
    assert len(listed) == READ_BUDGET, listed


async def _user_with_50_memberships_in_10_groups(world: World) -> str:
    admin, slug = world.admin, world.tenant.split(":", 1)[1]
    tag = secrets.token_hex(3)
    user = f"user:busy-{tag}"
    await admin.call(
        "TenantAdminService",
        "UpsertTenantUser",
        tenant_admin_pb2.UpsertTenantUserRequest(
            user_id=user, initial_state=common_pb2.ACCOUNT_STATE_ACTIVE
        ),
    )
    realms = [f"realm:{slug}/busy-{tag}-{r}" for r in range(5)]
    for realm in realms:
        await admin.call(
            "MembershipService", "CreateScope", membership_pb2.CreateScopeRequest(scope_id=realm)
        )
    for g in range(10):
        group = f"group:{slug}/busy-{tag}-{g}"
        await admin.call(
            "MembershipService", "CreateGroup", membership_pb2.CreateGroupRequest(group_id=group)
        )
        await admin.call(
            "MembershipService",
            "AddGroupMember",
            membership_pb2.AddGroupMemberRequest(group_id=group, user_id=user),
        )
        for realm in realms:
            await admin.call(
                "MembershipService",
                "GrantMembership",
                membership_pb2.GrantMembershipRequest(
                    subject=group, relation=f"role-{g}", object=realm
                ),
            )
    return user


async def test_the_hot_path_is_one_statement_whatever_the_memberships(
    traced: Any, world: World
) -> None:
    use_cases, trace = traced
    user = await _user_with_50_memberships_in_10_groups(world)
    inv = _invocation(world)
    contexts = use_cases.identity_contexts
    sent = await _count(trace, lambda: contexts.get(inv, user))
    assert len(sent) == 1 and "app_identity_context" in sent[0], sent
    context = await contexts.get(inv, user)
    assert len(context.memberships) == 50 and len(context.groups) == 10
    sent = await _count(trace, lambda: contexts.claims(inv, user, "service:mail"))
    assert len(sent) == 1 and "app_identity_context" in sent[0], sent
    # Denied: the same one statement, and nothing of the context leaves.
    stranger = Invocation(inv.tenant, Actor("user:nobody", ActorKind.USER, inv.tenant, "t"), "x")
    mark = trace.mark()
    with pytest.raises(PermissionDenied):
        await contexts.get(stranger, user)
    assert len(trace.statements_since(mark)) == 1


async def test_a_denied_read_is_one_transaction_and_reads_nothing_else(
    traced: Any, world: World
) -> None:
    use_cases, trace = traced
    inv = _invocation(world)
    stranger = Actor("user:nobody", ActorKind.USER, inv.tenant, "test")
    denied = Invocation(inv.tenant, stranger, "budget-denied")
    mark = trace.mark()
    with pytest.raises(PermissionDenied):
        await use_cases.accounts.get(denied, world.admin_id)
    sent = trace.statements_since(mark)
    assert [s.split()[0] for s in sent] == ["BEGIN", "SELECT", "COMMIT"], sent


async def test_a_grant_is_one_transaction_within_its_budget(traced: Any, world: World) -> None:
    use_cases, trace = traced
    inv = _invocation(world)
    relations = iter(f"budget-{i}" for i in range(10))

    async def grant() -> Any:
        return await use_cases.memberships.grant_membership(
            inv, GrantMembership(world.admin_id, next(relations), world.tenant)
        )

    sent = await _count(trace, grant)
    assert len(sent) == WRITE_BUDGET, sent
    assert sent[0] == "BEGIN" and sent[-1] == "COMMIT"
    assert "app_actor_roles" in sent[1] and "FOR NO KEY UPDATE" in sent[2]
    assert sent[3].startswith("INSERT INTO memberships")
    assert "audit_records" in sent[4] and "outbox_events" in sent[4]
    # An idempotency key costs one more statement (its stored result, read under the lock).
    keyed = _invocation(world, request_id=f"budget-{secrets.token_hex(4)}")
    mark = trace.mark()
    await use_cases.memberships.grant_membership(
        keyed, GrantMembership(world.admin_id, "budget-keyed", world.tenant)
    )
    assert len(trace.statements_since(mark)) == WRITE_BUDGET + 1


# ---- a revocation committed before the tenant lock --------------------------------


class RevokingOnce:
    """The embedded engine; on its first decision it waits until *revoke* committed."""

    def __init__(self, revoke: Callable[[], Awaitable[None]]) -> None:
        self._engine = CedarAuthorizationClient()
        self._revoke: Callable[[], Awaitable[None]] | None = revoke
        self.decisions = 0

    async def evaluate(self, request: AuthzRequest, *, timeout_s: float) -> Decision:
        decision = await self._engine.evaluate(request, timeout_s=timeout_s)
        self.decisions += 1
        if self._revoke is not None:
            revoke, self._revoke = self._revoke, None
            await revoke()  # committed on another connection, before our tenant lock
        return decision

    async def evaluate_batch(
        self, requests: list[AuthzRequest], *, timeout_s: float
    ) -> list[Decision]:
        return [await self.evaluate(r, timeout_s=timeout_s) for r in requests]


async def _admin_with_role(world: World) -> tuple[str, str]:
    """A fresh tenant admin of world.tenant; returns (user, membership id)."""
    from test_tenant_admin import add_user

    admin = f"user:adm-{secrets.token_hex(4)}"
    await add_user(world.operator, admin, tenant=world.tenant)
    granted = await world.operator.call(
        "MembershipService",
        "GrantMembership",
        membership_pb2.GrantMembershipRequest(
            subject=admin, relation="tenant-admin", object=world.tenant
        ),
        tenant=world.tenant,
    )
    return admin, granted.membership.membership_id


async def _grant_as(
    database: ProvisionedDatabase,
    world: World,
    admin: str,
    engine: Any,
    relation: str,
    correlation_id: str = "race",
) -> Any:
    pool = AsyncConnectionPool(database.runtime_url, min_size=1, max_size=2, open=False)
    await pool.open(wait=True)
    try:
        use_cases = build_use_cases(PostgresStore(pool), engine, PAGES)
        tenant = TenantId(world.tenant.removeprefix("tenant:"))
        inv = Invocation(tenant, Actor(admin, ActorKind.USER, tenant, "test"), correlation_id)
        return await use_cases.memberships.grant_membership(
            inv, GrantMembership(admin, relation, world.tenant)
        )
    finally:
        await pool.close()


async def _memberships_of(admin_conn: Any, tenant: str, subject: str, relation: str) -> int:
    row = await (
        await admin_conn.execute(
            "SELECT count(*) FROM memberships WHERE tenant_id = %s AND subject_user_id = %s"
            " AND relation = %s",
            (tenant, subject, relation),
        )
    ).fetchone()
    return int(row[0])


async def test_a_grant_commits_when_the_role_still_holds(
    database: ProvisionedDatabase, world: World, admin_conn: Any
) -> None:
    admin, _ = await _admin_with_role(world)
    engine = RevokingOnce(lambda: asyncio.sleep(0))
    await _grant_as(database, world, admin, engine, "editor")
    assert engine.decisions == 1
    assert await _memberships_of(admin_conn, world.tenant, admin, "editor") == 1


async def test_a_grant_by_an_admin_revoked_just_before_does_not_commit(
    database: ProvisionedDatabase, world: World, admin_conn: Any
) -> None:
    admin, membership_id = await _admin_with_role(world)

    async def revoke() -> None:  # the operator revokes, committed on its own connection
        await world.operator.call(
            "MembershipService",
            "RevokeMembership",
            membership_pb2.RevokeMembershipRequest(membership_id=membership_id),
            tenant=world.tenant,
        )

    engine = RevokingOnce(revoke)
    with pytest.raises(PermissionDenied) as denied:
        await _grant_as(database, world, admin, engine, "editor", "revoked-race")
    # Decided with the role, found revoked under the lock, decided again without it.
    assert engine.decisions == 2
    assert denied.value.reason is ErrorReason.PERMISSION_DENIED
    assert await _memberships_of(admin_conn, world.tenant, admin, "editor") == 0
    audited = await (
        await admin_conn.execute(
            "SELECT count(*) FROM audit_records WHERE correlation_id = 'revoked-race'"
        )
    ).fetchone()
    assert audited == (0,)


# ---- typed decisions behind an engine that names no policies ----------------------


class PolicyIdFreePdp:
    """A real AuthZEN endpoint answering with the shipped policies but only ``decision``."""

    def __init__(self) -> None:
        engine = CedarAuthorizationClient()
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests += 1

                def decide(one: dict[str, Any]) -> dict[str, Any]:
                    request = AuthzRequest(
                        AuthzEntity(**one["subject"]),
                        one["action"]["name"],
                        AuthzEntity(**one["resource"]),
                        one.get("context", {}),
                    )
                    return {"decision": engine._decide(request).allowed}

                answer = (
                    {"evaluations": [decide(one) for one in body["evaluations"]]}
                    if self.path.endswith("/evaluations")
                    else decide(body)
                )
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def pdp() -> Iterator[PolicyIdFreePdp]:
    server = PolicyIdFreePdp()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
async def remote_world(database: ProvisionedDatabase, pdp: PolicyIdFreePdp) -> AsyncIterator[World]:
    settings = Settings(
        listen="127.0.0.1:0",
        data_dir=Path(tempfile.mkdtemp(prefix="remote-world-")),
        database_url=database.runtime_url,
        migration_database_url=database.migration_url,
        shutdown_grace_s=0.5,
        shutdown_pause_s=0,
        authz="authzen",
        authzen_url=pdp.url,
        authz_timeout_s=5,
    )
    started: RunningService = await start_service(settings)
    built = await build_world(settings, started.address)
    try:
        yield built
    finally:
        await built.channel.close()
        await started.service.stop()


@pytest.fixture(params=["embedded", "remote-without-policy-ids"])
def any_world(request: pytest.FixtureRequest, world: World) -> World:
    if request.param == "embedded":
        return world
    return request.getfixturevalue("remote_world")  # type: ignore[no-any-return]


async def test_break_glass_is_flagged_with_either_engine(any_world: World, admin_conn) -> None:
    from test_tenant_admin import _break_glass_holder, add_user, audit_rows, new_user

    holder = await _break_glass_holder(any_world)
    caller = any_world.caller(holder, PLATFORM, acr="aal2")
    await add_user(caller, new_user(), tenant=any_world.tenant, break_glass="INC-77 locked out")
    rows = await audit_rows(admin_conn, any_world.tenant, caller.last_correlation_id)
    assert [r[4] for r in rows] == ["break_glass.use", "tenant.user.upsert"]
    assert all(r[8] for r in rows)  # flagged, whatever the engine named
    assert rows[1][7]["break_glass_reason"] == "INC-77 locked out"


async def test_operator_oversight_of_a_suspended_tenant_with_either_engine(
    any_world: World,
) -> None:
    from test_tenant_admin import add_user, new_user
    from world import onboard

    tenant = f"tenant:over-{secrets.token_hex(3)}"
    admin = new_user("user:adm")
    await onboard(any_world.operator, tenant, admin)
    await any_world.operator.call(
        "TenantAdminService",
        "SetTenantState",
        tenant_admin_pb2.SetTenantStateRequest(
            tenant_id=tenant, state=tenant_admin_pb2.TENANT_STATE_SUSPENDED
        ),
        tenant=PLATFORM,
    )
    assert await any_world.caller(admin, tenant).fails(
        "TenantAdminService",
        "UpsertTenantUser",
        tenant_admin_pb2.UpsertTenantUserRequest(user_id=new_user()),
    ) == (grpc.StatusCode.FAILED_PRECONDITION, "TENANT_NOT_ACTIVE")
    await add_user(any_world.operator, new_user(), tenant=tenant)  # oversight: allowed


async def test_deny_reasons_are_the_same_with_either_engine(any_world: World) -> None:
    admin = any_world.admin
    assert await admin.fails(
        "TenantAdminService",
        "CreateTenant",
        tenant_admin_pb2.CreateTenantRequest(tenant_id="tenant:rogue"),
        tenant=PLATFORM,
    ) == (grpc.StatusCode.PERMISSION_DENIED, "PLATFORM_ROOT_DENIED")
    assert await admin.fails(
        "MembershipService",
        "GrantMembership",
        membership_pb2.GrantMembershipRequest(
            subject=any_world.admin_id, relation="platform-operator", object=any_world.tenant
        ),
    ) == (grpc.StatusCode.PERMISSION_DENIED, "PLATFORM_ROOT_DENIED")
    assert await admin.fails(
        "TenantAdminService",
        "GetTenantUser",
        tenant_admin_pb2.GetTenantUserRequest(user_id=any_world.other_admin_id),
        tenant=any_world.other,
    ) == (grpc.StatusCode.PERMISSION_DENIED, "CROSS_TENANT_DENIED")
