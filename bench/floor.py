"""The floor: what this machine does with no service logic, over the same gRPC and pool settings.

``python -m bench.floor --database-url URL --pk-tenant T --pk-user U`` serves
three unary methods (raw bytes, no protobuf):

* ``/bench.Floor/Echo``: returns the request;
* ``/bench.Floor/PkSelect``: one primary-key SELECT through a psycopg pool;
* ``/bench.Floor/InsertCommit``: one INSERT, committed (autocommit).

It prints ``port <n>`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import Any

import grpc
from psycopg_pool import AsyncConnectionPool

_SELECT = (
    "SELECT tenant_id, user_id, display_name, state, version, created_at, updated_at"
    " FROM tenant_accounts WHERE tenant_id = %s AND user_id = %s"
)
_INSERT = "INSERT INTO bench_floor_writes (payload) VALUES (%s)"


class Floor(grpc.GenericRpcHandler):
    """The three floor methods."""

    def __init__(self, pool: AsyncConnectionPool, writes: AsyncConnectionPool) -> None:
        self._pool = pool
        self._writes = writes

    async def echo(self, request: bytes, context: Any) -> bytes:
        return request

    async def pk_select(self, request: bytes, context: Any) -> bytes:
        tenant, user = request.decode().split(" ", 1)
        async with self._pool.connection() as conn:
            row = await (await conn.execute(_SELECT, (tenant, user))).fetchone()
        return json.dumps(row, default=str).encode()

    async def insert_commit(self, request: bytes, context: Any) -> bytes:
        async with self._writes.connection() as conn:
            await conn.execute(_INSERT, (request.decode(),))
        return b"ok"

    def service(self, handler_call_details: Any) -> Any:
        method = {
            "/bench.Floor/Echo": self.echo,
            "/bench.Floor/PkSelect": self.pk_select,
            "/bench.Floor/InsertCommit": self.insert_commit,
        }.get(handler_call_details.method)
        return grpc.unary_unary_rpc_method_handler(method) if method else None


async def serve(database_url: str, pool_min: int, pool_max: int) -> None:
    # The same pool settings as the service (IDENTITY_CONTEXT_DB_POOL_MIN/_MAX).
    pool = AsyncConnectionPool(
        database_url, min_size=pool_min, max_size=pool_max, open=False, kwargs={"autocommit": True}
    )
    writes = AsyncConnectionPool(
        database_url, min_size=pool_min, max_size=pool_max, open=False, kwargs={"autocommit": True}
    )
    await pool.open(wait=True)
    await writes.open(wait=True)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((Floor(pool, writes),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"port {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(1)
    await pool.close()
    await writes.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--pool-min", type=int, default=2)
    parser.add_argument("--pool-max", type=int, default=10)
    options = parser.parse_args()
    import uvloop

    uvloop.run(serve(options.database_url, options.pool_min, options.pool_max))


if __name__ == "__main__":
    main()
