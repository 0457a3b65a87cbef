"""Per target and horizon, choose the deployed forecaster by cross-validation over batches, and
report the choice's test result beside the best baseline's, as the inventory stage does.

The folds (`folds`): each development group (batch, or time block for data without batches)
is held out in turn and scored by models fitted on the other groups (`leave_one_out`), or on
the groups before it only (`rolling`); no group is ever both fitted and scored in one fold,
and the test batches take part in none.

The rule, per target and horizon:
1. The baseline: the one with the lowest mean *relative* MAE over the folds (a fold's MAE over
   the best baseline's MAE on that fold), so a noisy batch does not outweigh the others, and
   one batch alone cannot decide. Ties go to the simpler. Among the fixed baselines (persistence,
   moving average, AR) this is the LSTM's base and the fallback of the recent-best forecaster
   (pipeline/process/recent_best.py); then the recent-best forecaster competes by the same
   score, and the winner of the two is "the baseline" the LSTM must beat.
2. The LSTM (fitted in the last `lstm_folds` folds only: it costs a training each) replaces
   it where its MAE is lower than that baseline's by more than `lstm_min_gain` (a fraction) in
   the median over those folds, and lower on every one of them. Its folds are scored on
   windows its early stopping never saw (that uses the tail of each fitted group), so the
   margin is what the LSTM must win by to be worth its complexity.

How sure a test gap is: MAE differences on the test windows are autocorrelated, so the 95 %
interval of a gap comes from a moving-block bootstrap over the test windows (blocks of
`block` windows, an hour by default), not from the windows' count.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.core.settings.model_process import CV_SCHEMES as SCHEMES  # the names conf/ may choose
from pipeline.process.baselines import ORDER

LSTM, SELECTED = "lstm", "selected"
CANDIDATES = (*ORDER, LSTM)


@dataclass(frozen=True)
class Fold:
    holdout: int             # the group scored
    fit: tuple[int, ...]     # the groups fitted


def folds(groups: list[int], scheme: str) -> list[Fold]:
    """The folds over development groups in order (see the module's docstring)."""
    if scheme not in SCHEMES:
        raise ValueError(f"model.process.select.cv must be one of {SCHEMES}, not {scheme!r}")
    if scheme == "rolling":
        return [Fold(g, tuple(groups[:i])) for i, g in enumerate(groups) if i >= 1]
    return [Fold(g, tuple(o for o in groups if o != g)) for g in groups]


def mae(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """[horizons, targets] mean absolute error of [windows, horizons, targets] arrays."""
    return np.abs(pred - truth).mean(axis=0)


def relative(fold_maes: list[dict[str, np.ndarray]], names, against=None) -> dict[str, np.ndarray]:
    """Per candidate of `names`: [folds, horizons, targets] MAE over the best of `against` (the
    fixed baselines present; default `names`) on each fold."""
    against = [n for n in (against or names) if n in fold_maes[0]]
    best = np.stack([np.min([f[n] for n in against], axis=0) for f in fold_maes])
    return {n: np.stack([f[n] for f in fold_maes]) / np.maximum(best, 1e-12) for n in names}


def choose_baseline(fold_maes: list[dict[str, np.ndarray]], order=ORDER) -> np.ndarray:
    """[horizons, targets] name, among `order` (simplest first), with the lowest mean relative
    MAE over the folds (relative to the best fixed baseline of each fold)."""
    names = [b for b in order if b in fold_maes[0]]
    rel = relative(fold_maes, names, ORDER)
    score = np.stack([rel[n].mean(axis=0) for n in names])
    return np.asarray(names, dtype=object)[np.argmin(score, axis=0)]  # ties: the simpler (argmin takes the first)


def chosen(fold_mae: dict[str, np.ndarray], choice: np.ndarray) -> np.ndarray:
    """[horizons, targets] MAE of the entry-wise chosen models on one fold."""
    out = np.empty(choice.shape)
    for (k, j), name in np.ndenumerate(choice):
        out[k, j] = fold_mae[name][k, j]
    return out


def lstm_gains(lstm_fold_maes: list[np.ndarray], base_fold_maes: list[np.ndarray]) -> np.ndarray:
    """[folds, horizons, targets]: 1 - MAE(LSTM) / MAE(chosen baseline) on each LSTM fold."""
    return 1.0 - np.stack(lstm_fold_maes) / np.maximum(np.stack(base_fold_maes), 1e-12)


def choose(base_choice: np.ndarray, gains: np.ndarray | None, lstm_min_gain: float) -> np.ndarray:
    """[horizons, targets] deployed model: the baseline, or the LSTM where `gains` (per fold)
    exceed the margin in the median and are positive on every fold."""
    choice = base_choice.copy()
    if gains is not None and len(gains):
        choice[(np.median(gains, axis=0) > lstm_min_gain) & (gains.min(axis=0) > 0)] = LSTM
    return choice


def gap_interval(err_model: np.ndarray, err_base: np.ndarray, block: int, n_boot: int = 1000,
                 seed: int = 0) -> tuple[float, float]:
    """95 % interval of 1 - MAE(model) / MAE(base) from paired absolute errors [windows] by a
    moving-block bootstrap (blocks of `block` consecutive windows)."""
    n = len(err_model)
    if n == 0:
        return float("nan"), float("nan")
    block = max(1, min(block, n))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - block + 1, size=(n_boot, -(-n // block)))
    idx = (starts[..., None] + np.arange(block)).reshape(n_boot, -1)[:, :n]
    gaps = 1.0 - err_model[idx].mean(axis=1) / err_base[idx].mean(axis=1)
    lo, hi = np.percentile(gaps, [2.5, 97.5])
    return float(lo), float(hi)


def combine(preds: dict[str, np.ndarray], choice: np.ndarray) -> np.ndarray:
    """[windows, horizons, targets]: each (horizon, target) from the model chosen for it."""
    first = next(iter(preds.values()))
    out = np.empty_like(first, dtype=np.float64)
    for (k, j), name in np.ndenumerate(choice):
        out[:, k, j] = preds[name][:, k, j]
    return out


def selection_table(choice: np.ndarray, maes: dict[str, dict[str, np.ndarray]], targets: list[str],
                    horizons_s: list[float], test_preds: dict[str, np.ndarray], test_truth: np.ndarray,
                    block: int, cv: dict) -> pd.DataFrame:
    """One row per target and horizon: the selected model, its test MAE, the best baseline on
    the test windows and its MAE, the LSTM's, and the gaps (positive: better than the best
    baseline) with the LSTM's 95 % interval; then the cross-validation behind the choice: the
    baseline it chose, that baseline's relative MAE over the folds (worst fold), and the
    LSTM's gain over it per fold (median, least, most). `maes["test"][model]` are [horizons,
    targets] MAEs; `cv` holds "baseline" ([H, T] names), "regret" ([folds, H, T] relative MAE of
    the chosen baseline) and "lstm_gains" ([lstm folds, H, T] or None)."""
    rows = []
    gains = cv.get("lstm_gains")
    for (k, j), name in np.ndenumerate(choice):
        test = maes["test"]
        base = min(ORDER, key=lambda b: test[b][k, j])
        best = float(test[base][k, j])
        err = {m: np.abs(test_preds[m][:, k, j] - test_truth[:, k, j]) for m in (LSTM, base)}
        lo, hi = gap_interval(err[LSTM], err[base], block)
        rows.append({"target": targets[j], "horizon_s": horizons_s[k], "selected": str(name),
                     "selected_mae": float(test[SELECTED][k, j]), "best_baseline": base, "best_baseline_mae": best,
                     "lstm_mae": float(test[LSTM][k, j]),
                     "selected_vs_best_baseline": 1.0 - float(test[SELECTED][k, j]) / best,
                     "lstm_vs_best_baseline": 1.0 - float(test[LSTM][k, j]) / best,
                     "lstm_vs_best_baseline_ci95_low": lo, "lstm_vs_best_baseline_ci95_high": hi,
                     "cv_baseline": str(cv["baseline"][k, j]), "cv_folds": int(len(cv["regret"])),
                     "cv_baseline_regret_mean": float(cv["regret"][:, k, j].mean() - 1.0),
                     "cv_baseline_regret_max": float(cv["regret"][:, k, j].max() - 1.0),
                     "cv_lstm_folds": 0 if gains is None else int(len(gains)),
                     **{f"cv_lstm_gain_{stat}": (float(fn(gains[:, k, j])) if gains is not None and len(gains)
                                                 else float("nan"))
                        for stat, fn in (("median", np.median), ("min", np.min), ("max", np.max))}})
    return pd.DataFrame(rows)


NEGLIGIBLE = 0.005  # a gap under half a per cent is no difference a process engineer would act on


def lines(table: pd.DataFrame) -> list[str]:
    """One plain sentence per target and horizon."""
    out = []
    for r in table.itertuples(index=False):
        lo, hi, gap = r.lstm_vs_best_baseline_ci95_low, r.lstm_vs_best_baseline_ci95_high, r.lstm_vs_best_baseline
        if lo > 0:
            verdict = "the LSTM wins" + (" negligibly" if gap < NEGLIGIBLE else "")
        elif hi < 0:
            verdict = "the LSTM loses" + (" negligibly" if gap > -NEGLIGIBLE else "")
        else:
            verdict = "the LSTM neither wins nor loses beyond noise"
        out.append(f"{r.target} at {r.horizon_s:g} s: deployed {r.selected} (test MAE {r.selected_mae:.4g}, "
                   f"{r.selected_vs_best_baseline:+.2%} vs the best baseline {r.best_baseline} {r.best_baseline_mae:.4g}); "
                   f"{verdict} ({r.lstm_mae:.4g}, {gap:+.2%}, 95 % interval {lo:+.2%}..{hi:+.2%}).")
    return out
