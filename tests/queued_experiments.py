"""Queue experiments on a repository and run them in parallel: `dvc exp run --queue -S ...` per
experiment, then `dvc exp run --run-all -j N` (N workers, as `dvc queue start -j N` starts), which
returns once the queue has run them all."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

DVC = str(Path(sys.executable).with_name("dvc"))
# Three experiments on the tiny configuration (DVC's Hydra composition starts from conf/, so each
# repeats +experiment=tiny). Between them every stage of dvc.yaml runs once and logs its runs.
EXPERIMENTS = {
    "fault-rows": ["data.fault.n_rows=2500", "data.prices.start='2021-07-02 00:00:00'"],
    "line-hours": ["data.line.hours=1.1"],
    "inventory-days": ["data.inventory.days=160"],
}
STAGES_RUN = {
    "fault-rows": {"prepare_fault", "prepare_prices", "train_fault", "optimize", "sweep", "report"},
    "line-hours": {"prepare_line", "train_process", "report"},
    "inventory-days": {"prepare_inventory", "train_inventory", "report"},
}


def dvc(repo: Path, env: dict, *args: str, timeout: float = 300) -> str:
    result = subprocess.run([DVC, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout + result.stderr


def queue_states(repo: Path, env: dict) -> dict[str, str]:
    """experiment name -> Queued / Running / Success / Failed, from `dvc queue status`."""
    states = {}
    for line in dvc(repo, env, "queue", "status").splitlines():
        words = line.split()
        if len(words) >= 3 and words[1] in EXPERIMENTS_NAMES:
            states[words[1]] = words[-1] if words[-1] in ("Queued", "Running", "Success", "Failed") else words[2]
    return states


EXPERIMENTS_NAMES: set[str] = set()


def run_queue(repo: Path, experiments: dict[str, list[str]], env: dict, jobs: int, timeout: float = 900) -> dict:
    """Queue each experiment by name, run the queue on `jobs` workers (`dvc exp run --run-all -j`,
    which returns once every queued experiment has ended), and return their states, logs and the
    seconds the queue took."""
    EXPERIMENTS_NAMES.update(experiments)
    for name, overrides in experiments.items():
        args = ["exp", "run", "--queue", "--name", name, "-S", "+experiment=tiny"]
        for override in overrides:
            args += ["-S", override]
        dvc(repo, env, *args)
    started = time.time()
    # The workers it starts outlive it and inherit its output: a file, not a pipe to wait on.
    try:
        with open(repo / ".dvc" / "tmp" / "queue-run.log", "w") as log:
            subprocess.run([DVC, "exp", "run", "--run-all", "--jobs", str(jobs)], cwd=repo, env=env, stdout=log,
                           stderr=subprocess.STDOUT, timeout=timeout)  # a failed one: its state says so
        seconds = time.time() - started
        states = queue_states(repo, env)
        logs = {name: dvc(repo, env, "queue", "logs", name) for name in experiments}
    finally:  # never leave this repository's workers behind (they stop once idle; make sure)
        subprocess.run([DVC, "queue", "stop", "--kill"], cwd=repo, env=env, capture_output=True, timeout=120)
    return {"states": states, "logs": logs, "seconds": seconds}
