"""Per target and horizon, choose on the validation windows between the baselines and the
LSTM, and report the choice's test result beside the best baseline's, as the inventory stage
does.

The rule: the baseline with the lowest validation MAE, replaced by the LSTM only where the
LSTM's validation MAE is lower by more than `lstm_min_gain` (a fraction). The margin is
there because the LSTM's validation score is biased low (early stopping chose its epoch on
those very windows) while the baselines' are not (fitted on training windows, or nothing
fitted at all). So the LSTM is deployed where it clearly beats every baseline on data it was
not fitted on, and the best baseline elsewhere.

How sure a gap is: MAE differences on the test windows are autocorrelated, so the 95 %
interval of a gap comes from a moving-block bootstrap over the test windows (blocks of
`block` windows, an hour by default), not from the windows' count.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.process.baselines import ORDER

LSTM, SELECTED = "lstm", "selected"
CANDIDATES = (*ORDER, LSTM)


def mae(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """[horizons, targets] mean absolute error of [windows, horizons, targets] arrays."""
    return np.abs(pred - truth).mean(axis=0)


def choose(val_mae: dict[str, np.ndarray], lstm_min_gain: float) -> np.ndarray:
    """[horizons, targets] model name per entry (see the module's rule); without an "lstm"
    entry, the best baseline."""
    names = [b for b in ORDER if b in val_mae]
    stacked = np.stack([val_mae[b] for b in names])
    choice = np.asarray(names, dtype=object)[np.argmin(stacked, axis=0)]  # ties: the simpler
    if LSTM in val_mae:
        choice[val_mae[LSTM] < (1.0 - lstm_min_gain) * stacked.min(axis=0)] = LSTM
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
                    block: int) -> pd.DataFrame:
    """One row per target and horizon: the selected model, its test MAE, the best baseline on
    the test windows and its MAE, the LSTM's, and the gaps (positive: better than the best
    baseline) with the LSTM's 95 % interval. `maes[split][model]` are [horizons, targets] MAEs."""
    rows = []
    for (k, j), name in np.ndenumerate(choice):
        test, val = maes["test"], maes["val"]
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
                     "val_selected_mae": float(val[str(name)][k, j]),
                     "val_best_baseline_mae": float(min(val[b][k, j] for b in ORDER)),
                     "val_lstm_mae": float(val[LSTM][k, j])})
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
