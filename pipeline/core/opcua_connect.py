"""How the live re-planner's OPC UA servers and clients are set up: one function each, the place where
security (certificates, users) plugs in. Used by the scripted press server (pipeline/data/press_opcua.py)
and the planner (pipeline/optimize/live/service.py)."""
from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger("pipeline.core.opcua_connect")


async def new_server(endpoint: str, name: str):
    """An initialised asyncua Server on `endpoint` (not started: the caller adds its nodes first)."""
    from asyncua import Server

    server = Server()
    await server.init()
    server.set_endpoint(endpoint)
    server.set_server_name(name)
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


async def connect_with_retry(client, endpoint: str, timeout_s: float, hint: str) -> None:
    """Connect, trying again every second for up to `timeout_s`; then ConnectionError naming `hint`
    (the config key and the command that starts the server)."""
    deadline = time.monotonic() + timeout_s
    waiting = False
    while True:
        try:
            await client.connect()
            return
        except (OSError, asyncio.TimeoutError) as exc:
            if not waiting:
                waiting = True
                log.info("waiting for the OPC UA server at %s (up to %g s)", endpoint, timeout_s)
            if time.monotonic() > deadline:
                raise ConnectionError(f"no OPC UA server at {endpoint} after {timeout_s:g} s ({hint})") from exc
            await asyncio.sleep(1.0)
