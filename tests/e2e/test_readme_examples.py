"""The README's grpcurl examples, run as written except for the address.

The README says 127.0.0.1:50051; the test runs the server on a free port and
puts that address where the README has 127.0.0.1:50051, so it never needs a
fixed port.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, ServerProcess

pytestmark = pytest.mark.e2e

README_ADDRESS = "127.0.0.1:50051"


def grpcurl_examples() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Try it with grpcurl", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)\n```", section, re.S)
    assert block
    return block.group(1)


def test_readme_grpcurl_examples_run_as_written(tmp_path: Path) -> None:
    # The README runs from the checkout, with the virtual environment in .venv.
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    server = ServerProcess({}, cwd=tmp_path)  # a free port
    try:
        server.wait_serving(timeout=120)
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDENTITY_CONTEXT_")}
        examples = grpcurl_examples()
        assert README_ADDRESS in examples
        ran = subprocess.run(
            ["bash", "-c", examples.replace(README_ADDRESS, server.address)],
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
        assert f"{server.address}: SERVING" in output
        assert "Code: NotFound" in output and "readme-1" in output
        assert server.terminate() == 0, server.log
    finally:
        server.kill()
