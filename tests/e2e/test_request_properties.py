"""Property-based: junk in every field of every RPC is never INTERNAL or UNKNOWN, and every
INVALID_ARGUMENT names the field it is about.

Requests are built from the proto descriptors, so a new field or RPC is fuzzed
without touching this file. The server is the real ``identity-context``
process; the callers are a platform operator and a tenant admin of a world made
for this module.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from conftest import ProvisionedDatabase, RunningService
from google.protobuf import descriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from identitycontext.v1 import (
    active_context_pb2,
    active_context_pb2_grpc,
    membership_pb2,
    membership_pb2_grpc,
    tenant_admin_pb2,
    tenant_admin_pb2_grpc,
)
from support import ServerProcess, rich_status
from world import World, build_world

pytestmark = pytest.mark.e2e

FD = descriptor.FieldDescriptor
SERVICES = [
    (tenant_admin_pb2, "TenantAdminService", tenant_admin_pb2_grpc.TenantAdminServiceStub),
    (membership_pb2, "MembershipService", membership_pb2_grpc.MembershipServiceStub),
    (active_context_pb2, "ActiveContextService", active_context_pb2_grpc.ActiveContextServiceStub),
]
UNARY = [
    (stub, method)
    for module, name, stub in SERVICES
    for method in module.DESCRIPTOR.services_by_name[name].methods
    if not method.server_streaming and not method.client_streaming
]

# Strings a careless parser trips over: confusables, invisible and control
# characters, path tricks, SQL, near-identifiers, and one very long string.
NASTY = [
    "",
    "\x00",
    "a\x00b",
    "\ufeff",
    "\u202e",
    "\u0435ditor",  # Cyrillic e
    "tenant:\u0441oulomb",  # Cyrillic c
    "user:../../x",
    "'; DROP TABLE tenants; --",
    "%s%s%n",
    "realm:other/secret",
    "tenant:platform",
    "profile:platform/x",
    "service:Mail",
    "\U0001f600" * 10,
    "x" * 1_000_000,
]
INT_RANGES = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1),
}


def _tampered(token: str) -> list[str]:
    body = base64.urlsafe_b64encode(json.dumps({"t": "x", "a": "z"}).encode()).decode()
    return [token[:-1] + ("A" if token[-1:] != "A" else "B"), token + "x", body, f"{body}.AAAA"]


def strings(samples: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(samples + NASTY), st.text(max_size=40))


def message(desc: Any, samples: list[str], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """A strategy of field values (a dict for the constructor) for message *desc*."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in desc.fields:
        one = value(field, samples, depth)
        if one is None:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            fields[field.name] = st.dictionaries(strings(samples), strings(samples), max_size=3)
        elif field.is_repeated:
            fields[field.name] = st.lists(one, max_size=3)
        else:
            fields[field.name] = one
    return st.fixed_dictionaries({}, optional=fields)


def value(field: Any, samples: list[str], depth: int) -> st.SearchStrategy[Any] | None:
    if field.type == FD.TYPE_STRING:
        return strings(samples)
    if field.type == FD.TYPE_BOOL:
        return st.booleans()
    if field.type == FD.TYPE_ENUM:
        return st.integers(-(2**31), 2**31 - 1)
    if field.type in INT_RANGES:
        low, high = INT_RANGES[field.type]
        return st.one_of(st.integers(low, high), st.sampled_from([0, -1, 1, low, high]))
    if field.type == FD.TYPE_MESSAGE and depth < 3:
        inner = field.message_type
        if inner.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
            return st.fixed_dictionaries(
                {
                    "seconds": st.integers(-(2**63), 2**63 - 1),
                    "nanos": st.integers(-(2**31), 2**31 - 1),
                }
            )
        return message(inner, samples, depth + 1)
    return None


def _build(cls: Any, values: dict[str, Any]) -> Any:
    built = cls()
    for name, given_value in values.items():
        field = cls.DESCRIPTOR.fields_by_name[name]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            getattr(built, name).update(given_value)
        elif field.message_type is not None and field.is_repeated:
            for item in given_value:
                _build_into(getattr(built, name).add(), item)
        elif field.message_type is not None:
            _build_into(getattr(built, name), given_value)
        elif field.is_repeated:
            getattr(built, name).extend(given_value)
        else:
            setattr(built, name, given_value)
    return built


def _build_into(target: Any, values: dict[str, Any]) -> None:
    target.CopyFrom(_build(type(target), values))


@pytest.fixture(scope="module")
async def fuzz_world(running: RunningService) -> World:
    built = await build_world(running.settings, running.address)
    await built.channel.close()
    return built


@pytest.fixture(scope="module")
def fuzz_server(
    database: ProvisionedDatabase, fuzz_world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    # The world's data dir: the same local issuer and page-token key.
    server = ServerProcess(
        {
            "IDENTITY_CONTEXT_DATABASE_URL": database.runtime_url,
            "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": database.migration_url,
            "IDENTITY_CONTEXT_DATA_DIR": str(fuzz_world.settings.data_dir),
        },
        cwd=tmp_path_factory.mktemp("fuzz"),
    )
    try:
        yield server.wait_serving()
    finally:
        server.kill()


@pytest.fixture(scope="module")
def context(fuzz_world: World, fuzz_server: ServerProcess) -> Iterator[dict[str, Any]]:
    world = fuzz_world
    slug = world.tenant.split(":", 1)[1]
    samples = [
        world.tenant,
        world.admin_id,
        world.operator_id,
        f"realm:{slug}/r",
        f"service:{slug}/r/s",
        f"group:{slug}/g",
        f"profile:{slug}/p",
        "app:mail",
        "editor",
        "tenant-admin",
        "platform-operator",
        "service:mail",
        "locale",
    ]
    callers = {
        "admin": (world.admin.token, world.tenant),
        "operator": (world.operator.token, "tenant:platform"),
    }
    with grpc.insecure_channel(
        fuzz_server.address, options=[("grpc.max_send_message_length", 8 * 1024 * 1024)]
    ) as channel:
        # A genuine page token to tamper with.
        page = tenant_admin_pb2_grpc.TenantAdminServiceStub(channel).ListTenantUsers(
            tenant_admin_pb2.ListTenantUsersRequest(page_size=1),
            metadata=[
                ("authorization", f"Bearer {world.admin.token}"),
                ("x-tenant-id", world.tenant),
            ],
            timeout=10,
        )
        samples += _tampered(page.next_page_token) if page.next_page_token else []
        yield {"channel": channel, "samples": samples, "callers": callers}


def _check(error: grpc.RpcError, method: str) -> None:
    code = error.code()
    assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (
        method,
        code,
        error.details(),
    )
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        _, bad = rich_status(error)
        assert bad is not None and bad.field_violations, (method, error.details())
        assert all(v.field for v in bad.field_violations), (method, error.details())


@pytest.mark.parametrize(
    ("stub", "method"), UNARY, ids=[f"{m.containing_service.name}.{m.name}" for _, m in UNARY]
)
def test_junk_in_every_field_is_never_internal(
    stub: Any, method: Any, context: dict[str, Any]
) -> None:
    request_cls = getattr(
        {
            "TenantAdminService": tenant_admin_pb2,
            "MembershipService": membership_pb2,
            "ActiveContextService": active_context_pb2,
        }[method.containing_service.name],
        method.input_type.name,
    )
    call = getattr(stub(context["channel"]), method.name)

    @settings(
        max_examples=12,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        values=message(method.input_type, context["samples"]),
        who=st.sampled_from(sorted(context["callers"])),
    )
    def probe(values: dict[str, Any], who: str) -> None:
        try:
            request = _build(request_cls, values)
        except (ValueError, TypeError, OverflowError):
            return  # protobuf itself refuses the value (e.g. a bad UTF-8 surrogate)
        token, tenant = context["callers"][who]
        metadata = [
            ("authorization", f"Bearer {token}"),
            ("x-tenant-id", tenant),
            ("x-correlation-id", f"fuzz-{secrets.token_hex(4)}"),
        ]
        try:
            call(request, metadata=metadata, timeout=30)
        except grpc.RpcError as error:
            _check(error, method.name)

    probe()


def test_the_property_sees_every_implemented_rpc() -> None:
    names = {m.name for _, m in UNARY}
    assert {
        "GrantMembership",
        "CreateAccessProfile",
        "ListAuditRecords",
        "SetProfileValues",
    } <= names
    assert len(UNARY) >= 25
