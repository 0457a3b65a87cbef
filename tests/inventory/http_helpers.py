"""A FastAPI app on a free loopback port in a background thread (real HTTP, no extra client
package), and a tiny JSON client over urllib."""
from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

from tests.servers import free_port


@contextlib.contextmanager
def running(app) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def call(url: str, body: bytes | dict | None = None, content_type: str = "application/json",
         headers: dict | None = None) -> tuple[int, dict]:
    """(status, JSON body) of a GET (body None) or POST."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    sent = {**({"content-type": content_type} if data is not None else {}), **(headers or {})}
    req = urllib.request.Request(url, data=data, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
