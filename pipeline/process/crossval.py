"""The forecaster's selection by cross-validation over batches (pipeline/process/selection.py
states the rule): baselines and the recent-best forecaster fitted and scored in every fold, the
LSTM in the last `select.lstm_folds` folds, each fold's LSTM kept for the deployed ensemble,
and every fold's figures in one table (cv_folds.csv)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from pipeline.core.lightning import fit_best, training_parts
from pipeline.core.processes import Interrupted
from pipeline.core.tracking import process_tags
from pipeline.process import baselines
from pipeline.process.data import FoldData, Windows
from pipeline.process.model import (BaseFilter, LineForecaster, RawUnitsForecaster, StateFeatures, build_network,
                                    normalised_filter)
from pipeline.process.recent_best import NAME as RECENT
from pipeline.process.recent_best import RecentBest, producing
from pipeline.process.selection import (LSTM, Fold, choose, choose_baseline, chosen, folds, lstm_gains, mae,
                                        relative)

FOLD_COLUMNS = ["fold", "holdout", "fitted_groups", "windows", "model", "target", "horizon_s", "mae"]


@torch.no_grad()
def predict(model: torch.nn.Module, values: np.ndarray, ends: np.ndarray, lookback: int, batch: int = 2048) -> np.ndarray:
    """Raw-unit forecasts [windows, horizons, targets] of a raw-units model for windows ending at `ends`."""
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    offsets = torch.arange(-lookback + 1, 1)
    out = [model(x[torch.as_tensor(ends[i : i + batch])[:, None] + offsets]).numpy() for i in range(0, len(ends), batch)]
    return np.concatenate(out).astype(np.float64) if out else np.empty((0,))


@contextlib.contextmanager
def fold_run(name: str) -> Iterator:
    """A nested MLflow run for one fold's training (its epochs' curves apart from the others')."""
    import mlflow

    run = mlflow.start_run(run_name=name, nested=True, tags={"fold": name, **process_tags()})
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    except (Interrupted, KeyboardInterrupt):
        status = "KILLED"  # as the stage's own run ends when interrupted (pipeline/core/tracking.py)
        raise
    finally:
        mlflow.end_run(status)


def fit_lstm(cfg: DictConfig, windows: Windows, base: baselines.LinearFilter, train_ends: np.ndarray,
             stop_ends: np.ndarray, run) -> tuple[RawUnitsForecaster, dict]:
    """One LSTM correcting `base` (a raw-unit filter), with the state features when the data tell
    states, early-stopped on `stop_ends`; raw units in and out."""
    mc, data = cfg.model.process, windows.data
    y_mean, y_std = windows.y_norm.mean.astype(np.float64), windows.y_norm.std.astype(np.float64)
    base_n = BaseFilter(normalised_filter(base, y_mean, y_std), data.target_index)
    states = (StateFeatures(data.rule, data.channels, windows.x_norm.mean, windows.x_norm.std, data.period_s)
              if data.rule else None)
    network = build_network(mc, windows.x.shape[1], data.target_index, base=base_n, states=states)
    module = LineForecaster(network, **training_parts(mc))
    trainer, seconds = fit_best(cfg, mc, run, module, FoldData(windows, train_ends, stop_ends, int(mc.batch_size)))
    seen = len(train_ends) * trainer.current_epoch
    info = {"epochs": int(trainer.current_epoch), "seconds": seconds, "train_windows": int(len(train_ends)),
            "stop_windows": int(len(stop_ends)), "windows_per_s": seen / seconds if seconds > 0 else float("nan"),
            "best_val_loss": float(trainer.checkpoint_callback.best_model_score or float("nan"))}
    lstm = RawUnitsForecaster(module.network, windows.x_norm.mean, windows.x_norm.std, windows.y_norm.mean,
                              windows.y_norm.std).eval()
    return lstm, info


def truth_of(y: np.ndarray, ends: np.ndarray, horizons: list[int]) -> np.ndarray:
    return np.stack([y[ends + h] for h in horizons], axis=1)


def fit_filters(mc: DictConfig, y: np.ndarray, ends: np.ndarray, windows: Windows) -> dict:
    return baselines.fit_all(y, ends, windows.horizons, windows.lookback, int(mc.baselines.moving_average),
                             int(mc.baselines.ar_lags), str(mc.baselines.ar_level))


def recent_history(mc: DictConfig, period_s: float) -> int:
    """Realised origins the recent-best forecaster compares (model.process.baselines.recent_s); 0: none."""
    return int(round(float(mc.baselines.recent_s) / period_s))


def used_steps(mc: DictConfig) -> int:
    """Steps the baselines read (their filters are `lookback` wide, zero beyond these)."""
    return max(int(mc.baselines.moving_average), int(mc.baselines.ar_lags))


def recent_best(mc: DictConfig, filters: dict, windows: Windows, fallback: np.ndarray) -> RecentBest:
    """The recent-best forecaster over `filters` (in baselines.ORDER); `fallback`: [H, T] names."""
    names = list(filters)
    index = np.vectorize(names.index)(fallback)
    return RecentBest(list(filters.values()), windows.horizons, recent_history(mc, windows.data.period_s),
                      used_steps(mc), index)


def cross_validate(cfg: DictConfig, windows: Windows, y: np.ndarray, run) -> dict:
    """Every fold's baselines and, in the last `lstm_folds` folds, an LSTM on the baseline the
    folds chose; the deployed choice per horizon and target; the fold figures as a table."""
    mc, split = cfg.model.process, windows.split
    sel = mc.select
    scored = [g for g in split.dev_groups if len(windows.of([g]))]  # a batch that never ran has nothing to score
    unscored = [split.names[g] for g in split.dev_groups if g not in scored]
    fold_list = folds(scored, str(sel.cv))
    if not fold_list:
        raise ValueError(f"model.process.select.cv={sel.cv} needs at least two development groups with running "
                         f"windows; the data give {len(scored)} ({len(unscored)} without any: {unscored})")
    horizons_s = [h * windows.data.period_s for h in windows.horizons]
    fold_maes, fold_filters, rows = [], [], []
    for fold in fold_list:
        filters = fit_filters(mc, y, windows.of(fold.fit), windows)
        ends = windows.of([fold.holdout])
        truth = truth_of(y, ends, windows.horizons)
        fold_maes.append({name: mae(f.predict(y, ends), truth) for name, f in filters.items()})
        fold_filters.append(filters)
        rows += _rows(split.names, fold, len(ends), fold_maes[-1], windows.data.targets, horizons_s)
    base_choice = choose_baseline(fold_maes)  # the fixed baseline: the LSTM's base, the recent-best's fallback
    if recent_history(mc, windows.data.period_s) > 0:
        ok = producing(windows.data.values, windows.data.channels, windows.data.rule)
        for k, fold in enumerate(fold_list):
            ends = windows.of([fold.holdout])
            forecast = recent_best(mc, fold_filters[k], windows, base_choice).predict(y, ends, ok)
            fold_maes[k][RECENT] = mae(forecast, truth_of(y, ends, windows.horizons))
            rows += _rows(split.names, fold, len(ends), {RECENT: fold_maes[k][RECENT]}, windows.data.targets,
                          horizons_s)
    linear_choice = choose_baseline(fold_maes, [*baselines.ORDER, RECENT])
    regret = relative(fold_maes, list(fold_maes[0]), baselines.ORDER)
    regret = np.stack([chosen({n: regret[n][f] for n in regret}, linear_choice) for f in range(len(fold_list))])
    n_lstm = min(int(sel.lstm_folds), len(fold_list))
    members, infos, lstm_maes, base_maes = [], [], [], []
    for k in range(len(fold_list) - n_lstm, len(fold_list)):
        fold = fold_list[k]
        train_ends, stop_ends = windows.fit_and_stop(fold.fit, float(sel.early_stop_share), int(mc.stride))
        name = f"fold {split.names[fold.holdout]}"
        with fold_run(name) as child:
            lstm, info = fit_lstm(cfg, windows, baselines.pick(fold_filters[k], base_choice), train_ends, stop_ends,
                                  child)
        ends = windows.of([fold.holdout])
        lstm_mae = mae(predict(lstm, windows.data.values, ends, windows.span), truth_of(y, ends, windows.horizons))
        members.append(lstm)
        infos.append({"holdout": split.names[fold.holdout], **info})
        lstm_maes.append(lstm_mae)
        base_maes.append(chosen(fold_maes[k], linear_choice))
        rows += _rows(split.names, fold, len(ends), {LSTM: lstm_mae}, windows.data.targets, horizons_s)
    gains = lstm_gains(lstm_maes, base_maes) if members else None
    choice = choose(linear_choice, gains, float(sel.lstm_min_gain))
    return {"choice": choice, "baseline": linear_choice, "fixed_baseline": base_choice, "regret": regret, "lstm_gains": gains, "members": members,
            "fits": infos, "folds": pd.DataFrame(rows, columns=FOLD_COLUMNS), "n_folds": len(fold_list),
            "scheme": str(sel.cv), "lstm_min_gain": float(sel.lstm_min_gain), "unscored_groups": unscored}


def _rows(names: list[str], fold: Fold, n: int, maes: dict[str, np.ndarray], targets: list[str],
          horizons_s: list[float]) -> list[dict]:
    return [{"fold": names[fold.holdout], "holdout": fold.holdout, "fitted_groups": len(fold.fit), "windows": n,
             "model": model, "target": t, "horizon_s": hs, "mae": float(m[k, j])}
            for model, m in maes.items() for k, hs in enumerate(horizons_s) for j, t in enumerate(targets)]


def fold_summary(table: pd.DataFrame) -> dict:
    """Per model, target and horizon: the spread of the fold MAEs relative to the best baseline
    of each fold (1 = that fold's best baseline): median, least, most, and the folds counted."""
    base = table[table.model.isin(baselines.ORDER)]
    best = base.groupby(["fold", "target", "horizon_s"]).mae.min().rename("best")
    rel = table.join(best, on=["fold", "target", "horizon_s"])
    rel["relative"] = rel.mae / rel.best
    out: dict = {}
    for (model, target, hs), g in rel.groupby(["model", "target", "horizon_s"], sort=False):
        out.setdefault(target, {}).setdefault(f"{hs:g}", {})[model] = {
            "folds": int(len(g)), "relative_mae_median": float(g.relative.median()),
            "relative_mae_min": float(g.relative.min()), "relative_mae_max": float(g.relative.max())}
    return out
