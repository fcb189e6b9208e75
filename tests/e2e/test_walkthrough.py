"""The README's operator walkthrough, run verbatim with the real grpcurl binary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, ServerProcess, readme_block

pytestmark = pytest.mark.e2e


def walkthrough() -> str:
    return readme_block("walkthrough")


def run_after_walkthrough(server: ServerProcess, tmp_path: Path, *blocks: str) -> str:
    """Run the walkthrough and then *blocks* (README blocks, or markers to echo) in one
    bash shell against *server*; return the output (the run must succeed)."""
    server.wait_serving(timeout=120)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDENTITY_CONTEXT_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ADDR"] = server.address
    ran = subprocess.run(
        ["bash", "-e", "-c", "\n".join([walkthrough(), *blocks])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    return output


def test_readme_walkthrough_runs_verbatim(tmp_path: Path) -> None:
    server = ServerProcess({}, cwd=tmp_path)  # embedded PostgreSQL in tmp_path, like README
    try:
        server.wait_serving(timeout=120)
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDENTITY_CONTEXT_")}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["ADDR"] = server.address
        ran = subprocess.run(
            ["bash", "-e", "-c", walkthrough()],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = ran.stdout + ran.stderr
        assert ran.returncode == 0, output
        assert '"tenantId": "tenant:coulomb"' in output
        assert '"applicationId": "app:mail"' in output
        assert '"scopeId": "realm:coulomb/research"' in output
        assert '"relation": "editor"' in output
        assert "Code: PermissionDenied" in output and "PLATFORM_ROOT_DENIED" in output
        assert "carol was denied, as she should be" in output
        assert '"valid": true' in output
        # Step 7 prints what the README shows after the block, line for line.
        readme = (REPO / "README.md").read_text()
        shown = readme.split("<!-- walkthrough:end -->", 1)[1].split("```text\n", 1)[1]
        for line in shown.split("\n```", 1)[0].splitlines():
            assert line in output, line
        # Bootstrapping again changes nothing.
        again = subprocess.run(
            ["identity-context", "bootstrap-platform", "--operator", "user:olivia"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert again.returncode == 0, again.stderr
        assert "(0 change(s))" in again.stdout
        assert server.terminate() == 0, server.log
    finally:
        server.kill()


def test_readme_hats_block_runs_verbatim_after_the_walkthrough(tmp_path: Path) -> None:
    server = ServerProcess({}, cwd=tmp_path)
    try:
        # The hats block continues the walkthrough's shell (its call(), tokens, tenant).
        output = run_after_walkthrough(
            server, tmp_path, "echo '--- hats ---'", readme_block("hats")
        )
        hats = output.split("--- hats ---", 1)[1]
        hat = "profile:coulomb/research-editor@realm:coulomb/research"
        assert '"accessProfileId": "profile:coulomb/research-editor"' in hats
        assert f'"hatId": "{hat}"' in hats  # selected, then in the identity context
        assert '"source": "FACT_SOURCE_ACTIVE_CONTEXT"' in hats
        assert '"evidenceRef": "webauthn:cred-7f3a91c2"' in hats  # echoed to its recorder only
        claims = hats.split('"claims": {')
        assert len(claims) == 3, hats  # the two ProjectClaims answers
        assert f'"hat": "{hat}"' in claims[1] and '"desk": "research"' in claims[1]
        assert '"realm": "realm:coulomb/research"' in claims[1]
        assert '"hat": null' in claims[2] and '"desk"' not in claims[2]
        assert server.terminate() == 0, server.log
    finally:
        server.kill()


def test_readme_facts_block_runs_verbatim_after_the_hats_block(tmp_path: Path) -> None:
    server = ServerProcess({}, cwd=tmp_path)
    try:
        output = run_after_walkthrough(
            server, tmp_path, readme_block("hats"), "echo '--- facts ---'", readme_block("facts")
        )
        facts = output.split("--- facts ---", 1)[1]
        export, watch = facts.split('"factsToken"', 1)[0], facts.split("FACT_OPERATION_WRITE", 1)
        assert '"relation": "parent"' in export and '"relation": "tenant-admin"' in export
        assert len(watch) == 2, facts  # the watch delivered changes
        assert '"subject": "user:dan"' in watch[1] and '"heartbeat"' in facts
        assert '"viaGroups": [' in facts
        assert '{"user":"user:dan","relation":"editor","object":"realm:coulomb/research"}' in facts
        assert (
            "define editor: [user, group#member] or editor from parent"
            in (tmp_path / "model.fga").read_text()
        )
        assert server.terminate() == 0, server.log
    finally:
        server.kill()
