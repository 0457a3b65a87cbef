"""Classification quality on a split (accuracy, ROC AUC, PR AUC, F1, Brier score, ECE), the decision
threshold chosen on validation, and a plain sentence when a model predicts one class only."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import (accuracy_score, average_precision_score, brier_score_loss, f1_score,
                             log_loss, roc_auc_score)


def reliability(y: np.ndarray, prob: np.ndarray, bins: int) -> dict[str, np.ndarray]:
    """Equal-width probability bins: rows, mean predicted probability and observed fault rate."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(prob, edges[1:-1]), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        predicted = np.bincount(which, weights=prob, minlength=bins) / count
        observed = np.bincount(which, weights=y, minlength=bins) / count
    return {"low": edges[:-1], "high": edges[1:], "count": count, "predicted": predicted, "observed": observed}


def expected_calibration_error(y: np.ndarray, prob: np.ndarray, bins: int) -> float:
    table = reliability(y, prob, bins)
    used = table["count"] > 0
    gaps = np.abs(table["predicted"][used] - table["observed"][used])
    return float(np.sum(table["count"][used] * gaps) / len(y))


def classification_metrics(y: np.ndarray, prob: np.ndarray, threshold: float, bins: int) -> dict[str, float]:
    y = np.asarray(y).astype(int)
    prob = np.clip(np.asarray(prob, dtype=np.float64), 0.0, 1.0)
    predicted = (prob >= threshold).astype(int)
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "auc": float(roc_auc_score(y, prob)),
        "pr_auc": float(average_precision_score(y, prob)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "brier": float(brier_score_loss(y, prob)),
        "threshold": float(threshold),
        "predicted_fault_share": float(predicted.mean()),
        "log_loss": float(log_loss(y, np.clip(prob, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "ece": expected_calibration_error(y, prob, bins),
    }


def choose_threshold(y: np.ndarray, prob: np.ndarray, rule_cfg) -> tuple[float, str]:
    """The decision threshold on `prob` (predict a fault when prob >= threshold), chosen on a
    validation split by `rule_cfg.rule` (conf/model/fault `threshold`), and how it was chosen.

    - fixed: rule_cfg.fixed.
    - f1: the threshold with the best F1 on (y, prob).
    - cost: the optimiser's trade-off: a unit produced earns `revenue` when it does not fail and
      costs `penalty` when it does; producing the rows below the threshold, the threshold with the
      most value sum(revenue (1 - y) - penalty y) over them. For calibrated probabilities it lies
      near revenue / (revenue + penalty).
    Without a fault in `y` (nothing to choose on) the fixed threshold is used, and said so."""
    rule, fixed = str(rule_cfg.rule), float(rule_cfg.fixed)
    y = np.asarray(y).astype(int)
    prob = np.asarray(prob, dtype=np.float64)
    if rule == "fixed":
        return fixed, f"fixed at {fixed:g}"
    if y.min() == y.max():
        return fixed, f"fixed at {fixed:g}: the validation split has one class only, nothing to choose on"
    order = np.argsort(prob, kind="stable")
    p, yy = prob[order], y[order]
    cuts = np.r_[p, np.inf]  # threshold at each candidate: rows with prob >= cut predicted fault
    first = np.searchsorted(p, cuts, side="left")  # rows strictly below each cut
    if rule == "f1":
        positives_below = np.r_[0, np.cumsum(yy)][first]
        tp = yy.sum() - positives_below
        predicted = len(p) - first
        f1 = np.where(predicted > 0, 2 * tp / (predicted + yy.sum()), 0.0)
        k = int(np.argmax(f1))
        return float(cuts[k]) if np.isfinite(cuts[k]) else 1.0, f"best F1 on validation ({f1[k]:.3f})"
    if rule == "cost":
        value = float(rule_cfg.revenue) * (1 - yy) - float(rule_cfg.penalty) * yy
        gain = np.r_[0.0, np.cumsum(value)][first]
        k = int(np.argmax(gain))
        return (float(cuts[k]) if np.isfinite(cuts[k]) else 1.0,
                f"best production value on validation (revenue {float(rule_cfg.revenue):g}, "
                f"penalty {float(rule_cfg.penalty):g} per unit)")
    raise ValueError(f"model.fault.threshold.rule must be fixed, f1 or cost, got {rule!r}")


def one_class_statement(name: str, y: np.ndarray, prob: np.ndarray, threshold: float, split: str = "test") -> str | None:
    """A plain sentence when a model predicts one class only on `split` at its threshold."""
    predicted = int((np.asarray(prob) >= threshold).sum())
    faults = int(np.asarray(y).sum())
    if predicted == 0:
        return (f"{name} predicts no fault on the {split} split at threshold {threshold:.3g} (0 of {len(y)} rows; "
                f"{faults} actual faults): its F1 is 0 and its accuracy is the share of fault-free rows")
    if predicted == len(y):
        return (f"{name} predicts a fault for every row of the {split} split at threshold {threshold:.3g} "
                f"({faults} of {len(y)} rows were faults)")
    return None
