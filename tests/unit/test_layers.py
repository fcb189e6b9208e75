"""Layers import downwards only (DESIGN section 2)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "identity_context"

# layer -> the first-party layers it may import
ALLOWED = {
    "domain": {"domain"},
    "application": {"domain", "application"},
    "adapters": {"domain", "application", "adapters"},
    "api": {"domain", "application", "api"},
}
TOP_LEVEL = {"__init__", "protogen"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _layer_files(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_allowed_layers(layer: str) -> None:
    offenders = []
    for path in _layer_files(layer):
        for module in _imports(path):
            if module == "identity_context" or module.startswith("identity_context."):
                parts = module.split(".")
                target = parts[1] if len(parts) > 1 else "__init__"
                if target in TOP_LEVEL:
                    continue
                if target not in ALLOWED[layer]:
                    offenders.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not offenders, offenders


def test_domain_uses_only_the_standard_library() -> None:
    offenders = []
    for path in _layer_files("domain"):
        for module in _imports(path):
            root = module.split(".")[0]
            if root != "identity_context" and root not in sys.stdlib_module_names:
                offenders.append(f"{path.name} imports {module}")
    assert not offenders, offenders


def test_api_does_not_touch_sql_or_policy_libraries() -> None:
    for path in _layer_files("api"):
        roots = {m.split(".")[0] for m in _imports(path)}
        assert not roots & {"psycopg", "psycopg_pool", "cedarpy"}, path.name


def test_layer_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from identity_context.adapters.postgres import pool\n")
    assert "identity_context.adapters.postgres" in _imports(bad)
