"""What identifies the run a page describes: git commit, DVC lock hashes, MLflow runs."""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml


@dataclass
class RunLink:
    experiment: str
    run_name: str | None
    run_id: str | None
    status: str | None
    children: int = 0


def git_identity(root: Path) -> dict[str, str]:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    info = {"git commit": commit or "(not a git repository)",
            "git working tree": "modified" if dirty else "clean"}
    for var in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):  # set by `dvc exp run`
        if os.environ.get(var):
            info[var] = os.environ[var]
    return info


def dvc_lock_hashes(root: Path) -> dict[str, str]:
    """stage -> 'path md5, ...' of its outputs as recorded in dvc.lock (absent: not run yet)."""
    lock = root / "dvc.lock"
    if not lock.exists():
        return {}
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    out = {}
    for name, entry in stages.items():
        outs = entry.get("outs", []) or []
        out[name] = ", ".join(f"{o.get('path')} {str(o.get('md5', ''))[:12]}" for o in outs) or "(no outs)"
    return out


def public_uri(uri: str) -> str:
    """The tracking URI without user:password, fit to print on a page."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return uri


def mlflow_ui(uri: str) -> str:
    """Where the MLflow UI of a store is: the tracking server itself, or a local `mlflow ui`
    (its default address) over a file or database store."""
    return public_uri(uri).rstrip("/") if uri.startswith(("http://", "https://")) else "http://127.0.0.1:5000"


def latest_runs(uri: str, experiments: list[str]) -> tuple[list[RunLink], str | None]:
    """The newest top-level run of each experiment (with its number of child runs), or an error."""
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        links = []
        for name in experiments:
            exp = client.get_experiment_by_name(name)
            if exp is None:
                links.append(RunLink(name, None, None, None))
                continue
            runs = client.search_runs([exp.experiment_id], "", order_by=["attributes.start_time DESC"],
                                      max_results=50)
            top = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
            if not top:
                links.append(RunLink(name, None, None, None))
                continue
            run = top[0]
            children = client.search_runs([exp.experiment_id],
                                          f"tags.mlflow.parentRunId = '{run.info.run_id}'", max_results=1000)
            links.append(RunLink(name, run.info.run_name, run.info.run_id, run.info.status, len(children)))
        return links, None
    except Exception as exc:  # an unreachable server must not stop the page
        message = re.sub(r"//[^/@\s]+@", "//", str(exc))  # exception texts repeat the URI with user:password
        return [], f"MLflow store {public_uri(uri)} could not be read: {message[:500]}"


@dataclass
class ModelVersionLink:
    model: str
    version: str
    aliases: str          # e.g. "champion"
    beats_baselines: str  # the version's tag: true | false
    verdict: str
    run_id: str


def registered_versions(uri: str, names: list[str], newest: int = 5) -> tuple[list[ModelVersionLink], str | None]:
    """The newest versions of each registered model (older ones stay in the registry), or an error."""
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        rows = []
        for name in names:
            versions = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: -int(v.version))
            for mv in versions[:newest]:
                rows.append(ModelVersionLink(name, str(mv.version), ", ".join(mv.aliases or []),
                                             mv.tags.get("beats_baselines", ""), mv.tags.get("verdict", ""),
                                             mv.run_id or ""))
        return rows, None
    except Exception as exc:  # an unreachable server must not stop the page
        message = re.sub(r"//[^/@\s]+@", "//", str(exc))
        return [], f"Model Registry of {public_uri(uri)} could not be read: {message[:500]}"
