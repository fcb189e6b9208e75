"""The README's remote-authorization block, run verbatim: Cerbos from npm on the shipped
policies, the service pointed at it with the cerbos preset; then the walkthrough against it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from cerbos import cerbos_binary, cerbos_dir, free_address
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support import readme_block

pytestmark = pytest.mark.e2e


def test_readme_cerbos_block_runs_verbatim(tmp_path: Path) -> None:
    cerbos_binary()  # installs into the test cache the block then reuses (no second download)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDENTITY_CONTEXT_")}
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "CERBOS_DIR": str(cerbos_dir()),
            "CERBOS_HTTP": free_address(),
            "CERBOS_GRPC": free_address(),
            # The test's own choices: any free port, short shutdown, readable log.
            "IDENTITY_CONTEXT_LISTEN": "127.0.0.1:0",
            "IDENTITY_CONTEXT_SHUTDOWN_PAUSE_S": "0",
            "IDENTITY_CONTEXT_LOG_FORMAT": "text",
        }
    )
    run = subprocess.Popen(
        ["bash", "-e", "-c", readme_block("cerbos")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    listening = threading.Event()
    found: list[int] = []

    def read() -> None:
        assert run.stdout is not None
        for line in run.stdout:
            lines.append(line)
            match = re.search(r"listening on \S+ \(port (\d+),", line)
            if match and not found:
                found.append(int(match.group(1)))
                listening.set()
        listening.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert listening.wait(300) and found, "".join(lines)
        address = f"127.0.0.1:{found[0]}"
        with grpc.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=5)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
                time.sleep(0.2)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, "".join(lines)
        output = "".join(lines)
        assert "every known case of the manifest is decided as it should be" in output
        assert "the authorization engine passes the self-test" in output
        # The operator walkthrough, verbatim, now decided by Cerbos.
        walk_env = {k: v for k, v in env.items() if not k.startswith("IDENTITY_CONTEXT_")}
        walk_env["ADDR"] = address
        walk = subprocess.run(
            ["bash", "-e", "-c", readme_block("walkthrough")],
            cwd=tmp_path,
            env=walk_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        said = walk.stdout + walk.stderr
        assert walk.returncode == 0, said + "".join(lines)
        assert '"scopeId": "realm:coulomb/research"' in said
        assert "Code: PermissionDenied" in said and "PLATFORM_ROOT_DENIED" in said
        assert "carol was denied, as she should be" in said
        assert "PASS  policy.engine" in said and "tenant:coulomb: ready" in said
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGTERM)
        run.wait(60)
        reader.join(5)
    # Cerbos went down with the block (its EXIT trap or the group's SIGTERM).
    pattern = f"httpListenAddr={env['CERBOS_HTTP']}"
    deadline = time.monotonic() + 10
    while (
        subprocess.run(["pgrep", "-f", pattern], capture_output=True, check=False).returncode == 0
    ):
        assert time.monotonic() < deadline, "Cerbos outlived the README block"
        time.sleep(0.1)
