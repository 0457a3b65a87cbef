"""Every plan version as an MLflow child run of the day's run (experiment tablet/replan).

The day's run (`replan <day>`) holds the planner's settings; each version is a nested run with the
trigger as a tag, its status, gap, objective and timings as metrics and its plan file as an
artifact. MLflow is written from one background thread, after the version is published: it is
never on the path from a signal to the published plan, and a tracking error is logged and counted,
never raised into the planner.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

from omegaconf import DictConfig

from pipeline.core.tracking import experiment_name, flatten, legal_names, process_tags, tracking_uri
from pipeline.optimize.live.versions import PlanVersion

log = logging.getLogger("pipeline.optimize.live")


class VersionTracker:
    def __init__(self, cfg: DictConfig, day: str):
        self.cfg, self.day = cfg, day
        self.errors = 0
        self.parent_id: str | None = None
        self.child_ids: dict[int, str] = {}
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="mlflow-versions", daemon=True)
        self._thread.start()
        self._queue.put(("start", None, None))

    def version(self, version: PlanVersion, plan_file: Path) -> None:
        self._queue.put(("version", version, plan_file))

    def close(self, status: str = "FINISHED", timeout_s: float = 60.0) -> None:
        self._queue.put(("end", status, None))
        self._thread.join(timeout_s)

    def _work(self) -> None:
        while True:
            kind, a, b = self._queue.get()
            try:
                if kind == "start":
                    self._start()
                elif kind == "version" and self.parent_id is not None:
                    self._log_version(a, b)
                elif kind == "end":
                    if self.parent_id is not None:
                        self.client.set_terminated(self.parent_id, a)
                    return
            except Exception as exc:  # noqa: BLE001 - tracking must never stop the planner
                self.errors += 1
                log.warning("MLflow: %s failed (%s: %s); the plan files have it", kind, type(exc).__name__, exc)

    def _start(self) -> None:
        from mlflow.tracking import MlflowClient

        from pipeline.core.tracking import ensure_experiment

        self.client = MlflowClient(tracking_uri(self.cfg))
        experiment = ensure_experiment(self.client, experiment_name("replan", self.cfg))
        run = self.client.create_run(experiment, run_name=f"replan {self.day}",
                                     tags={"stage": "replan", "replan.day": self.day, **process_tags()})
        self.parent_id = run.info.run_id
        params = legal_names({k: str(v)[:500] for k, v in flatten({"replan": {
            "triggers": self.cfg.replan.triggers, "solve": self.cfg.replan.solve, "plan": self.cfg.replan.plan,
            "endpoint": self.cfg.replan.endpoint}}).items()})
        from mlflow.entities import Param

        self.client.log_batch(self.parent_id, params=[Param(k, v) for k, v in params.items()])

    def _log_version(self, version: PlanVersion, plan_file: Path) -> None:
        from mlflow.entities import Metric
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        run = self.client.create_run(
            self.client.get_run(self.parent_id).info.experiment_id, run_name=f"v{version.version:03d} {version.trigger}",
            tags={MLFLOW_PARENT_RUN_ID: self.parent_id, "trigger": version.trigger, "version": str(version.version),
                  "status": version.status, "line_time": version.line_time, "first_hour": str(version.first_hour)})
        self.child_ids[version.version] = run.info.run_id
        values = {k: v for k, v in version.row().items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        now_ms = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now_ms, 0) for k, v in legal_names(values).items()]
        self.client.log_batch(run.info.run_id, metrics=metrics)
        self.client.log_artifact(run.info.run_id, str(plan_file))
        self.client.set_terminated(run.info.run_id, "FINISHED")
