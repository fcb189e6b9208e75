"""The proto contracts: buf lint, generated code freshness, error reasons in step."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

from identitycontext.v1 import errors_pb2
from support import REPO, tool

from identity_context.domain.errors import ErrorReason
from identity_context.protogen import generate


def test_buf_lint_passes() -> None:
    linted = subprocess.run(
        [tool("buf"), "lint"], cwd=REPO, capture_output=True, text=True, check=False, timeout=120
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_buf_lint_rejects_an_uncommented_message(tmp_path: Path) -> None:
    # Proves the lint configuration is live: the same check on a bad copy fails.
    (tmp_path / "proto" / "identitycontext" / "v1").mkdir(parents=True)
    (tmp_path / "buf.yaml").write_text((REPO / "buf.yaml").read_text())
    (tmp_path / "proto" / "identitycontext" / "v1" / "bad.proto").write_text(
        'syntax = "proto3";\npackage identitycontext.v1;\nmessage Bad {}\n'
    )
    linted = subprocess.run(
        [tool("buf"), "lint"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert linted.returncode != 0
    assert "Bad" in linted.stdout + linted.stderr


def _tree(root: Path) -> set[Path]:
    return {
        p.relative_to(root) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }


def test_generated_code_is_what_protogen_produces(tmp_path: Path) -> None:
    fresh = tmp_path / "generated"
    generate(REPO / "proto", fresh)
    committed = REPO / "generated"
    assert _tree(fresh) == _tree(committed), "run: python -m identity_context.protogen"
    stale = [
        str(p)
        for p in sorted(_tree(fresh))
        if not filecmp.cmp(fresh / p, committed / p, shallow=False)
    ]
    assert not stale, f"generated/ is stale ({stale}); run: python -m identity_context.protogen"


def test_domain_error_reasons_match_the_proto_enum() -> None:
    proto = {
        name.removeprefix("ERROR_REASON_")
        for name in errors_pb2.ErrorReason.DESCRIPTOR.values_by_name
        if name != "ERROR_REASON_UNSPECIFIED"
    }
    assert proto == {reason.value for reason in ErrorReason}


def test_dockerfile_passes_hadolint_and_runs_as_non_root() -> None:
    linted = subprocess.run(
        [tool("hadolint"), "Dockerfile"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    text = (REPO / "Dockerfile").read_text()
    assert "USER 10001" in text and "EXPOSE 50051" in text
    assert 'CMD ["identity-context", "health"]' in text
    assert "IDENTITY_CONTEXT_LISTEN=0.0.0.0:50051" in text
