"""OPC UA test helpers: a throwaway PKI (certificates of the pipeline's applications, one user),
a config pointed at it, and an asyncua server kept running in its own thread for a module."""
from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pipeline.core import opcua_security as sec

USER = "monitor"


def make_pki(folder: Path, names=sec.IDENTITIES, user: str = USER) -> dict:
    """Certificates of `names` (all trusted) and `user` with a random password in `folder`."""
    return {"pki": folder, "user": user, "password": sec.throwaway_pki(folder, user, names)}


def monitored_items(server) -> int:
    """Monitored items an asyncua server holds over all its subscriptions: the server's own view
    of whether a client's subscription is in place (asyncua's client reports CONNECTED after a
    reconnect before it has re-created its subscription)."""
    subs = server.iserver.subscription_service.subscriptions.values()
    return sum(len(s.monitored_item_srv._monitored_items) for s in subs)


def secured(cfg: DictConfig, pki: Path, policy: str = sec.POLICY_SECURE) -> DictConfig:
    """A writable copy of `cfg` whose live.security uses `pki` with `policy`."""
    copy = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    copy.live.security.pki = str(pki)
    copy.live.security.users_file = None
    copy.live.security.policy = policy
    return copy


def session_pki() -> dict:
    """One PKI per test process (under the system temp folder), with the monitor's password in
    the environment variable conf names: what a user sets up once, for the live-monitor tests."""
    global _SESSION
    if _SESSION is None:
        import tempfile

        _SESSION = make_pki(Path(tempfile.mkdtemp(prefix="pki-")))
        os.environ["TABLET_OPCUA_PASSWORD"] = _SESSION["password"]
    return _SESSION


_SESSION: dict | None = None


class ServerThread:
    """Runs `start()` (an async factory returning an object with `async stop()`) in a private event
    loop on a thread; `stop()` stops it there. Clients connect from the test's own loop."""

    def __init__(self, start):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(timeout=120)

    def call(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def stop(self) -> None:
        try:
            self.call(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()
