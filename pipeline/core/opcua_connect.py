"""How every OPC UA server and client of the pipeline is set up: one function each, secured as
`live.security` says (pipeline/core/opcua_security.py: certificates, users, read-only clients).

    server = await new_server(endpoint, "tablet-pipeline line monitor", security, MONITOR)
    client = new_client(endpoint, timeout_s, reconnect_max_delay_s)
    await connect_with_retry(client, endpoint, timeout_s, hint, security, MONITOR)

Used by the line server (pipeline/data/line_opcua.py), the live monitor (pipeline/process/live.py),
the scripted press server (pipeline/data/press_opcua.py) and the live planner
(pipeline/optimize/live/service.py)."""
from __future__ import annotations

import asyncio
import logging
import time

from pipeline.core.opcua_security import Settings, secure_client, secure_server

log = logging.getLogger("pipeline.core.opcua_connect")


async def new_server(endpoint: str, name: str, security: Settings, identity: str, allow_writes: bool = False):
    """An initialised, secured asyncua Server on `endpoint` as application `identity` (not started:
    the caller adds its nodes first). Clients read, browse and subscribe; `allow_writes` also lets
    them write the variables the server marks writable (nothing else)."""
    from asyncua import Server

    server = Server()
    await server.init()
    server.set_endpoint(endpoint)
    server.set_server_name(name)
    await secure_server(server, security, identity, allow_writes=allow_writes)
    return server


def new_client(endpoint: str, timeout_s: float, reconnect_max_delay_s: float | None = None):
    """An asyncua Client of `endpoint`; with `reconnect_max_delay_s` it reconnects by itself. Its
    health probe waits as long as a request: asyncua's 1 s default reads a busy 2-core machine as a
    lost server."""
    from asyncua import Client

    if reconnect_max_delay_s is None:
        return Client(endpoint, timeout=timeout_s, watchdog_intervall=timeout_s)
    return Client(endpoint, timeout=timeout_s, watchdog_intervall=timeout_s, auto_reconnect=True,
                  reconnect_max_delay=reconnect_max_delay_s)


async def connect_secured(client, security: Settings, identity: str) -> None:
    """One connection attempt as application `identity`; a server that is reached but refuses
    (certificate, user, policy) is a ConnectionError naming what was offered."""
    from asyncua import ua

    try:
        await secure_client(client, security, identity)  # asks the server for its endpoints: OSError if absent
        await client.connect()
    except ua.UaError as exc:
        who = f", user {security.user}" if security.enabled else ""
        raise ConnectionError(f"the OPC UA server at {client.server_url.geturl()} refused {identity} "
                              f"({security.policy} {security.mode}{who}): {exc} (docs/security.md)") from exc


async def connect_with_retry(client, endpoint: str, timeout_s: float, hint: str, security: Settings,
                             identity: str) -> None:
    """Connect, trying again every second for up to `timeout_s` while nothing answers; then
    ConnectionError naming `hint` (the config key and the command that starts the server). A
    refusal is not retried."""
    deadline = time.monotonic() + timeout_s
    waiting = False
    while True:
        try:
            await connect_secured(client, security, identity)
            return
        except (OSError, asyncio.TimeoutError) as exc:
            if not waiting:
                waiting = True
                log.info("waiting for the OPC UA server at %s (up to %g s)", endpoint, timeout_s)
            if time.monotonic() > deadline:
                raise ConnectionError(f"no OPC UA server at {endpoint} after {timeout_s:g} s ({hint})") from exc
            await asyncio.sleep(1.0)
