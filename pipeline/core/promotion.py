"""Signed promotions: every move of the champion alias (by a training stage or by hand) records
who, when, why and the evidence, in two places of the same MLflow store:

- tags of the promoted model version (`promotion.<alias>.by`, `.at`, `.reason`, `.audit_run`), so
  the MLflow UI shows them on the version; they are overwritten by a later promotion of it;
- one run per promotion in the audit experiment (`<prefix>/<tracking.registry.audit_experiment>`,
  default tablet/promotions), the append-only trail: the record is the run's params, which MLflow
  never lets anyone change once logged, and under the team server's basic-auth a user with EDIT
  on that experiment can add runs but not delete them (MANAGE can; docs/security.md).

Why runs in the tracking store rather than a JSON-lines file in git: the alias lives in the
store, so the trail must too. A promotion made from another clone, a queued `dvc exp run` copy
(which keeps no untracked file) or by hand against the team server lands in the one place the
alias moved, and on a basic-auth server `who` is the user the server authenticated. The report
page and `python -m pipeline.core.registry audit` read it back.

The record is written first and the run closed FINISHED only once the alias has moved; a move
that failed (a user without permission: 403) leaves its run FAILED with the error, so an attempt
is never lost either.

Evidence is read from the version itself (tags set by `registry.register`): the verdict against
the baselines and the metrics behind it, the md5 of each data set, the git commit of the code.
"""
from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from pipeline.core.registry_names import alias as check_alias
from pipeline.core.registry_names import model_name, version as check_version

BY_HAND = "hand"
AUDIT_TAG = "pipeline.audit"
MAX_REASON = 1000
EVIDENCE_TAGS = ("beats_baselines", "verdict", "git_commit", "git_working_tree", "stage")
EVIDENCE_PREFIXES = ("metric.", "dataset.")


def audit_experiment(cfg) -> str:
    """The MLflow experiment holding one run per promotion (tablet/promotions by default), from
    tracking.registry.audit_experiment (the report reads it too: here, not in registry.py, so an
    edit of the registry reruns the training stages only)."""
    from pipeline.core.config import require
    from pipeline.core.tracking import experiment_name

    return experiment_name(str(require(cfg, "tracking.registry.audit_experiment")), cfg)


@dataclass(frozen=True)
class Promotion:
    model: str
    version: str
    alias: str
    previous: str          # the version the alias held before ("none")
    who: str               # the MLflow user (MLFLOW_TRACKING_USERNAME) or, without one, os-user@host
    os_user: str
    when: str              # UTC, ISO 8601
    why: str
    by: str                # the training stage that promoted, or "hand"
    evidence: dict[str, str]
    audit_run: str = ""
    status: str = ""       # the audit run's: FINISHED (alias moved), FAILED (refused), RUNNING (cut off)

    def params(self) -> dict[str, str]:
        head = {k: getattr(self, k) for k in ("model", "version", "alias", "previous", "who", "os_user", "when",
                                              "why", "by")}
        return {**head, **{f"evidence.{k}": v for k, v in self.evidence.items()}}

    @classmethod
    def from_run(cls, run) -> "Promotion":
        p = run.data.params
        evidence = {k.removeprefix("evidence."): v for k, v in sorted(p.items()) if k.startswith("evidence.")}
        return cls(p.get("model", ""), p.get("version", ""), p.get("alias", ""), p.get("previous", ""),
                   p.get("who", ""), p.get("os_user", ""), p.get("when", ""), p.get("why", ""), p.get("by", ""),
                   evidence, run.info.run_id, run.info.status)


def check_reason(reason: object) -> str:
    text = " ".join(str(reason or "").split())
    if not text:
        raise ValueError("a promotion needs a reason (--reason \"...\"): it goes into the audit trail")
    if len(text) > MAX_REASON:
        raise ValueError(f"reason: at most {MAX_REASON} characters (got {len(text)})")
    return text


def actor() -> tuple[str, str]:
    """(who, os user@host): who is the MLflow user a tracking server authenticates
    (MLFLOW_TRACKING_USERNAME); without one, the operating-system account."""
    try:
        local = f"{getpass.getuser()}@{socket.gethostname()}"
    except (OSError, KeyError):
        local = f"uid {os.getuid()}@{socket.gethostname()}"
    return os.environ.get("MLFLOW_TRACKING_USERNAME") or local, local


def evidence_of(mv) -> dict[str, str]:
    """The version's own record: verdict, metrics, data md5s and git commit (tags set at registration)."""
    tags = dict(mv.tags or {})
    keep = {k: v for k, v in tags.items() if k in EVIDENCE_TAGS
            or (k.startswith(EVIDENCE_PREFIXES) and not k.endswith(".path"))}
    keep["run_id"] = mv.run_id or ""
    return dict(sorted(keep.items()))


def _holder(client, name: str, alias: str) -> str:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return "none"


def _audit_experiment_id(client, experiment: str) -> str:
    from pipeline.core.tracking import ensure_experiment

    return ensure_experiment(client, experiment)


def move_alias(client, name: str, version: str, alias: str, reason: str, *, by: str,
               audit_experiment: str) -> Promotion:
    """Point `alias` of model `name` at `version`, recorded (who, when, why, evidence) as an audit
    run in `audit_experiment` and as tags of the version. The one way the alias moves."""
    from pipeline.core.tracking import process_tags

    name, alias, version = model_name(name), check_alias(alias, setting=True), check_version(version)
    reason = check_reason(reason)
    mv = client.get_model_version(name, version)
    who, local = actor()
    record = Promotion(name, version, alias, _holder(client, name, alias), who, local,
                       datetime.now(timezone.utc).isoformat(timespec="seconds"), reason, by, evidence_of(mv))
    run = client.create_run(_audit_experiment_id(client, audit_experiment),
                            run_name=f"{name} v{version} -> @{alias}",
                            tags={AUDIT_TAG: "promotion", "model": name, "alias": alias, **process_tags()})
    run_id = run.info.run_id
    try:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in record.params().items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params a batch
            client.log_batch(run_id, params=items[i:i + 100])
        client.set_registered_model_alias(name, alias, version)
        for key, value in {"by": f"{who} ({by})", "at": record.when, "reason": reason, "audit_run": run_id}.items():
            client.set_model_version_tag(name, version, f"promotion.{alias}.{key}", value)
    except BaseException as exc:
        try:
            client.set_tag(run_id, "pipeline.audit.error", f"{type(exc).__name__}: {exc}"[:5000])
            client.set_terminated(run_id, "FAILED")
        except Exception:
            pass  # the original error is the one to report
        raise
    client.set_terminated(run_id, "FINISHED")
    return Promotion(**{**record.__dict__, "audit_run": run_id, "status": "FINISHED"})


def audit_trail(client, audit_experiment: str, names: Iterable[str] | None = None,
                max_results: int = 1000) -> list[Promotion]:
    """Every recorded promotion (newest first), optionally only of models `names`."""
    exp = client.get_experiment_by_name(audit_experiment)
    if exp is None:
        return []
    runs = client.search_runs([exp.experiment_id], f"tags.`{AUDIT_TAG}` = 'promotion'",
                              order_by=["attributes.start_time DESC"], max_results=max_results)
    wanted = set(names) if names is not None else None
    trail = [Promotion.from_run(r) for r in runs]
    return [p for p in trail if wanted is None or p.model in wanted]
