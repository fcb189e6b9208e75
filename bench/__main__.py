"""Run the benchmark: ``python -m bench`` (from the repository root, after the README install).

Starts an embedded PostgreSQL under ``bench/.work``, seeds the data set
(bench/seed.py), starts the real service (``identity-context serve``) and the
floor server (bench/floor.py) as separate processes, and drives both from a
separate load-generator process (bench/load.py), interleaved: for every
concurrency and round, each floor and each service scenario runs once, in the
same order. Prints a table and writes JSON under ``bench/results/``.

Figures are ratios to the floor measured in the same run: machines here are
shared and noisy, absolute numbers are not comparable between runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench.seed import Seeded, seed
from identity_context.adapters.auth.local_issuer import LocalIssuer
from identity_context.adapters.postgres.embedded import EmbeddedPostgres
from identity_context.adapters.postgres.migrations import apply_migrations
from identity_context.adapters.postgres.provisioning import provision

ROOT = Path(__file__).resolve().parent
FLOORS = {
    "get_tenant_user.admin": "floor.pk_select",
    "get_tenant_user.self": "floor.pk_select",
    "list_memberships": "floor.pk_select",
    "grant.one_tenant": "floor.insert_commit",
    "grant.spread": "floor.insert_commit",
    "identity_context": "floor.pk_select",
    "project_claims": "floor.pk_select",
}
ORDER = [
    "floor.echo",
    "floor.pk_select",
    "floor.insert_commit",
    "get_tenant_user.admin",
    "get_tenant_user.self",
    "list_memberships",
    "identity_context",
    "project_claims",
    "grant.one_tenant",
    "grant.spread",
]
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _postgres_cpu_seconds() -> float:
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text:
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _wait_serving(address: str, timeout: float = 60.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            except grpc.RpcError:
                pass
            time.sleep(interval)
    raise SystemExit(f"{address} never became SERVING")


def _read_port(log: Path, marker: str, process: subprocess.Popen[Any], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if marker in line:
                return int(line.split(marker, 1)[1].split(",")[0].split()[0].strip(")"))
        if process.poll() is not None:
            raise SystemExit(f"process exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    raise SystemExit(f"no port in {log}")


def _service_env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDENTITY_CONTEXT_")}
    env.update(
        {
            "IDENTITY_CONTEXT_DATA_DIR": str(data_dir),
            "IDENTITY_CONTEXT_LISTEN": "127.0.0.1:0",
            "IDENTITY_CONTEXT_SHUTDOWN_PAUSE_S": "0",
        }
    )
    env.update(extra)
    return env


def _start_service(
    data_dir: Path, log: Path, extra: dict[str, str]
) -> tuple[subprocess.Popen[Any], int]:
    out = log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "identity_context.cli", "serve"],
        env=_service_env(data_dir, extra),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    return process, _read_port(log, "(port ", process, 120)


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def _measure_startup(work: Path, runs: int) -> dict[str, Any]:
    """Serve to SERVING with the default embedded store and a warm data directory."""
    data_dir = work / "startup"
    log = work / "startup.log"
    process, port = _start_service(data_dir, log, {})  # cold: initdb, migrate
    _wait_serving(f"127.0.0.1:{port}", timeout=180)
    _stop(process)
    times = []
    for _ in range(runs):
        started = time.monotonic()
        process, port = _start_service(data_dir, log, {})
        _wait_serving(f"127.0.0.1:{port}", timeout=60, interval=0.01)
        times.append(time.monotonic() - started)
        _stop(process)
    return {"runs_s": times, "median_s": statistics.median(times)}


def _load(spec: dict[str, Any], server_pid: int, profile: Path | None = None) -> dict[str, Any]:
    cpu_before, db_before = _cpu_seconds(server_pid), _postgres_cpu_seconds()
    spy = None
    if profile is not None:  # py-spy (dev extra) samples the server while the load runs
        profile.mkdir(parents=True, exist_ok=True)
        out = profile / f"{spec['scenario']}-c{spec['concurrency']}.txt"
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "-p",
                str(server_pid),
                "-o",
                str(out),
                "--format",
                "raw",
                "-d",
                str(int(spec["duration"] + 1)),
                "-r",
                "200",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ran = subprocess.run(
        [sys.executable, "-m", "bench.load"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT.parent,
    )
    if spy is not None:
        spy.wait(60)
    if ran.returncode != 0:
        raise SystemExit(f"load generator failed for {spec['scenario']}:\n{ran.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(ran.stdout)
    calls = max(result["total_calls"], 1)
    result["server_cpu_ms"] = (_cpu_seconds(server_pid) - cpu_before) * 1000 / calls
    result["db_cpu_ms"] = (_postgres_cpu_seconds() - db_before) * 1000 / calls
    return result


def _specs(
    seeded: Seeded, issuer: LocalIssuer, floor_address: str, service_address: str, run_id: str
) -> dict[str, dict[str, Any]]:
    tokens = {
        t: issuer.mint(a, t, ttl_s=7200) for t, a in zip(seeded.tenants, seeded.admins, strict=True)
    }
    selves = seeded.big_users[::40][:250]
    service = {"address": service_address, "tenant": seeded.big_tenant, "run_id": run_id}
    return {
        "floor.echo": {"address": floor_address},
        "floor.pk_select": {
            "address": floor_address,
            "tenant": seeded.big_tenant,
            "users": seeded.big_users[::7],
        },
        "floor.insert_commit": {"address": floor_address},
        "get_tenant_user.admin": {
            **service,
            "admin_token": tokens[seeded.big_tenant],
            "users": seeded.big_users[::7],
        },
        "get_tenant_user.self": {
            **service,
            "self_tokens": [(u, issuer.mint(u, seeded.big_tenant, ttl_s=7200)) for u in selves],
        },
        "list_memberships": {**service, "admin_token": tokens[seeded.big_tenant]},
        # The gateway asks for the users of the big tenant; a quarter wear a hat.
        "identity_context": {
            **service,
            "gateway_token": issuer.mint(seeded.gateway, "tenant:platform", ttl_s=7200),
            "users": seeded.big_users[::3],
        },
        "project_claims": {
            **service,
            "gateway_token": issuer.mint(seeded.gateway, "tenant:platform", ttl_s=7200),
            "users": seeded.wearers,
        },
        "grant.one_tenant": {
            **service,
            "grant_targets": [
                (
                    seeded.big_tenant,
                    tokens[seeded.big_tenant],
                    seeded.big_users[:2000],
                    seeded.big_scopes,
                )
            ],
        },
        "grant.spread": {
            **service,
            "grant_targets": [(t, tokens[t], seeded.small_users[t], []) for t in seeded.tenants],
        },
    }


def _table(results: dict[str, Any], concurrencies: list[int]) -> str:
    head = (
        f"{'scenario':<24}{'c':>4}{'RPS':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'svc CPU ms':>11}{'db CPU ms':>10}{'floor RPS':>11}{'x RPS':>7}{'x p99':>7}"
    )
    lines = [head, "-" * len(head)]
    for c in concurrencies:
        for scenario in ORDER:
            row = results[str(c)].get(scenario)
            if row is None:
                continue
            floor = results[str(c)].get(FLOORS.get(scenario, ""), None)
            ratio = f"{row['rps'] / floor['rps']:.2f}" if floor else ""
            p99 = f"{row['p99_ms'] / floor['p99_ms']:.2f}" if floor and floor["p99_ms"] else ""
            lines.append(
                f"{scenario:<24}{c:>4}{row['rps']:>9.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}"
                f"{row['server_cpu_ms']:>11.3f}{row['db_cpu_ms']:>10.3f}"
                f"{(floor['rps'] if floor else 0):>11.0f}{ratio:>7}{p99:>7}"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per run (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--concurrency", default="1,8,64", help="comma-separated (default 1,8,64)")
    parser.add_argument("--scenarios", default=",".join(ORDER), help="comma-separated subset")
    parser.add_argument("--startup-runs", type=int, default=3, help="warm starts to time")
    parser.add_argument("--work-dir", type=Path, default=ROOT / ".work")
    parser.add_argument(
        "--profile", type=Path, help="sample the service with py-spy into this folder"
    )
    options = parser.parse_args(argv)
    concurrencies = [int(c) for c in options.concurrency.split(",")]
    wanted = [s for s in ORDER if s in options.scenarios.split(",")]
    work: Path = options.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    print(f"load average at start: {_loadavg()}", flush=True)

    embedded = EmbeddedPostgres(work / "db")
    admin_url = embedded.start()
    processes: list[subprocess.Popen[Any]] = []
    try:
        import asyncio

        with psycopg.connect(admin_url, autocommit=True) as admin:  # a fresh data set each run
            admin.execute("DROP DATABASE IF EXISTS identity_context_bench WITH (FORCE)")
        seeding = time.monotonic()
        provisioned = asyncio.run(provision(admin_url, database="identity_context_bench"))
        asyncio.run(apply_migrations(provisioned.migration_url))
        seeded = seed(admin_url, "identity_context_bench")
        print(f"seeded in {time.monotonic() - seeding:.1f} s", flush=True)
        params = conninfo_to_dict(admin_url)
        params["dbname"] = "identity_context_bench"
        floor_log = work / "floor.log"
        floor = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", "--database-url", make_conninfo("", **params)],
            stdout=floor_log.open("w"),
            stderr=subprocess.STDOUT,
            cwd=ROOT.parent,
        )
        processes.append(floor)
        floor_port = _read_port(floor_log, "port ", floor, 60)
        data_dir = work / "service"
        service, port = _start_service(
            data_dir,
            work / "service.log",
            {
                "IDENTITY_CONTEXT_DATABASE_URL": provisioned.runtime_url,
                "IDENTITY_CONTEXT_MIGRATION_DATABASE_URL": provisioned.migration_url,
            },
        )
        processes.append(service)
        service_address = f"127.0.0.1:{port}"
        _wait_serving(service_address)
        specs = _specs(
            seeded, LocalIssuer(data_dir), f"127.0.0.1:{floor_port}", service_address, run_id
        )
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for c in concurrencies:
            for round_ in range(options.rounds):
                for scenario in wanted:
                    spec = {
                        **specs[scenario],
                        "scenario": scenario,
                        "concurrency": c,
                        "duration": options.duration,
                        "seed": round_,
                        "run_id": f"{run_id}-{c}-{round_}",
                    }
                    on_floor = scenario.startswith("floor.")
                    pid = floor.pid if on_floor else service.pid
                    result = _load(spec, pid, None if on_floor else options.profile)
                    runs.setdefault(str(c), {}).setdefault(scenario, []).append(result)
                    print(
                        f"c={c:<3} round {round_ + 1}/{options.rounds} {scenario:<24}"
                        f" {result['rps']:8.0f} rps  p99 {result['p99_ms']:7.2f} ms"
                        f"  errors {result['errors'] or 0}",
                        flush=True,
                    )
            print(f"load average after c={c}: {_loadavg()}", flush=True)
        for process in processes:
            _stop(process)
        startup = _measure_startup(work, options.startup_runs)
    finally:
        for process in processes:
            _stop(process)
        embedded.stop()

    keys = ("rps", "p50_ms", "p99_ms", "server_cpu_ms", "db_cpu_ms")
    summary = {
        c: {s: {k: statistics.median(r[k] for r in rs) for k in keys} for s, rs in by.items()}
        for c, by in runs.items()
    }
    table = _table(summary, concurrencies)
    print()
    print(table)
    print(
        f"serve to SERVING, warm data dir: median {startup['median_s']:.2f} s {startup['runs_s']}"
    )
    print(f"load average at end: {_loadavg()}")
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    print(f"machine: {machine}")
    results_dir = ROOT / "results"
    results_dir.mkdir(exist_ok=True)
    out = results_dir / f"{run_id}.json"
    out.write_text(
        json.dumps(
            {
                "run_id": run_id,
                "machine": machine,
                "options": {k: str(v) for k, v in vars(options).items()},
                "summary": summary,
                "runs": runs,
                "startup": startup,
                "table": table,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
