"""The real Cerbos PDP for tests: installed from the npm registry once, cached, on free ports."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

CERBOS_VERSION = "0.55.0"
CERBOS_PACKAGE = f"@cerbos/cerbos-linux-x64@{CERBOS_VERSION}"


def cache_dir() -> Path:
    """Where the tests keep what they download (IDENTITY_CONTEXT_TEST_CACHE overrides)."""
    given = os.environ.get("IDENTITY_CONTEXT_TEST_CACHE")
    return Path(given) if given else Path.home() / ".cache" / "identity-context-tests"


def cerbos_dir() -> Path:
    return cache_dir() / f"cerbos-{CERBOS_VERSION}"


def cerbos_binary() -> Path:
    """The Cerbos binary, installed with npm into the cache on first use."""
    assert platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64"), (
        "the Cerbos tests use the linux-x64 package"
    )
    folder = cerbos_dir()
    binary = folder / "node_modules" / "@cerbos" / "cerbos-linux-x64" / "cerbos-linux-x64"
    if not binary.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(folder),
             CERBOS_PACKAGE],
            check=True,
            timeout=600,
        )  # fmt: skip
    return binary


def free_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


class CerbosServer:
    """``cerbos server`` with a disk store of *policies*, on free loopback ports."""

    def __init__(self, policies: Path, log: Path) -> None:
        self.http = free_address()
        self.url = f"http://{self.http}"
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [
                str(cerbos_binary()),
                "server",
                "--set=storage.driver=disk",
                f"--set=storage.disk.directory={policies}",
                f"--set=server.httpListenAddr={self.http}",
                f"--set=server.grpcListenAddr={free_address()}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log = log
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_cerbos/health", timeout=1) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"Cerbos did not start:\n{log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()
