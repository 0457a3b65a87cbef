"""MLflow Model Registry for the three training stages.

Each stage releases its ONNX model through `log_and_register` (MLflow's onnx flavor, with
signature and input example), a new version of a named registered model (conf: tracking.registry).
The version carries the stage's headline metrics, the md5 of the data it was trained on and
the git commit of the code, as tags and in its description. The alias `champion` moves to
the new version only when the stage says it beats its baselines; otherwise the alias stays
where it was (the last version that did), and the stage says so. Versions are never deleted,
so `models:/<name>@champion` always means the deployed model and its history stays browsable.
Every move of the alias, by a stage or by hand (`promote ... --reason`), is signed: who, when,
why and the evidence, as tags of the version and as a run of the audit experiment
(pipeline/core/promotion.py). Names, versions and aliases are checked against MLflow's rules
before any query (pipeline/core/registry_names.py).
"""
from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from pipeline.core import registry_names
from pipeline.core.config import origin_root, require
from pipeline.core.promotion import BY_HAND, audit_experiment, audit_trail, move_alias

TAG_PREFIX_METRIC = "metric."
TAG_PREFIX_DATASET = "dataset."


@dataclass(frozen=True)
class Verdict:
    """Whether a trained model beats its stage's baselines, and the numbers that say so."""
    beats_baselines: bool
    reason: str  # one sentence with the figures compared, e.g. "test AUC 0.776 > best baseline 0.766"


@dataclass(frozen=True)
class Registration:
    """What the registry holds after a stage registered its model."""
    name: str
    version: str
    alias: str
    champion_version: str | None   # the version the alias points to now (None: no version holds it)
    beats_baselines: bool
    reason: str
    audit_run: str | None = None   # the promotion's audit run, when this registration moved the alias

    @property
    def is_champion(self) -> bool:
        return self.champion_version == self.version

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def statement(self) -> str:
        """One plain sentence for the stage's output."""
        head = f"registered {self.name} version {self.version}"
        if self.is_champion:
            return (f"{head}; alias '{self.alias}' -> version {self.version} ({self.reason}; "
                    f"audit run {self.audit_run})")
        where = (f"stays on version {self.champion_version}" if self.champion_version
                 else "is held by no version: nothing deployable")
        return f"{head}; it does NOT beat its baselines ({self.reason}), so alias '{self.alias}' {where}"

    def as_metrics(self) -> dict:
        """For the stage's metrics.json (booleans and strings; MLflow's metric logger skips them)."""
        return {**asdict(self), "is_champion": self.is_champion, "statement": self.statement()}


def model_name(cfg: DictConfig, stage_model: str) -> str:
    """Registered model name of `stage_model` (fault | process | inventory) from conf."""
    return registry_names.model_name(str(require(cfg, f"tracking.registry.models.{stage_model}")))


def alias_of(cfg: DictConfig) -> str:
    return registry_names.alias(str(require(cfg, "tracking.registry.alias")), setting=True)


def champion_uri(cfg: DictConfig, stage_model: str) -> str:
    """`models:/<name>@<alias>`: what a service or monitor deploys."""
    return f"models:/{model_name(cfg, stage_model)}@{alias_of(cfg)}"


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dataset_md5(path: str | Path) -> str:
    """md5 of a file's bytes, or of a folder's sorted (relative path, file md5) list."""
    path = Path(path)
    if path.is_file():
        return file_md5(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: dataset to identify not found")
    digest = hashlib.md5()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()} {file_md5(file)}\n".encode())
    return digest.hexdigest()


def code_identity(root: Path | None = None) -> dict[str, str]:
    """git commit of the code and whether tracked files were modified ('unknown' outside git)."""
    root = root or origin_root()

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit or "unknown",
            "git_working_tree": "unknown" if dirty is None else ("modified" if dirty else "clean")}


def log_datasets(datasets: dict[str, Path]) -> dict[str, str]:
    """Record each dataset (label -> file or folder) as an input of the active run, identified
    by its md5 (MLflow shows it under the run's datasets); returns label -> md5."""
    import warnings

    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    digests = {}
    for label, path in datasets.items():
        digests[label] = dataset_md5(path)
        with warnings.catch_warnings():  # "can be interpreted in multiple ways": both are local files
            warnings.simplefilter("ignore")
            source = resolve_dataset_source(str(Path(path).resolve()))
        mlflow.log_input(MetaDataset(source, name=label, digest=digests[label][:20]), context="training")
    return digests


def _version_description(stage: str, verdict: Verdict, metrics: dict[str, float], digests: dict[str, str],
                         datasets: dict[str, Path], code: dict[str, str]) -> str:
    shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
    data = "; ".join(f"{label}: {Path(datasets[label]).as_posix()} (md5 {md5})" for label, md5 in digests.items())
    verdict_text = "beats its baselines" if verdict.beats_baselines else "does NOT beat its baselines"
    return (f"Trained by DVC stage `{stage}`. Headline metrics: {shown}. It {verdict_text}: {verdict.reason}. "
            f"Data: {data}. Code: git {code['git_commit']} ({code['git_working_tree']}).")


def register(model_uri: str, name: str, verdict: Verdict, *, stage: str, metrics: dict[str, float],
             datasets: dict[str, Path], about: str, audit_experiment: str, alias: str = "champion",
             client=None) -> Registration:
    """Register `model_uri` (a logged model) as a new version of `name` with its identifiers;
    move `alias` to it only if `verdict.beats_baselines`, signed by the stage (its audit run in
    `audit_experiment`). Call inside the stage's MLflow run."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = client or MlflowClient()
    name, alias = registry_names.model_name(name), registry_names.alias(alias, setting=True)
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=about)
    digests = log_datasets(datasets)
    code = code_identity()
    tags = {"stage": stage, "beats_baselines": str(verdict.beats_baselines).lower(), "verdict": verdict.reason,
            **code, **{f"{TAG_PREFIX_METRIC}{k}": f"{v:.6g}" for k, v in metrics.items()},
            **{f"{TAG_PREFIX_DATASET}{label}.md5": md5 for label, md5 in digests.items()},
            **{f"{TAG_PREFIX_DATASET}{label}.path": Path(p).as_posix() for label, p in datasets.items()}}
    version = mlflow.register_model(model_uri, name, tags=tags).version
    client.update_model_version(name, version,
                                description=_version_description(stage, verdict, metrics, digests, datasets, code))
    audit_run = None
    if verdict.beats_baselines:
        audit_run = move_alias(client, name, str(version), alias, f"stage {stage}: beats its baselines: {verdict.reason}",
                               by=stage, audit_experiment=audit_experiment).audit_run
    return Registration(name, str(version), alias, champion_version(client, name, alias),
                        verdict.beats_baselines, verdict.reason, audit_run)


def log_and_register(cfg: DictConfig, stage_model: str, onnx_path: Path, example: dict[str, np.ndarray],
                     verdict: Verdict, *, stage: str, metrics: dict[str, float], datasets: dict[str, Path],
                     about: str, extra_files: Sequence[Path] = (), artifact: str | None = None) -> Registration:
    """The one way a training stage releases its model, inside its MLflow run: log `onnx_path` as
    an MLflow onnx-flavor model (inputs named as in the graph; `example` is the input example and,
    with onnxruntime's answer to it, the signature; onnx/onnxruntime pinned; `extra_files` beside
    it, under the run's `artifact` folder, default the file's stem) and register it as a new version
    of tracking.registry.models.<stage_model>."""
    import mlflow
    import onnx
    import onnxruntime
    from mlflow.models import infer_signature

    from pipeline.core.onnx_io import session

    example = {k: np.ascontiguousarray(v) for k, v in example.items()}
    signature = infer_signature(example, session(onnx_path).run(None, example)[0])
    # stated requirements: MLflow would otherwise infer them in a subprocess, seconds per run
    info = mlflow.onnx.log_model(onnx.load(str(onnx_path)), name=artifact or Path(onnx_path).stem, signature=signature,
                                 input_example=example, extra_files=[str(f) for f in extra_files] or None,
                                 pip_requirements=[f"onnx=={onnx.__version__}", f"onnxruntime=={onnxruntime.__version__}"])
    return register(info.model_uri, model_name(cfg, stage_model), verdict, stage=stage,
                    metrics={k: float(v) for k, v in metrics.items() if v == v},  # NaN (nothing to score): left out
                    datasets=datasets, about=about, alias=alias_of(cfg), audit_experiment=audit_experiment(cfg))


def champion_version(client, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


class ModelNotFound(LookupError):
    """A models:/ URI or a version that the registry does not hold; says what it does hold."""


def _not_found(client, name: str, what: str, exc) -> ModelNotFound:
    import mlflow

    known = [int(v.version) for v in client.search_model_versions(f"name = '{name}'")] if name else []
    hint = (f"registered versions of {name}: {', '.join(map(str, sorted(known)))}; serve one with models:/{name}/<version> "
            "or promote it (README: promote a model)") if known else \
        f"no registered model {name!r} in {mlflow.get_tracking_uri()}: run the training stage (dvc repro) first"
    return ModelNotFound(f"{what} not found ({exc.message.splitlines()[0]}); {hint}")


@dataclass(frozen=True)
class FetchedModel:
    """A registered model version's files on local disk."""
    path: Path           # the MLflow model folder (MLmodel, model.onnx, extra files)
    name: str
    version: str
    uri: str             # as asked for (models:/name@alias or models:/name/version)
    tags: dict


def fetch(model_uri: str, dst: Path | None = None, client=None) -> FetchedModel:
    """Download `models:/<name>@<alias>` or `models:/<name>/<version>`, with an error that says
    what to do when the name, the alias or the version does not exist."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    name, alias, version = registry_names.model_uri(model_uri)  # checked before any query
    client = client or MlflowClient()
    try:
        if alias is not None:
            mv = client.get_model_version_by_alias(name, alias)
        else:
            mv = client.get_model_version(name, version)
    except MlflowException as exc:
        raise _not_found(client, name, model_uri, exc) from exc
    path = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{mv.version}",
                                                    dst_path=str(dst) if dst else None))
    return FetchedModel(path, name, str(mv.version), model_uri, dict(mv.tags))


def promote(name: str, version: str, reason: str, *, audit_experiment: str, alias: str = "champion",
            client=None) -> str:
    """Point `alias` at `version` by hand, signed with `reason` (required: the audit trail's why);
    returns the version it held before ("none")."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from pipeline.core.promotion import check_reason

    name, version = registry_names.model_name(name), registry_names.version(version)
    alias, reason = registry_names.alias(alias, setting=True), check_reason(reason)
    client = client or MlflowClient()
    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        raise _not_found(client, name, f"{name} version {version}", exc) from exc
    return move_alias(client, name, version, alias, reason, by=BY_HAND, audit_experiment=audit_experiment).previous


def main() -> None:
    import argparse

    import mlflow

    from pipeline.core.config import load_params
    from pipeline.core.settings import tracking as settings_tracking
    from pipeline.core.tracking import tracking_uri

    parser = argparse.ArgumentParser(description="Registered models of the pipeline: list them, promote a version "
                                                 "(signed), show the promotions' audit trail.")
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every registered model with its versions, verdicts and aliases")
    p = sub.add_parser("promote", help="point an alias (default: tracking.registry.alias) at a version, signed")
    p.add_argument("name")
    p.add_argument("version")
    p.add_argument("--reason", required=True, help="why (recorded with who, when and the version's evidence)")
    p.add_argument("--alias", default=None)
    a = sub.add_parser("audit", help="the promotions recorded (newest first)")
    a.add_argument("name", nargs="?", default=None, help="only this registered model")
    args = parser.parse_args()
    cfg = load_params(args.params, {"tracking": settings_tracking.Tracking})
    mlflow.set_tracking_uri(tracking_uri(cfg))
    client = mlflow.MlflowClient()
    if args.command == "promote":
        alias = args.alias or alias_of(cfg)
        before = promote(args.name, args.version, args.reason, audit_experiment=audit_experiment(cfg), alias=alias,
                         client=client)
        print(f"{args.name}: alias '{alias}' -> version {registry_names.version(args.version)} (was: {before}); "
              f"recorded in {audit_experiment(cfg)}")
        return
    if args.command == "audit":
        names = [registry_names.model_name(args.name)] if args.name else None
        for p in audit_trail(client, audit_experiment(cfg), names):
            print(f"{p.when} {p.model} v{p.version} -> @{p.alias} (was {p.previous}) by {p.who} ({p.by}) "
                  f"[{p.status}]: {p.why}")
        return
    for model in client.search_registered_models():
        aliases = {v: k for k, v in (model.aliases or {}).items()}
        print(model.name)
        try:
            name = registry_names.model_name(model.name)
        except registry_names.RegistryNameError as exc:  # made outside the pipeline: shown, not searched
            print(f"  ({exc})")
            continue
        for mv in sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version)):
            mark = f"  @{aliases[mv.version]}" if mv.version in aliases else ""
            print(f"  version {mv.version}{mark}: beats baselines {mv.tags.get('beats_baselines', '?')}; "
                  f"{mv.tags.get('verdict', '')}")


if __name__ == "__main__":
    from pipeline.core.cli import run_stage

    run_stage("registry", main, expected=(ModelNotFound,))
