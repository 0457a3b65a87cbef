"""Run a command against a one-node Ray cluster on loopback: `python with_ray_head.py CMD...`.

Ray binds its servers to every interface and swaps 127.0.0.1 for the machine's address, so the
head runs in a private network namespace whose only interface is loopback: start this script
under `unshare --net` (root). It starts `ray start --head --block` (its own process group),
waits for the head's port, runs CMD with RAY_ADDRESS set, stops the head's process group and
exits with CMD's code. The head's log is at $RAY_HEAD_LOG (default: a temporary file).

The head demands Ray's token authentication with a fresh token that only the head and CMD are
given (RAY_AUTH_MODE=token, RAY_AUTH_TOKEN): the cluster is authenticated like every other server
here, and a token left in ~/.ray/auth_token by another cluster cannot make the two disagree (with
it present and no mode set, Ray 2.60's head demands a token its clients do not send).
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PORT = 6379
NUM_CPUS = 4  # logical CPUs: two points at once when each asks for 2 (conf/hydra/launcher/ray.yaml)


def wait_for_port(port: int, head: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray start exited with {head.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"Ray head not listening on 127.0.0.1:{port} after {timeout}s")


def stop(head: subprocess.Popen) -> None:
    """SIGTERM to the head's process group (raylet, GCS, agents), SIGKILL after 15 s."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(head.pid, sig)
        except ProcessLookupError:
            return
        try:
            head.wait(timeout=wait)
            time.sleep(1)  # let the group's other members go too
        except subprocess.TimeoutExpired:
            continue


def main(cmd: list[str]) -> int:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    ray = Path(sys.executable).with_name("ray")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    log = Path(os.environ.get("RAY_HEAD_LOG") or Path(temp) / "head.log")
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env.pop("RAY_AUTH_TOKEN_PATH", None)
    with open(log, "w") as out:
        head = subprocess.Popen([str(ray), "start", "--head", "--block", f"--port={PORT}", f"--num-cpus={NUM_CPUS}",
                                 "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env,
                                cwd="/")  # as a cluster node: not started from the repository
    try:
        wait_for_port(PORT, head)
        return subprocess.run(cmd, env={**env, "RAY_ADDRESS": f"127.0.0.1:{PORT}"}).returncode
    finally:
        stop(head)
        if "RAY_HEAD_LOG" in os.environ:  # the log lives elsewhere: nothing of Ray's to keep here
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
