"""The README's grpcurl examples, run verbatim against a server on 127.0.0.1:50051."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, ServerProcess

pytestmark = pytest.mark.e2e

README_ADDRESS = ("127.0.0.1", 50051)


def grpcurl_examples() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Try it with grpcurl", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)\n```", section, re.S)
    assert block
    return block.group(1)


def test_readme_grpcurl_examples_run_verbatim(tmp_path: Path) -> None:
    with socket.socket() as probe:
        free = probe.connect_ex(README_ADDRESS) != 0
    assert free, "the README examples need 127.0.0.1:50051; stop whatever listens there"
    # The README runs from the checkout, with the virtual environment in .venv.
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    server = ServerProcess({"IDENTITY_CONTEXT_LISTEN": "127.0.0.1:50051"}, cwd=tmp_path)
    try:
        server.wait_serving(timeout=120)
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDENTITY_CONTEXT_")}
        ran = subprocess.run(
            ["bash", "-c", grpcurl_examples()],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = ran.stdout + ran.stderr
        for service in (
            "identitycontext.v1.TenantAdminService",
            "grpc.health.v1.Health",
            "identitycontext.v1.FactExportService",
        ):
            assert service in output
        assert "identitycontext.v1.TenantAdminService is a service" in output
        assert "identitycontext.v1.Membership is a message" in output
        assert output.count('"status": "SERVING"') == 2
        assert "127.0.0.1:50051: SERVING" in output
        assert "Code: NotFound" in output and "readme-1" in output
        assert server.terminate() == 0, server.log
    finally:
        server.kill()
