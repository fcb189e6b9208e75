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


def test_every_data_file_of_the_package_is_shipped() -> None:
    import fnmatch
    import tomllib

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["identity_context"]
    package = REPO / "src" / "identity_context"
    data = [
        p.relative_to(package).as_posix()
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts
    ]
    assert data
    unshipped = [f for f in data if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)]
    assert not unshipped, f"add to [tool.setuptools.package-data]: {unshipped}"
