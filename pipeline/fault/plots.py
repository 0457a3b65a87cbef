"""Figures (PNG, Agg) and the CSVs `dvc plots` draws: learning curves, ROC, reliability."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from pipeline.core.figures import save_figure  # noqa: E402


def history_frame(history: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(history)
    return frame.rename(columns=lambda c: c.replace("/", "_"))


def learning_curves(history: pd.DataFrame, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, what in zip(axes, ("loss", "accuracy")):
        ax.plot(history["epoch"], history[f"train_{what}"], label="training")
        ax.plot(history["epoch"], history[f"val_{what}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel("binary cross-entropy" if what == "loss" else "accuracy (threshold 0.5)")
        ax.set_title(f"{what} per epoch")
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path, f"Binary cross-entropy and accuracy of the fault DNN per epoch on the training and "
                                  f"the validation split ({len(history)} epochs; the best epoch's weights are exported).",
                       dpi=120)


def roc_figure(y: np.ndarray, probabilities: dict[str, np.ndarray], aucs: dict[str, float], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, prob in probabilities.items():
        fpr, tpr, _ = roc_curve(y, prob)
        ax.plot(fpr, tpr, label=f"{name} (AUC {aucs[name]:.3f})", lw=2 if name == "dnn" else 1)
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC, test split")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    others = ", ".join(f"{name} {auc:.3f}" for name, auc in aucs.items() if name != "dnn")
    return save_figure(fig, path, f"ROC curves on the held-out test split: the fault DNN (AUC {aucs['dnn']:.3f}) "
                                  f"against the baselines ({others}).", dpi=120)


def roc_frame(y: np.ndarray, prob: np.ndarray) -> pd.DataFrame:
    fpr, tpr, _ = roc_curve(y, prob)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr})


def reliability_figure(table: dict[str, np.ndarray], ece: float, path: Path) -> Path:
    used = table["count"] > 0
    fig, (ax, bar) = plt.subplots(2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
    ax.plot(table["predicted"][used], table["observed"][used], "o-", label=f"DNN (ECE {ece:.3f})")
    ax.set_ylabel("observed fault rate")
    ax.set_title("Reliability diagram, test split")
    ax.legend()
    bar.bar((table["low"] + table["high"]) / 2, table["count"], width=table["high"] - table["low"], edgecolor="k")
    bar.set_xlabel("predicted failure probability")
    bar.set_ylabel("rows")
    fig.tight_layout()
    return save_figure(fig, path, f"Reliability of the fault DNN's probabilities on the test split: observed fault rate "
                                  f"per bin of predicted probability (ECE {ece:.3f}) and the rows per bin.", dpi=120)


def reliability_frame(table: dict[str, np.ndarray]) -> pd.DataFrame:
    used = table["count"] > 0
    return pd.DataFrame({"predicted": table["predicted"][used], "observed": table["observed"][used],
                         "rows": table["count"][used]})
