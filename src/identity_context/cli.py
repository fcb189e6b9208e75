"""The ``identity-context`` command: serve, migrate, health, dev-token, bootstrap, diagnose,
export."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence

from identity_context.config import ConfigError, Mode, Settings
from identity_context.domain.diagnostics import Check, CheckStatus, Report

__all__ = ["main"]

_log = logging.getLogger("identity_context")

EXIT_CONFIG = 2
EXIT_FATAL = 3


async def _serve(settings: Settings) -> int:
    from identity_context.bootstrap import IdentityContextService

    service = IdentityContextService(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: signal.Signals) -> None:
        _log.info("received %s: draining", signum.name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await service.start()
        stopped: asyncio.Future[object] = asyncio.ensure_future(stop.wait())
        fatal: asyncio.Future[object] = asyncio.ensure_future(asyncio.shield(service.fatal))
        await asyncio.wait((stopped, fatal), return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        fatal.cancel()
    finally:
        await service.stop()
    if service.fatal.done():
        print(f"identity-context: {service.fatal.result()}", file=sys.stderr)
        return EXIT_FATAL
    return 0


def _cmd_serve(_: argparse.Namespace, settings: Settings) -> int:
    from identity_context.bootstrap import configure_logging

    configure_logging(settings)
    try:
        # uvloop: the same asyncio, with a faster loop for the many small waits
        # of gRPC and psycopg (see docs/decisions.md); not on Windows.
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(_serve(settings))
    return uvloop.run(_serve(settings))


async def _migrate(settings: Settings) -> int:
    from identity_context.adapters.postgres.embedded import EmbeddedPostgres
    from identity_context.adapters.postgres.migrations import apply_migrations
    from identity_context.adapters.postgres.provisioning import provision

    url = settings.migration_store_url()
    embedded = EmbeddedPostgres(settings.data_dir) if url is None else None
    try:
        if embedded is not None:
            url = (await provision(await asyncio.to_thread(embedded.start))).migration_url
        assert url is not None
        applied = await apply_migrations(url)
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    where = "the embedded database" if embedded is not None else _describe(url)
    print(f"{len(applied)} migration(s) applied to {where}; schema is up to date")
    return 0


def _describe(url: str) -> str:
    """A database URL without its password, for messages."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url)
    where = f"{params.get('host', 'localhost')}:{params.get('port', '5432')}"
    return f"database {params.get('dbname', '?')} on {where} as {params.get('user', '?')}"


def _cmd_migrate(_: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from identity_context.adapters.postgres.migrations import MigrationError
    from identity_context.bootstrap import configure_logging

    configure_logging(settings)
    try:
        return asyncio.run(_migrate(settings))
    except (MigrationError, psycopg.Error) as exc:
        print(f"identity-context: migration failed: {exc}", file=sys.stderr)
        return EXIT_FATAL


def _health_address(listen: str) -> str:
    host, _, port = listen.rpartition(":")
    if host in {"0.0.0.0", "[::]", ""}:  # noqa: S104 - mapping a bind address to a dial address
        host = "127.0.0.1"
    return f"{host}:{port}"


def _cmd_health(options: argparse.Namespace, settings: Settings) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    address = options.address or _health_address(settings.listen)
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(
                health_pb2.HealthCheckRequest(service=options.service), timeout=options.timeout
            )
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            details = exc.details() if isinstance(exc, grpc.Call) else ""
            reason = "no server answered" if code is grpc.StatusCode.UNAVAILABLE else details
            print(f"{address}: {code.name if code else 'ERROR'}: {reason}", file=sys.stderr)
            return 1
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    print(f"{address}: {name}")
    return 0 if response.status == health_pb2.HealthCheckResponse.SERVING else 1


def _cmd_dev_token(options: argparse.Namespace, settings: Settings) -> int:
    from identity_context.adapters.auth.local_issuer import LocalIssuer
    from identity_context.domain.errors import InvalidArgument

    if settings.mode is Mode.PRODUCTION or not settings.local_issuer:
        print(
            "identity-context: dev-token needs development mode with the local issuer on",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    try:
        token = LocalIssuer(settings.data_dir).mint(
            options.subject, options.tenant, ttl_s=options.ttl, acr=options.acr
        )
    except (InvalidArgument, ValueError) as exc:
        print(f"identity-context: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(token)
    return 0


def _cmd_bootstrap_platform(options: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from identity_context.adapters.postgres.migrations import MigrationError
    from identity_context.bootstrap import bootstrap_platform, configure_logging
    from identity_context.domain.errors import IdentityContextError

    configure_logging(settings)
    try:
        made = asyncio.run(bootstrap_platform(settings, options.operator))
    except IdentityContextError as exc:
        print(f"identity-context: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    except (MigrationError, psycopg.Error) as exc:
        print(f"identity-context: bootstrap failed: {exc}", file=sys.stderr)
        return EXIT_FATAL
    for line in made:
        print(line)
    print(f"{options.operator} is a platform operator ({len(made)} change(s))")
    return 0


def _print_report(report: Report, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "tenant_id": report.tenant_id,
                    "ready": report.ready,
                    "checks": [
                        {
                            "name": c.name,
                            "status": c.status.name,
                            "finding": c.finding,
                            "remedy": c.remedy,
                        }
                        for c in report.checks
                    ],
                },
                indent=2,
            )
        )
        return
    verdict = "ready (no check fails)" if report.ready else "NOT READY (a check fails)"
    print(f"{report.tenant_id}: {verdict}")
    for check in report.checks:
        print(f"{check.status.name:<5} {check.name:<29} {check.finding}")
        if check.remedy and check.status is not CheckStatus.PASS:
            print(f"{'':<5} {'':<29} remedy: {check.remedy}")


def _remote_report(address: str, token: str, tenant: str, timeout: float) -> Report:
    import grpc
    from identitycontext.v1 import tenant_admin_pb2, tenant_admin_pb2_grpc

    statuses = {
        tenant_admin_pb2.DIAGNOSTIC_STATUS_PASS: CheckStatus.PASS,
        tenant_admin_pb2.DIAGNOSTIC_STATUS_WARN: CheckStatus.WARN,
    }
    with grpc.insecure_channel(address) as channel:
        answer = tenant_admin_pb2_grpc.TenantAdminServiceStub(channel).DiagnoseTenant(
            tenant_admin_pb2.DiagnoseTenantRequest(),
            metadata=[("authorization", f"Bearer {token}"), ("x-tenant-id", tenant)],
            timeout=timeout,
        )
    return Report(
        answer.tenant_id,
        tuple(
            Check(c.name, statuses.get(c.status, CheckStatus.FAIL), c.detail, c.remedy)
            for c in answer.checks
        ),
    )


def _cmd_diagnose(options: argparse.Namespace, settings: Settings) -> int:
    import grpc

    from identity_context.bootstrap import configure_logging, diagnose_directly
    from identity_context.domain.errors import InvalidArgument
    from identity_context.domain.identifiers import parse_tenant_id

    try:
        tenant = parse_tenant_id(options.tenant, field="tenant")
    except InvalidArgument as exc:
        print(f"identity-context: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    if options.address:
        token = options.token or os.environ.get("IDENTITY_CONTEXT_TOKEN", "")
        if not token:
            print(
                "identity-context: --address needs --token (or IDENTITY_CONTEXT_TOKEN)",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        try:
            report = _remote_report(options.address, token, str(tenant), options.timeout)
        except grpc.RpcError as exc:
            code = exc.code().name if isinstance(exc, grpc.Call) else "ERROR"
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            print(f"{options.address}: {code}: {details}", file=sys.stderr)
            return 1
    else:
        configure_logging(settings)
        report = asyncio.run(diagnose_directly(settings, tenant))
    _print_report(report, options.json)
    return 0 if report.ready else 1


async def _selftest(settings: Settings) -> list[str]:
    from identity_context.adapters.authz.authzen import AuthZenClient
    from identity_context.application.authorization import self_test
    from identity_context.bootstrap import build_authorization

    client = build_authorization(settings)
    try:
        return await self_test(client, timeout_s=settings.authz_timeout_s)
    finally:
        if isinstance(client, AuthZenClient):
            await client.close()


def _cmd_authz_selftest(options: argparse.Namespace, settings: Settings) -> int:
    from identity_context.application.authorization import NO_ANSWER

    # --wait: ask again while the engine gives no answer (it may still be starting);
    # a wrong answer fails at once.
    deadline = time.monotonic() + max(options.wait, 0.0)
    while True:
        failures = asyncio.run(_selftest(settings))
        unanswered = failures and failures[0].startswith(NO_ANSWER)
        if not unanswered or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    engine = settings.authzen_url if settings.authz == "authzen" else "the embedded Cedar engine"
    for failure in failures:
        print(f"FAIL  {failure}")
    if failures:
        print(f"{engine}: the self-test failed ({len(failures)} case(s))", file=sys.stderr)
        return 1
    print(f"{engine}: every known case of the manifest is decided as it should be")
    return 0


def _cmd_export(options: argparse.Namespace, settings: Settings) -> int:
    import json

    from identitycontext.v1 import fact_export_pb2

    from identity_context.adapters.openfga import model, tuple_of
    from identity_context.application.ports import EncodedFacts
    from identity_context.bootstrap import configure_logging, export_facts_directly
    from identity_context.domain.errors import IdentityContextError, InvalidArgument
    from identity_context.domain.facts import ExportMode
    from identity_context.domain.identifiers import parse_tenant_id

    try:
        tenant = parse_tenant_id(options.tenant, field="tenant")
    except InvalidArgument as exc:
        print(f"identity-context: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    relations: set[str] = set()
    out = sys.stdout

    def sink(batch: EncodedFacts) -> None:
        facts = fact_export_pb2.ExportFactsResponse.FromString(batch.payload).facts
        if options.format == "openfga-model":
            relations.update(f.relation for f in facts if not f.object.startswith("group:"))
            return
        for fact in facts:
            out.write(json.dumps(tuple_of(fact), separators=(",", ":")) + "\n")

    configure_logging(settings)
    mode = ExportMode[options.mode.upper()]
    try:
        seq = asyncio.run(export_facts_directly(settings, tenant, mode, sink))
    except IdentityContextError as exc:
        print(f"identity-context: {exc.message}", file=sys.stderr)
        return 1
    if options.format == "openfga-model":
        out.write(model(relations))
    print(f"exported {tenant} at seq {seq}", file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="identity-context",
        description="gRPC identity-context service. Settings come from IDENTITY_CONTEXT_* "
        "environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the gRPC server").set_defaults(run=_cmd_serve)
    commands.add_parser("migrate", help="apply database migrations and exit").set_defaults(
        run=_cmd_migrate
    )
    health = commands.add_parser("health", help="exit 0 only when the server is SERVING")
    health.add_argument("--address", help="host:port (default: from IDENTITY_CONTEXT_LISTEN)")
    health.add_argument("--service", default="", help="service name (default: the server)")
    health.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    health.set_defaults(run=_cmd_health)
    token = commands.add_parser("dev-token", help="print a token from the local dev issuer")
    token.add_argument("--subject", required=True, help="user:<id> or service:<name>")
    token.add_argument("--tenant", required=True, help="the actor tenant, tenant:<slug>")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.add_argument("--acr", choices=["aal1", "aal2", "aal3"], help="assurance level claim")
    token.set_defaults(run=_cmd_dev_token)
    boot = commands.add_parser(
        "bootstrap-platform",
        help="create tenant:platform if absent and make a user its platform operator",
    )
    boot.add_argument("--operator", required=True, help="user:<id> to make platform operator")
    boot.set_defaults(run=_cmd_bootstrap_platform)
    diagnose = commands.add_parser(
        "diagnose",
        help="report whether a tenant is onboarded; exit 1 when a check fails",
        description="Run the onboarding checks of a tenant: through a running server "
        "(--address, --token) or straight against the configured database.",
    )
    diagnose.add_argument("tenant", help="tenant:<slug>")
    diagnose.add_argument("--json", action="store_true", help="print JSON instead of a table")
    diagnose.add_argument("--address", help="host:port of a running server")
    diagnose.add_argument("--token", help="bearer token (default: IDENTITY_CONTEXT_TOKEN)")
    diagnose.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    diagnose.set_defaults(run=_cmd_diagnose)
    export = commands.add_parser(
        "export",
        help="print a tenant's access-control facts as OpenFGA tuples (JSON lines), or the"
        " OpenFGA model that fits them; reads the configured database directly",
    )
    export.add_argument("--tenant", required=True, help="tenant:<slug>")
    export.add_argument(
        "--format", choices=["openfga-tuples", "openfga-model"], default="openfga-tuples"
    )
    export.add_argument("--mode", choices=["native", "flattened"], default="native")
    export.set_defaults(run=_cmd_export)
    selftest = commands.add_parser(
        "authz-selftest",
        help="ask the configured policy engine the manifest's known cases; exit 1 on a wrong one",
    )
    selftest.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="ask again while the engine gives no answer, up to SECONDS (default 0)",
    )
    selftest.set_defaults(run=_cmd_authz_selftest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    options = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        status: int = options.run(options, settings)
    except ConfigError as exc:
        print(f"identity-context: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    with contextlib.suppress(Exception):
        logging.shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
