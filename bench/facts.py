"""The fact-stream benchmark: ``python -m bench.facts`` (from the repository root).

- **Export**: ExportFacts of a tenant with 1,000,000 facts (100,000 users with
  10 memberships each), in NATIVE mode with the default batch of 500, read by a
  client in a separate process. Reported: facts/s, and the service process's
  peak RSS growth during the export (sampled every 10 ms). The floor is a bare
  ``grpc.aio`` server streaming the same batches (the same facts, built once
  in memory before the clock starts), measured in the same run, interleaved.
- **Watch**: commit-to-delivery latency of WatchFacts while a writer commits
  200 grants and revocations per second: for every change received, the time
  of receipt minus its ``commit_time`` (the same clock: one machine).

Writes JSON under ``bench/results/`` (``facts-<run>.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import psycopg
from identitycontext.v1 import (
    common_pb2,
    fact_export_pb2,
    fact_export_pb2_grpc,
    membership_pb2,
    membership_pb2_grpc,
)
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parent
BIG = "tenant:factbench"
USERS = 100_000
PER_USER = 10
BATCH = 500
WRITES_PER_S = 200

_SEED = """
INSERT INTO tenants (tenant_id, display_name, plane) VALUES (%(t)s, 'Facts', 'tenant')
    ON CONFLICT DO NOTHING;
SET session_replication_role = replica;  -- bulk load: no triggers (facts are rebuilt below)
INSERT INTO users (user_id)
    SELECT format('user:fb-%%s', n) FROM generate_series(0, %(users)s - 1) n
    ON CONFLICT DO NOTHING;
INSERT INTO tenant_accounts (tenant_id, user_id, display_name, state)
    SELECT %(t)s, format('user:fb-%%s', n), 'User', 'active'
    FROM generate_series(0, %(users)s - 1) n ON CONFLICT DO NOTHING;
INSERT INTO memberships (tenant_id, membership_id, subject_user_id, relation)
    SELECT %(t)s, format('m-fb-%%s-%%s', n, k), format('user:fb-%%s', n), format('role-%%s', k)
    FROM generate_series(0, %(users)s - 1) n, generate_series(0, %(per)s - 1) k
    ON CONFLICT DO NOTHING;
SET session_replication_role = DEFAULT;
SELECT set_config('app.tenant_id', %(t)s, false);
SELECT app_rebuild_facts();
SELECT set_config('app.tenant_id', '', false);
"""


def _database_url(admin_url: str, name: str) -> str:
    params = conninfo_to_dict(admin_url)
    params["dbname"] = name
    return make_conninfo("", **params)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class _RssSampler:
    """Samples a process's RSS every 10 ms until stopped; reports the peak growth."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.base = _rss_kb(pid)
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss_kb(self.pid))

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 1024


# ---- the bare stream: same batches, no service ----------------------------------------


class _Bare(fact_export_pb2_grpc.FactExportServiceServicer):
    def __init__(self, batches: list[fact_export_pb2.ExportFactsResponse]) -> None:
        self._batches = batches

    async def ExportFacts(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC name
        for batch in self._batches:
            yield batch


async def _serve_bare(database_url: str) -> None:
    """Load the big tenant's NATIVE facts once, as the service would send them, then serve."""
    batches: list[fact_export_pb2.ExportFactsResponse] = []
    facts: list[common_pb2.AccessControlFact] = []
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute("SELECT set_config('app.tenant_id', %s, false)", (BIG,))
        cursor = conn.cursor(name="bare")
        await cursor.execute(
            "SELECT subject, relation, object, source FROM facts WHERE tenant_id = %s"
            " AND mode = 1 ORDER BY subject, relation, object",
            (BIG,),
        )
        async for subject, relation, object_, source in cursor:
            facts.append(
                common_pb2.AccessControlFact(
                    tenant_id=BIG, subject=subject, relation=relation, object=object_, source=source
                )
            )
            if len(facts) == BATCH:
                batches.append(fact_export_pb2.ExportFactsResponse(facts=facts, facts_token="t"))
                facts = []
    batches.append(fact_export_pb2.ExportFactsResponse(facts=facts, facts_token="t", last=True))
    server = grpc.aio.server()
    fact_export_pb2_grpc.add_FactExportServiceServicer_to_server(_Bare(batches), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"port {port}", flush=True)
    await server.wait_for_termination()


# ---- clients (a separate process) ------------------------------------------------------------


async def _export(address: str, token: str) -> dict[str, Any]:
    async with grpc.aio.insecure_channel(
        address, options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    ) as channel:
        stub = fact_export_pb2_grpc.FactExportServiceStub(channel)
        md = (("authorization", f"Bearer {token}"), ("x-tenant-id", BIG))
        started = time.perf_counter()
        count = 0
        async for message in stub.ExportFacts(
            fact_export_pb2.ExportFactsRequest(batch_size=BATCH), metadata=md
        ):
            count += len(message.facts)
        elapsed = time.perf_counter() - started
    return {"facts": count, "seconds": elapsed, "facts_per_s": count / elapsed}


async def _watch(  # noqa: PLR0917 - the command line's arguments, in order
    address: str, consumer: str, admin: str, tenant: str, users: list[str], seconds: float
) -> dict[str, Any]:
    async with grpc.aio.insecure_channel(address) as channel:
        facts = fact_export_pb2_grpc.FactExportServiceStub(channel)
        memberships = membership_pb2_grpc.MembershipServiceStub(channel)
        watch_md = (("authorization", f"Bearer {consumer}"), ("x-tenant-id", tenant))
        write_md = (("authorization", f"Bearer {admin}"), ("x-tenant-id", tenant))
        token = (
            await facts.GetFactsToken(fact_export_pb2.GetFactsTokenRequest(), metadata=watch_md)
        ).facts_token
        latencies: list[float] = []
        stream = facts.WatchFacts(
            fact_export_pb2.WatchFactsRequest(facts_token=token), metadata=watch_md
        )
        stop = asyncio.Event()

        async def read() -> None:
            while (message := await stream.read()) is not grpc.aio.EOF:
                if message.HasField("change"):
                    committed = message.change.commit_time.ToDatetime(dt.UTC)
                    latencies.append((dt.datetime.now(dt.UTC) - committed).total_seconds() * 1000)

        granted: list[str] = []
        writes = 0

        async def write(index: int) -> None:
            nonlocal writes
            if granted and index % 2:
                await memberships.RevokeMembership(
                    membership_pb2.RevokeMembershipRequest(membership_id=granted.pop(0)),
                    metadata=write_md,
                )
            else:
                reply = await memberships.GrantMembership(
                    membership_pb2.GrantMembershipRequest(
                        subject=users[index % len(users)],
                        relation=f"watch-{index}",
                        object=tenant,
                    ),
                    metadata=write_md,
                )
                granted.append(reply.membership.membership_id)
            writes += 1

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        pending: set[asyncio.Task[None]] = set()
        index = 0
        while (now := time.perf_counter() - started) < seconds:  # paced: 200 per second
            due = int(now * WRITES_PER_S)
            while index < due:
                task = asyncio.create_task(write(index))
                pending.add(task)
                task.add_done_callback(pending.discard)
                index += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1.0)
        stop.set()
        stream.cancel()
        reader.cancel()
        latencies.sort()
    return {
        "writes": writes,
        "writes_per_s": writes / elapsed,
        "changes": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": latencies[-1],
    }


# ---- the driver --------------------------------------------------------------------------


def _client(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.facts", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT.parent,
    )
    if done.returncode != 0:
        raise SystemExit(f"client failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _drive(options: argparse.Namespace) -> int:  # noqa: PLR0915 - one linear script
    from bench import __main__ as main_bench
    from bench.seed import FACT_CONSUMER, seed
    from identity_context.adapters.auth.local_issuer import LocalIssuer
    from identity_context.adapters.postgres.embedded import EmbeddedPostgres
    from identity_context.adapters.postgres.migrations import apply_migrations
    from identity_context.adapters.postgres.provisioning import provision

    work: Path = options.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    print(f"load average at start: {main_bench._loadavg()}", flush=True)
    embedded = EmbeddedPostgres(work / "db")
    admin_url = embedded.start()
    processes: list[subprocess.Popen[Any]] = []
    name = "identity_context_facts_bench"
    try:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        started = time.monotonic()
        provisioned = asyncio.run(provision(admin_url, database=name))
        asyncio.run(apply_migrations(provisioned.migration_url))
        seeded = seed(admin_url, name)
        with (
            psycopg.connect(_database_url(admin_url, name), autocommit=True) as conn,
            psycopg.ClientCursor(conn) as cursor,
        ):
            cursor.execute(_SEED, {"t": BIG, "users": options.users, "per": PER_USER})
            conn.execute("VACUUM ANALYZE facts")  # as autovacuum would: index-only scans
            total = conn.execute(
                "SELECT count(*) FROM facts WHERE tenant_id = %s AND mode = 1", (BIG,)
            ).fetchone()
        print(f"seeded {total[0] if total else 0} facts in {time.monotonic() - started:.1f} s")
        bare_log = work / "bare.log"
        bare = subprocess.Popen(
            [sys.executable, "-m", "bench.facts", "bare", _database_url(admin_url, name)],
            stdout=bare_log.open("w"),
            stderr=subprocess.STDOUT,
            cwd=ROOT.parent,
        )
        processes.append(bare)
        bare_port = main_bench._read_port(bare_log, "port ", bare, 600)
        data_dir = work / "facts-service"
        service, port = main_bench._start_service(
            data_dir,
            work / "facts-service.log",
            {
                "IDENTITY_CONTEXT_DATABASE_URL": provisioned.runtime_url,
                "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": provisioned.migration_url,
            },
        )
        processes.append(service)
        address = f"127.0.0.1:{port}"
        main_bench._wait_serving(address)
        issuer = LocalIssuer(data_dir)
        consumer = issuer.mint(FACT_CONSUMER, "tenant:platform", ttl_s=7200)
        rows: dict[str, list[dict[str, Any]]] = {"bare": [], "service": []}
        for round_ in range(options.rounds):
            bare_result = _client("export", f"127.0.0.1:{bare_port}", "none")
            bare_result["rss_growth_mb"] = 0.0
            rows["bare"].append(bare_result)
            with _RssSampler(service.pid) as rss:
                result = _client("export", address, consumer)
            result["rss_growth_mb"] = rss.growth_mb
            rows["service"].append(result)
            print(
                f"round {round_ + 1}/{options.rounds}: bare {bare_result['facts_per_s']:.0f}"
                f" facts/s, service {result['facts_per_s']:.0f} facts/s"
                f" ({result['facts']} facts), service RSS +{rss.growth_mb:.1f} MB",
                flush=True,
            )
        small = seeded.tenants[1]
        admin_token = issuer.mint(seeded.admins[1], small, ttl_s=7200)
        watch = _client(
            "watch",
            address,
            consumer,
            admin_token,
            small,
            json.dumps(seeded.small_users[small]),
            str(options.watch_seconds),
        )
        print(
            f"watch: {watch['writes_per_s']:.0f} writes/s, {watch['changes']} changes,"
            f" commit-to-delivery p50 {watch['p50_ms']:.1f} ms p99 {watch['p99_ms']:.1f} ms",
            flush=True,
        )
    finally:
        for process in processes:
            main_bench._stop(process)
        embedded.stop()

    def median(side: str, key: str) -> float:
        return statistics.median(r[key] for r in rows[side])

    bare_fps, service_fps = median("bare", "facts_per_s"), median("service", "facts_per_s")
    table = "\n".join(
        [
            f"{'scenario':<28}{'facts/s':>12}{'x bare':>8}{'RSS +MB':>9}",
            "-" * 57,
            f"{'export.bare_stream':<28}{bare_fps:>12.0f}{'':>8}{'':>9}",
            f"{'export.native_1m':<28}{service_fps:>12.0f}{service_fps / bare_fps:>8.2f}"
            f"{max(r['rss_growth_mb'] for r in rows['service']):>9.1f}",
            "",
            f"{'scenario':<28}{'writes/s':>12}{'p50 ms':>8}{'p99 ms':>9}",
            "-" * 57,
            f"{'watch.commit_to_delivery':<28}{watch['writes_per_s']:>12.0f}"
            f"{watch['p50_ms']:>8.1f}{watch['p99_ms']:>9.1f}",
        ]
    )
    print()
    print(table)
    print(f"load average at end: {main_bench._loadavg()}")
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    out = ROOT / "results" / f"facts-{run_id}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"run_id": run_id, "machine": machine, "export": rows, "watch": watch, "table": table},
            indent=2,
        )
    )
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["bare"]:
        asyncio.run(_serve_bare(args[1]))
        return 0
    if args[:1] == ["export"]:
        print(json.dumps(asyncio.run(_export(args[1], args[2]))))
        return 0
    if args[:1] == ["watch"]:
        address, consumer, admin, tenant, users, seconds = args[1:7]
        print(
            json.dumps(
                asyncio.run(
                    _watch(address, consumer, admin, tenant, json.loads(users), float(seconds))
                )
            )
        )
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.facts", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--users", type=int, default=USERS, help="10 facts each (default 100k)")
    parser.add_argument("--watch-seconds", type=float, default=10.0, help="default 10")
    parser.add_argument("--work-dir", type=Path, default=ROOT / ".work")
    return _drive(parser.parse_args(args))


if __name__ == "__main__":
    sys.exit(main())
