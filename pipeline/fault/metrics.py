"""Classification quality on a split: accuracy, ROC AUC, PR AUC, F1, Brier score, ECE."""
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
        "log_loss": float(log_loss(y, np.clip(prob, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "ece": expected_calibration_error(y, prob, bins),
    }
