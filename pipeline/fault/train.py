"""Stage train_fault: fit the DNN on the chronological split, evaluate it against baselines
and the Bayes limit, export ONNX (+ weights-only .pt), write figures and metrics, log to MLflow."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from pipeline.contracts.fault_model import INPUT, ONNX_FILE, PT_FILE, metadata
from pipeline.core import registry
from pipeline.core.io import ensure_dir, write_json
from pipeline.core.lightning import fit_best, seed_everything, training_parts
from pipeline.core.onnx_io import check_parity
from pipeline.core.split import SPLITS
from pipeline.core.tracking import log_metrics, stage_run
from pipeline.fault import plots
from pipeline.fault.baselines import baseline_probabilities
from pipeline.fault.datamodule import FaultDataModule
from pipeline.fault.export import export_model
from pipeline.fault.metrics import choose_threshold, classification_metrics, one_class_statement, reliability
from pipeline.fault.module import FaultClassifier, MilpAwarePenalty
from pipeline.fault.stability import box_bounds, prune, stable_neurons


def fit(cfg: DictConfig, dm: FaultDataModule, run) -> tuple[FaultClassifier, dict]:
    """Train with early stopping on val/loss and return the module holding the best epoch's weights."""
    mcfg = cfg.model.fault
    seed_everything(cfg.seed)
    torch.set_num_threads(int(mcfg.torch_threads))
    low, high = box_bounds(mcfg.stability_box, dm.scaling)
    milp = mcfg.milp_aware
    penalty = MilpAwarePenalty(low, high, milp.stability_weight, milp.l1_weight) if milp.enabled else None
    parts = training_parts(mcfg)
    if str(mcfg.get("class_weighting", "none")) == "balanced":  # faults weighted up to the size of the other class
        y = dm.splits["train"].y
        parts["loss"] = instantiate(mcfg.loss, pos_weight=torch.tensor([(y == 0).sum() / max(1, (y == 1).sum())]))
    module = FaultClassifier(instantiate(mcfg.network), **parts, penalty=penalty)
    _, seconds = fit_best(cfg, mcfg, run, module, dm, monitor="val/loss", mode="min", num_sanity_val_steps=0)
    best_epoch = min(module.history, key=lambda row: row["val/loss"])["epoch"]
    pruned = prune(module.net, float(mcfg.milp_aware.prune_below)) if mcfg.milp_aware.enabled else 0
    return module.eval(), {"seconds": seconds, "epochs": len(module.history), "best_epoch": best_epoch,
                           "best_val_loss": min(r["val/loss"] for r in module.history), "pruned_weights": pruned}


def logits_of(net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net.eval()(torch.from_numpy(x)).squeeze(1).numpy().astype(np.float64)


def evaluate(cfg: DictConfig, dm: FaultDataModule, net: torch.nn.Module) -> tuple[dict, dict[str, np.ndarray], dict]:
    """Test-split metrics of the DNN, the baselines and (generated data) the Bayes limit, each at
    its own threshold chosen on the validation split (model.fault.threshold); and the thresholds
    with plain statements where a model predicts one class only."""
    mcfg = cfg.model.fault
    test, val = dm.splits["test"], dm.splits["val"]
    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    probs = {"dnn": sigmoid(logits_of(net, dm.scaled("test")))}
    val_probs = {"dnn": sigmoid(logits_of(net, dm.scaled("val")))}
    fitted = baseline_probabilities(mcfg.baselines, dm.scaled("train"), dm.splits["train"].y,
                                    np.vstack([dm.scaled("val"), dm.scaled("test")]))
    for name, p in fitted.items():
        val_probs[name], probs[name] = p[: len(val)], p[len(val):]
    if dm.has_truth:
        probs["bayes"], val_probs["bayes"] = test.true_prob, val.true_prob
    scores, decision = {}, {"rule": str(mcfg.threshold.rule), "thresholds": {}, "how": {}, "statements": []}
    for name, p in probs.items():
        threshold, how = choose_threshold(val.y, val_probs[name], mcfg.threshold)
        scores[name] = classification_metrics(test.y, p, threshold, int(mcfg.calibration_bins))
        decision["thresholds"][name], decision["how"][name] = threshold, how
        statement = one_class_statement(name, test.y, p, threshold)
        if statement:
            decision["statements"].append(statement)
    return scores, probs, decision


def summarise(scores: dict, has_truth: bool) -> dict:
    dnn = scores["dnn"]["auc"]
    out = {"dnn_minus_logistic_auc": dnn - scores["logistic_regression"]["auc"]}
    if has_truth:
        out["bayes_minus_dnn_auc"] = scores["bayes"]["auc"] - dnn
    else:
        out["bayes_note"] = "real data: the true probability is unknown, no Bayes limit"
    return out


def write_figures(reports: Path, history: list[dict], test_y: np.ndarray, scores: dict,
                  probs: dict[str, np.ndarray], bins: int) -> list[Path]:
    frame = plots.history_frame(history)
    frame.to_csv(reports / "history.csv", index=False)
    plots.roc_frame(test_y, probs["dnn"]).to_csv(reports / "roc.csv", index=False)
    table = reliability(test_y, probs["dnn"], bins)
    plots.reliability_frame(table).to_csv(reports / "reliability.csv", index=False)
    return [plots.learning_curves(frame, reports / "learning_curves.png"),
            plots.roc_figure(test_y, probs, {k: v["auc"] for k, v in scores.items()}, reports / "roc.png"),
            plots.reliability_figure(table, scores["dnn"]["ece"], reports / "reliability.png")]


def verdict(scores: dict) -> registry.Verdict:
    """The DNN beats its baselines when its test AUC is above every baseline's (Bayes is a limit, not a baseline)."""
    dnn = scores["dnn"]["auc"]
    others = {k: v["auc"] for k, v in scores.items() if k not in ("dnn", "bayes")}
    best = max(others, key=others.get)
    beats = dnn > others[best]
    return registry.Verdict(beats, f"test AUC {dnn:.4f} {'>' if beats else '<='} best baseline {best} {others[best]:.4f}")


def train(cfg: DictConfig) -> dict:
    """The whole stage; returns the metrics written to reports/fault/metrics.json."""
    mcfg = cfg.model.fault
    reports = ensure_dir(Path(cfg.paths.reports) / "fault")
    models = ensure_dir(cfg.paths.models)
    dm = FaultDataModule(Path(cfg.paths.data) / "fault", mcfg.split, mcfg.batch_size)
    dm.setup()
    params = {"model": mcfg, "data": cfg.data.fault, "trainer": cfg.trainer, "seed": cfg.seed}
    with stage_run("train_fault", cfg, params=params) as run:
        module, training = fit(cfg, dm, run)
        net = module.net
        scores, probs, decision = evaluate(cfg, dm, net)
        low, high = box_bounds(mcfg.stability_box, dm.scaling)
        stability = {method: stable_neurons(net, low, high, method) for method in ("interval", "lp")}
        meta = metadata(dm.scaling, dm.splits["train"].raw,
                        {"hidden": list(mcfg.network.hidden), "milp_aware": bool(mcfg.milp_aware.enabled)})
        onnx_path = export_model(net, models / ONNX_FILE, models / PT_FILE, meta, int(mcfg.export.opset))
        x_test = dm.scaled("test")
        parity = check_parity(onnx_path, net, {INPUT: np.ascontiguousarray(x_test, dtype=np.float32)},
                              mcfg.export.tolerance)
        metrics = {
            "test": scores, **summarise(scores, dm.has_truth), "training": training,
            "decision": decision, "class_weighting": str(mcfg.get("class_weighting", "none")),
            "test_fault_share": float(dm.splits["test"].y.mean()),
            "rows": {name: len(dm.splits[name]) for name in SPLITS},
            "split_times": {name: [dm.splits[name].first, dm.splits[name].last] for name in SPLITS},
            "stability": {method: {k: v for k, v in counts.items() if k != "layers"}
                          for method, counts in stability.items()},
            "stability_layers": {method: counts["layers"] for method, counts in stability.items()},
            "milp_aware": bool(mcfg.milp_aware.enabled),
            "onnx": {"max_abs_difference": parity.max_abs_difference, "rows_checked": parity.rows},
        }
        figures = write_figures(reports, module.history, dm.splits["test"].y, scores, probs, int(mcfg.calibration_bins))
        log_metrics({k: v for k, v in metrics.items() if k != "test"})
        log_metrics({"test": scores["dnn"]})
        log_metrics({name: s for name, s in scores.items() if name != "dnn"}, prefix="test/")
        import mlflow

        for path in [*figures, reports / "history.csv"]:
            mlflow.log_artifact(str(path), artifact_path="figures" if path.suffix == ".png" else "tables")
        mlflow.log_artifact(str(models / PT_FILE), artifact_path="weights")
        metrics["mlflow_run_id"] = run.info.run_id
        metrics["registry"] = registry.log_and_register(
            cfg, "fault", onnx_path, {INPUT: x_test[:5].astype(np.float32)}, verdict(scores), stage="train_fault",
            metrics={"test_auc": scores["dnn"]["auc"], "test_brier": scores["dnn"]["brier"], "test_ece": scores["dnn"]["ece"]},
            datasets={"fault_log": Path(cfg.paths.data) / "fault"},
            about="Failure probability of a tablet-press interval (6-64-32-1 ReLU, logit output; scaling in the "
                  "ONNX metadata); embedded in the schedule optimiser.").as_metrics()
    write_json(reports / "metrics.json", metrics)
    return metrics
