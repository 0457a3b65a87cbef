"""The inventory service as its README starts it, for the benchmarks beside this file: start the
command on a free loopback port, wait until it answers, send bodies piece by piece (noting how
much the service's host took before it answered), read each process's peak resident memory,
stop it. Also the service of another git
revision (extracted with `git archive`, nothing added to the repository) for before/after runs."""
from __future__ import annotations

import contextlib
import http.client
import io
import os
import select
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from loopback import free_port


@dataclass
class Service:
    name: str
    port: int
    token: str | None
    process: subprocess.Popen
    log: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"} if self.token else {}

    def tree(self) -> list[psutil.Process]:
        try:
            parent = psutil.Process(self.process.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.Error:
            return []


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 120) -> tuple[int, bytes, float]:
    """(status, reply body, wall ms) of one request on a fresh connection."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        reply = conn.getresponse()
        data = reply.read()
        return reply.status, data, (time.perf_counter() - t0) * 1000.0
    finally:
        conn.close()


@dataclass
class Sent:
    """One request sent piece by piece: the reply, and how much of the body the service's host took."""
    status: int | None          # None: the connection was reset before a reply could be read
    reply: bytes
    ms: float
    bytes_sent: int             # body bytes this client handed to its socket
    bytes_acked: int            # bytes (headers included) the service's kernel acknowledged when the reply
                                # came: an upper bound on what the service read (TCP_INFO tcpi_bytes_acked)


def _acked(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return struct.unpack_from("Q", info, 120)[0] - 1  # tcpi_bytes_acked counts the SYN


def send_body(port: int, path: str, headers: dict, pieces, chunked: bool = False, length: int | None = None,
              timeout: float = 300) -> Sent:
    """POST `pieces` (bytes, one after the other), chunked or with Content-Length `length`; stop
    sending as soon as the service answers (an early 413 or 401), as a careful client would."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.putrequest("POST", path)
    for k, v in {**headers, **({"transfer-encoding": "chunked"} if chunked else {"content-length": str(length)})}.items():
        conn.putheader(k, v)
    conn.endheaders()
    sent, sock = 0, conn.sock
    try:
        for piece in pieces:
            if select.select([sock], [], [], 0)[0]:
                break  # a reply (or a close) is waiting: the service has stopped reading
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n" if chunked else piece)
            sent += len(piece)
        else:
            if chunked:
                sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    select.select([sock], [], [], timeout)  # the reply's first bytes: what the host took by then
    acked = _acked(sock)
    try:
        reply = conn.getresponse()
        data = reply.read()
        return Sent(reply.status, data, (time.perf_counter() - t0) * 1000.0, sent, acked)
    except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
        return Sent(None, b"", (time.perf_counter() - t0) * 1000.0, sent, -1)
    finally:
        conn.close()


@contextlib.contextmanager
def running(name: str, root: Path, args: list[str], token: str | None, env: dict | None = None,
            timeout: float = 180) -> Iterator[Service]:
    """`python -m pipeline.inventory serve --port <free> <args>` in `root`, up until the `with` ends."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix=f"service-{port}-", suffix=".log")[1])
    env = {**os.environ, **(env or {})}
    if token:
        env["INVENTORY_SERVICE_TOKEN"] = token
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.inventory", "serve", "--port", str(port), *args],
                                cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    service = Service(name, port, token, proc, log)
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if request(port, "GET", "/health", headers=service.headers, timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield service
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.unlink(missing_ok=True)


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory (VmHWM of /proc/<pid>/status), bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Watch:
    """Peak resident memory of each process of a service over a `with` block: the kernel's own
    high-water mark (VmHWM), reset at the start where allowed (/proc/<pid>/clear_refs, 5); no
    sampling thread, so nothing competes with the clients being timed."""
    service: Service
    peak: dict[int, int] = field(default_factory=dict)
    reset: bool = True   # False: a process's peak since it started (clear_refs refused)

    def __enter__(self) -> "Watch":
        for p in self.service.tree():
            try:
                Path(f"/proc/{p.pid}/clear_refs").write_text("5")
            except OSError:
                self.reset = False
        return self

    def read(self) -> dict[int, int]:
        """Each process's peak so far (since the `with` began)."""
        for p in self.service.tree():
            with contextlib.suppress(OSError):
                self.peak[p.pid] = _peak_rss(p.pid)
        return self.peak

    def __exit__(self, *exc) -> None:
        self.read()

    def max_gb(self) -> float:
        return max(self.peak.values(), default=0) / 1e9


@contextlib.contextmanager
def revision_tree(root: Path, rev: str) -> Iterator[Path]:
    """The files of git revision `rev` in a temporary folder (git archive: no worktree, no checkout)."""
    data = subprocess.run(["git", "archive", "--format=tar", rev], cwd=root, check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory(prefix=f"service-{rev[:8]}-") as folder:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder)
