"""One MLflow tracking store for every stage.

Default: an absolute `sqlite:///<repo>/mlflow.db`, so it also works from the copies that
`dvc exp run --queue` makes under .dvc/tmp/exps. `MLFLOW_TRACKING_URI` overrides conf/,
conf/tracking overrides the default. Experiments are named by stage; runs get readable names.

Every name that reaches MLflow as a metric or param key goes through `metric_name` (MLflow
allows only alphanumerics, `_ - . /`, spaces and, off Windows, colons). A stage's run carries its
process (tags `pipeline.host`, `pipeline.pid`, `pipeline.pid_started`); a run whose process is
gone (SIGKILL) is closed as KILLED the next time the stage starts, and an interrupted stage
(Ctrl-C, SIGTERM) closes its own run as KILLED. A run that ended FINISHED but whose stage then
could not move its outputs into place (pipeline/core/staging.py) is marked FAILED afterwards
(`fail_finished_since`).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pipeline.core.config import origin_root
from pipeline.core.processes import Interrupted, identity, is_gone

MAX_NAME = 250  # MLflow's longest key
_ILLEGAL = re.compile(r"[^A-Za-z0-9_\-. /]+")
PROCESS_TAGS = {"host": "pipeline.host", "pid": "pipeline.pid", "started": "pipeline.pid_started"}


def metric_name(key: str) -> str:
    """`key` as a name MLflow accepts on every platform: characters outside letters, digits and
    `_ - . /` and space become `_`; no empty, `.` or `..` path parts; at most 250 characters (a
    shortened name keeps a hash of the whole). The one place names are made legal."""
    name = _ILLEGAL.sub("_", str(key))
    parts = [p.strip() for p in name.split("/")]
    parts = [p if p not in ("", ".", "..") else "_" for p in parts]
    name = "/".join(parts) or "_"
    if len(name) > MAX_NAME:
        digest = hashlib.sha1(str(key).encode()).hexdigest()[:8]
        name = f"{name[: MAX_NAME - 9]}_{digest}"
    return name


def legal_names(values: dict[str, Any]) -> dict[str, Any]:
    """{metric_name(key): value}; two keys that would share a name keep apart by a hash."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = metric_name(key)
        if name in out:
            name = metric_name(f"{name[: MAX_NAME - 9]}_{hashlib.sha1(str(key).encode()).hexdigest()[:8]}")
        out[name] = value
    return out


def tracking_uri(cfg: DictConfig | None = None, store: str | None = None) -> str:
    """`store` when given (a trial's own), else MLFLOW_TRACKING_URI, conf/ (tracking.uri), or the
    repository's sqlite:///<repo>/mlflow.db."""
    if store:
        return store
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    configured = OmegaConf.select(cfg, "tracking.uri") if cfg is not None else None
    if configured:
        return str(configured)
    return f"sqlite:///{origin_root() / 'mlflow.db'}"


def trial_store(folder: str | Path) -> str:
    """The MLflow store of a trial written under `folder` (`python -m pipeline.data ... --out
    folder`): `sqlite:///<folder>/mlflow.db`, artifacts beside it, whatever MLFLOW_TRACKING_URI
    or conf/ say, so that trying a file never adds runs to the pipeline's store."""
    return f"sqlite:///{Path(folder).resolve() / 'mlflow.db'}"


# `dvc exp run` (queued or not) tells each stage which experiment it runs in.
DVC_EXPERIMENT_TAGS = {"DVC_EXP_NAME": "dvc.exp_name", "DVC_EXP_BASELINE_REV": "dvc.exp_baseline_rev"}


def experiment_tags() -> dict[str, str]:
    """Tags naming the DVC experiment and the commit it started from, when a stage runs under
    `dvc exp run`: a run is matched to its row of `dvc exp show` by name (the experiment's own
    commit exists only once it has finished)."""
    return {tag: os.environ[var] for var, tag in DVC_EXPERIMENT_TAGS.items() if os.environ.get(var)}


def experiment_name(stage: str, cfg: DictConfig | None = None) -> str:
    prefix = OmegaConf.select(cfg, "tracking.experiment_prefix", default="tablet") if cfg is not None else "tablet"
    return f"{prefix}/{stage}" if prefix else stage


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists stay whole (MLflow params are strings)."""
    if isinstance(d, DictConfig):
        d = OmegaConf.to_container(d, resolve=True)
    out: dict[str, Any] = {}
    for key, value in (d or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, DictConfig):  # a config subtree inside a plain dict
            value = OmegaConf.to_container(value, resolve=True)
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _configure(cfg: DictConfig | None, store: str | None = None):
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(cfg, store))
    return mlflow


def artifact_location(uri: str) -> str | None:
    """Artifacts beside a SQLite store (<folder of mlflow.db>/mlartifacts), not in ./mlruns of
    whatever directory a stage happened to run from; a server keeps its own default."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()


def ensure_experiment(client, name: str) -> str:
    """Id of experiment `name`, created with its artifacts beside the store if missing (also
    when a parallel job creates it between our look-up and our create)."""
    import mlflow

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location(client.tracking_uri))
    except mlflow.exceptions.MlflowException:  # created meanwhile by a parallel job
        return client.get_experiment_by_name(name).experiment_id


def use_experiment(stage: str, cfg: DictConfig | None = None) -> str:
    """Set (creating it if needed) the stage's experiment; returns its id."""
    import mlflow
    from mlflow.tracking import MlflowClient

    experiment_id = ensure_experiment(MlflowClient(), experiment_name(stage, cfg))
    return mlflow.set_experiment(experiment_id=experiment_id).experiment_id


def readable_run_name(stage: str) -> str:
    """`train_fault 2026-11-22 06:10:03`: runs of one experiment told apart at a glance."""
    return f"{stage} {datetime.now():%Y-%m-%d %H:%M:%S}"


def process_tags() -> dict[str, str]:
    """Tags that tie a run to the process writing it (see close_abandoned_runs)."""
    return {tag: value for key, tag in PROCESS_TAGS.items() if (value := identity()[key])}


def close_abandoned_runs(client, experiment_ids: list[str]) -> list[str]:
    """Close as KILLED the RUNNING runs of `experiment_ids` whose process is gone (same host, pid
    dead or reused). Runs of live processes (a parallel experiment) and of other hosts stay."""
    closed = []
    if not experiment_ids:
        return closed
    for run in client.search_runs(experiment_ids, filter_string="attributes.status = 'RUNNING'", max_results=1000):
        tags = run.data.tags
        host, pid = tags.get(PROCESS_TAGS["host"]), tags.get(PROCESS_TAGS["pid"])
        if host and pid and is_gone(host, pid, tags.get(PROCESS_TAGS["started"], "")):
            client.set_tag(run.info.run_id, "pipeline.closed", f"process {pid} on {host} was gone at the next start")
            client.set_terminated(run.info.run_id, "KILLED")
            closed.append(run.info.run_id)
    return closed


def pipeline_experiments(client, cfg: DictConfig | None = None) -> list[str]:
    """Ids of every stage's experiment (`<prefix>/*`). A stage closes the abandoned runs of all of
    them: after a kill, `dvc repro` may restore a stage from its run-cache without starting it."""
    prefix = experiment_name("", cfg)
    found = client.search_experiments(filter_string=f"name LIKE '{prefix}%'") if prefix else []
    return [e.experiment_id for e in found]


@contextlib.contextmanager
def stage_run(stage: str, cfg: DictConfig | None = None, params: dict | DictConfig | None = None,
              run_name: str | None = None, tags: dict | None = None, store: str | None = None) -> Iterator[Any]:
    """An MLflow run in the stage's experiment, with its config subtree logged as params. Ends
    FINISHED, FAILED on an error, KILLED when interrupted (Ctrl-C, SIGTERM). `store`: a tracking
    URI that overrides every other (a trial's, `trial_store`)."""
    mlflow = _configure(cfg, store)
    experiment_id = use_experiment(stage, cfg)
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    close_abandoned_runs(client, pipeline_experiments(client, cfg) or [experiment_id])
    all_tags = {"stage": stage, **process_tags(), **experiment_tags(), **(tags or {})}
    run = mlflow.start_run(run_name=run_name or readable_run_name(stage), tags=all_tags)
    try:
        if params is not None:
            flat = legal_names({k: str(v)[:6000] for k, v in flatten(params).items()})
            items = list(flat.items())
            for i in range(0, len(items), 100):  # MLflow takes at most 100 params a batch
                mlflow.log_params(dict(items[i : i + 100]))
        yield run
    except (Interrupted, KeyboardInterrupt):
        _end_run(run, "KILLED")
        raise
    except BaseException:
        _end_run(run, "FAILED")
        raise
    mlflow.end_run("FINISHED")
    record_finished(run.info.run_id, mlflow.get_tracking_uri())


# Runs this process ended FINISHED, as (run id, tracking URI): the outputs of a stage are moved into
# place after its run ends, and a run whose outputs then fail to move in is marked FAILED.
_FINISHED: list[tuple[str, str]] = []


def finished_so_far() -> int:
    """How many runs this process has ended FINISHED (a mark for `fail_finished_since`)."""
    return len(_FINISHED)


def record_finished(run_id: str, uri: str) -> None:
    """Count a run that a stage ended FINISHED outside stage_run (the sweep's parent run)."""
    _FINISHED.append((run_id, uri))


def fail_finished_since(mark: int, reason: str) -> list[str]:
    """Mark FAILED the runs ended FINISHED after `mark` (finished_so_far() taken before), with the
    reason as tag `pipeline.failed`. Never raises: the stage's own error is the one to report."""
    from mlflow.tracking import MlflowClient

    failed = []
    for run_id, uri in _FINISHED[mark:]:
        with contextlib.suppress(Exception):
            client = MlflowClient(uri)
            client.set_tag(run_id, "pipeline.failed", reason[:5000])
            client.set_terminated(run_id, "FAILED")
            failed.append(run_id)
    del _FINISHED[mark:]
    return failed


def _end_run(run, status: str) -> None:
    """Close `run` on the way out of a failure; if the fluent API cannot (its session broken by the
    interruption), close it by id. Never raises: the stage's own error is the one to report."""
    import mlflow
    from mlflow.tracking import MlflowClient

    try:
        mlflow.end_run(status)
    except Exception:
        try:
            MlflowClient().set_terminated(run.info.run_id, status)
        except Exception as exc:  # said, never raised; the next start of the stage closes it
            with contextlib.suppress(Exception):
                print(f"warning: could not close MLflow run {run.info.run_id} as {status} "
                      f"({str(exc).splitlines()[0][:200]}); the stage's next start closes it", file=sys.stderr)


def log_metrics(metrics: dict, prefix: str = "", step: int | None = None) -> None:
    """Log the numeric leaves of a (nested) metrics dict as `prefix/key` names."""
    import mlflow

    numeric = {}
    for key, value in flatten(metrics).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        numeric[f"{prefix}{key}".replace(".", "/")] = float(value)
    if numeric:
        mlflow.log_metrics(legal_names(numeric), step=step)
