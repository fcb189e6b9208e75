"""The README's test command is exactly what CI runs."""

from __future__ import annotations

import re

from support import REPO


def _readme_test_command() -> str:
    readme = (REPO / "README.md").read_text()
    head = readme.split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)\n```", head, re.S)
    assert len(blocks) == 2, "README must start with the two commands"
    return blocks[1].strip()


def test_ci_runs_the_readme_test_command() -> None:
    command = _readme_test_command()
    assert "pytest" in command
    ci = (REPO / ".ci" / "run").read_text()
    assert command in ci.splitlines()
