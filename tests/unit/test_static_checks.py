"""ruff and mypy --strict are clean on src/ (run as part of the test suite)."""

from __future__ import annotations

import subprocess
import sys

from support import REPO, tool


def test_ruff_is_clean_on_src_tests_and_bench() -> None:
    checked = subprocess.run(
        [tool("ruff"), "check", "src", "tests", "bench"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_mypy_strict_is_clean_on_src() -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "src"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
