"""Stage train_process: fit the LSTM forecaster as a correction to the best baseline, select
per target and horizon on validation between it and the baselines, report the selection's
test result beside the best baseline's, derive the golden profile and limits per operating
state, run and score the early warnings, export the deployed forecaster to ONNX (checked
with onnxruntime), write figures and metrics."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from pipeline.contracts.line import ALIGNED_FILE, PRESS_STOP
from pipeline.contracts.process_model import INPUT, ONNX_FILE, OUTPUT, PT_FILE
from pipeline.core import onnx_io, registry
from pipeline.core.io import ensure_dir, write_json
from pipeline.core.lightning import fit_best, seed_everything, training_parts
from pipeline.core.tracking import log_metrics, stage_run
from pipeline.process import baselines, figures
from pipeline.process.control import (WARNING_COLUMNS, EarlyWarning, Golden, WarningSettings, golden_profile,
                                      in_control_mask, outside_limits, score_warnings)
from pipeline.process.data import LineData, LineDataModule, load_line, window_ends
from pipeline.process.model import (BaseFilter, DeployedForecaster, Forecaster, RawUnitsForecaster, StateFeatures,
                                    build_network, normalised_filter)
from pipeline.process.scores import compare, naive_scale, score_table
from pipeline.process.selection import LSTM, SELECTED, choose, combine, lines, mae, selection_table
from pipeline.process.states import NAMES, RUNNING, hours_in, stop_table


@torch.no_grad()
def predict(model: torch.nn.Module, values: np.ndarray, ends: np.ndarray, lookback: int, batch: int = 2048) -> np.ndarray:
    """Raw-unit forecasts [windows, horizons, targets] of a raw-units model for windows ending at `ends`."""
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    offsets = torch.arange(-lookback + 1, 1)
    out = [model(x[torch.as_tensor(ends[i : i + batch])[:, None] + offsets]).numpy() for i in range(0, len(ends), batch)]
    return np.concatenate(out).astype(np.float64) if out else np.empty((0,))


def run_warnings(data: LineData, golden: Golden, forecast: np.ndarray, ends: np.ndarray,
                 settings: WarningSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stream the test period through the warning rule; forecast: [len(ends), targets] at the
    rule's horizon. Returns the warnings and the unplanned stops the rule saw."""
    rule = EarlyWarning(golden, data.targets, data.layout.get("actuators", {}), settings)
    rows = []
    for k, t in enumerate(ends):
        rows.extend(rule.update(data.time[t], forecast[k], data.values[t]))
    return (pd.DataFrame(rows, columns=WARNING_COLUMNS),
            pd.DataFrame(rule.state_events, columns=["time", "event", "ran_s"]))


def fit(cfg: DictConfig, dm: LineDataModule, base: baselines.LinearFilter, run) -> tuple[torch.nn.Module, dict]:
    """The LSTM, correcting `base` (raw-unit filter), with the state features when the data tell states."""
    mc, data = cfg.model.process, dm.data
    base_n = BaseFilter(normalised_filter(base, dm.y_norm.mean.astype(np.float64), dm.y_norm.std.astype(np.float64)),
                        data.target_index)
    states = StateFeatures(data.rule, data.channels, dm.x_norm.mean, dm.x_norm.std, data.period_s) if data.rule else None
    network = build_network(mc, dm.x.shape[1], data.target_index, base=base_n, states=states)
    module = Forecaster(network, **training_parts(mc))
    trainer, seconds = fit_best(cfg, mc, run, module, dm)
    windows = len(dm.ends["train"]) * trainer.current_epoch
    info = {"epochs": int(trainer.current_epoch), "seconds": seconds,
            "windows_per_s": windows / seconds if seconds > 0 else float("nan"),
            "best_val_loss": float(trainer.checkpoint_callback.best_model_score or float("nan"))}
    return module.network, info


def export(deployed: DeployedForecaster, dm: LineDataModule, golden: Golden, mc: DictConfig, models_dir: Path,
           test_ends: np.ndarray, settings: WarningSettings, selection: dict) -> tuple[Path, float]:
    """models/process_lstm.onnx (+ weights-only .pt) and its largest difference from torch (checked
    against model.process.export.tolerance)."""
    data = dm.data
    window = data.values  # test windows are complete (window_ends): no NaN to fill
    example = torch.from_numpy(window[test_ends[:1, None] + np.arange(-dm.lookback + 1, 1)])
    meta = {"channels": data.channels, "targets": data.targets, "horizons": list(dm.horizons),
            "horizon": int(mc.horizon), "lookback": dm.lookback, "period_s": data.period_s,
            "golden": golden.as_dict(), "actuators": data.layout.get("actuators", {}),
            "replay_from": str(data.time[dm.test_start]), "selection": selection,
            "warnings": settings.as_dict()}
    onnx_path = onnx_io.export(deployed.eval(), example, models_dir / ONNX_FILE, [INPUT], [OUTPUT], meta,
                               opset=int(mc.export.opset))
    torch.save(deployed.state_dict(), models_dir / PT_FILE)
    sample = test_ends[:: max(1, len(test_ends) // 512)]
    inputs = {INPUT: window[sample[:, None] + np.arange(-dm.lookback + 1, 1)].astype(np.float32)}
    parity = onnx_io.check_parity(onnx_path, deployed, inputs, mc.export.tolerance)
    return onnx_path, parity.max_abs_difference


def select_models(cfg: DictConfig, dm: LineDataModule, run) -> dict:
    """Baselines, the LSTM on the best of them, the per-(horizon, target) choice on validation
    and every model's forecasts and MAEs on the validation and test windows."""
    mc, data = cfg.model.process, dm.data
    y = data.values[:, data.target_index].astype(np.float64)
    filters = baselines.fit_all(y, dm.ends["train"], dm.horizons, dm.lookback, int(mc.baselines.moving_average),
                                int(mc.baselines.ar_lags))
    parts = ("val", "test")
    truth = {p: np.stack([y[dm.ends[p] + h] for h in dm.horizons], axis=1) for p in parts}
    preds = {p: {name: f.predict(y, dm.ends[p]) for name, f in filters.items()} for p in parts}
    min_gain = float(mc.select.lstm_min_gain)
    base_choice = choose({n: mae(preds["val"][n], truth["val"]) for n in filters}, min_gain)
    base = baselines.pick(filters, base_choice)
    network, fit_info = fit(cfg, dm, base, run)
    fit_info["base"] = {t: {f"{h * data.period_s:g}": str(base_choice[k, j]) for k, h in enumerate(dm.horizons)}
                        for j, t in enumerate(data.targets)}
    lstm = RawUnitsForecaster(network, dm.x_norm.mean, dm.x_norm.std, dm.y_norm.mean, dm.y_norm.std).eval()
    for p in parts:
        preds[p][LSTM] = predict(lstm, data.values, dm.ends[p], dm.lookback)
    maes = {p: {name: mae(pr, truth[p]) for name, pr in preds[p].items()} for p in parts}
    choice = choose(maes["val"], min_gain)
    for p in parts:
        preds[p][SELECTED] = combine(preds[p], choice)
        maes[p][SELECTED] = mae(preds[p][SELECTED], truth[p])
    fallback = np.where(choice == LSTM, base_choice, choice)  # where the LSTM is used, any baseline will do
    deployed = DeployedForecaster(lstm, BaseFilter(baselines.pick(filters, fallback), data.target_index), choice == LSTM)
    return {"filters": filters, "truth": truth, "preds": preds, "maes": maes, "choice": choice, "deployed": deployed,
            "fit": fit_info, "y": y}


def warning_summary(scored: dict, warnings: pd.DataFrame, running_h: float, targets: list[str]) -> dict:
    per = {t: int((warnings.target == t).sum()) for t in targets}
    return {**scored, "running_hours": running_h,
            "warnings_per_running_hour": len(warnings) / running_h if running_h > 0 else float("nan"),
            "by_target": {t: {"warnings": n, "warnings_per_running_hour": n / running_h if running_h > 0 else float("nan")}
                          for t, n in per.items()},
            "by_state": {str(k): int(v) for k, v in warnings.state.value_counts().items()}}


def verdict(selection: pd.DataFrame) -> registry.Verdict:
    """The deployed forecaster (the validation winner per target and horizon) beats its
    baselines when, on the test windows, it is nowhere worse than the best baseline and better
    somewhere."""
    gap = selection["selected_vs_best_baseline"]
    worst = selection.loc[gap.idxmin()]
    beats = bool((gap >= 0).all() and (gap > 0).any())
    return registry.Verdict(beats, f"deployed forecaster vs best baseline on the test windows: better on "
                                   f"{int((gap > 0).sum())} of {len(gap)} target-horizons, least gap "
                                   f"{gap.min():+.1%} ({worst.target} at {worst.horizon_s:g} s)")


def train(cfg: DictConfig) -> dict:
    mc = cfg.model.process  # checked when the config loaded (pipeline/core/settings/model_process.py)
    torch.set_num_threads(int(mc.torch_threads))
    seed_everything(int(cfg.seed))
    data = load_line(Path(cfg.paths.data) / "line")
    dm = LineDataModule(data, mc)
    reports = ensure_dir(Path(cfg.paths.reports) / "process")
    models = ensure_dir(cfg.paths.models)
    horizons = dm.horizons
    horizons_s = [h * data.period_s for h in horizons]
    k_cfg = horizons.index(int(mc.horizon))
    settings = WarningSettings.from_config(mc.warnings, data.period_s)
    k_warn = horizons.index(settings.horizon)
    with stage_run("train_process", cfg, params={"model": mc, "trainer": cfg.trainer, "seed": cfg.seed,
                                                 "data_source": data.layout["source"]}) as run:
        sel = select_models(cfg, dm, run)
        choice, y = sel["choice"], sel["y"]
        test = dm.ends["test"]
        scale = naive_scale(y, dm.ends["train"], horizons)
        table = score_table(sel["preds"]["test"], sel["truth"]["test"], scale, data.targets, horizons_s)
        table.to_csv(reports / "scores.csv", index=False)
        block = max(1, int(round(float(mc.select.bootstrap_block_s) / data.period_s)))
        selection = selection_table(choice, sel["maes"], data.targets, horizons_s, sel["preds"]["test"],
                                    sel["truth"]["test"], block)
        selection.to_csv(reports / "selection.csv", index=False)
        comparison = compare(table, horizons_s[k_cfg])

        # golden profile per operating state from in-control steps before the test period
        mask = np.zeros(len(data.values), dtype=bool)
        mask[: dm.test_start] = True
        mask &= in_control_mask(data.time, data.events, float(mc.golden.event_margin_s))
        golden = golden_profile(data.values, data.channels, mask, float(mc.golden.k_sigma),
                                data.states if data.rule else None, data.rule)

        # early warnings over the test period: every step with a complete window, as the replay
        steps = window_ends(data.values, dm.lookback, [0], data.target_index, dm.test_start, len(data.values))
        deployed_steps = predict(sel["deployed"], data.values, steps, dm.lookback)
        forecasts = {"deployed": deployed_steps, "linear_ar": sel["filters"]["linear_ar"].predict(y, steps)}
        outside = outside_limits(data.time, data.values, golden, data.targets)
        period = (data.time[dm.test_start], data.time[-1])
        running_h = hours_in(data.states[dm.test_start:], RUNNING, data.period_s)
        warn_metrics, warn_tables = {}, {}
        for name, f in forecasts.items():
            w, seen_stops = run_warnings(data, golden, f[:, k_warn, :], steps, settings)
            scored, events_scored = score_warnings(w, data.events, outside, period, float(mc.warnings.match_before_s),
                                                   float(mc.warnings.match_after_s))
            warn_metrics[name] = {**warning_summary(scored, w, running_h, data.targets),
                                  "unplanned_stops_seen_by_rule": len(seen_stops)}
            warn_tables[name] = (w, events_scored, seen_stops)
        warnings, event_table, seen_stops = warn_tables["deployed"]
        warnings.to_csv(reports / "warnings.csv", index=False)
        event_table.to_csv(reports / "events_scored.csv", index=False)
        stops = stop_table(data.time, data.states, data.segments, data.rule) if data.rule else pd.DataFrame()
        if len(stops):
            stops.insert(0, "part", np.where(stops.start >= period[0], "test",
                                             np.where(stops.start >= data.time[dm.val_start], "val", "train")))
        stops.to_csv(reports / "stops.csv", index=False)

        selection_meta = {t: {f"{hs:g}": str(choice[k, j]) for k, hs in enumerate(horizons_s)}
                          for j, t in enumerate(data.targets)}
        onnx_path, onnx_diff = export(sel["deployed"], dm, golden, mc, models, test, settings, selection_meta)

        fig1 = figures.forecast_vs_actual(
            reports / "forecast_vs_actual.png", data.time, data.values[:, data.target_index],
            {"deployed": forecasts["deployed"][:, k_warn], "linear_ar": forecasts["linear_ar"][:, k_warn]},
            data.time[steps], data.targets, golden, event_table, warnings, float(mc.figures.window_s),
            int(mc.figures.events), horizons_s[k_warn])
        fig2 = figures.mae_by_horizon(reports / "mase_by_horizon.png", table)
        fig3 = figures.day_with_warnings(
            reports / "day_with_warnings.png", data, golden, dm.test_start, data.time[steps],
            forecasts["deployed"][:, k_warn], horizons_s[k_warn], warnings, stops, float(mc.figures.day_hours),
            settings.states)

        metrics = stage_metrics(data, dm, sel, table, selection, comparison, horizons_s[k_cfg], warn_metrics,
                                golden, stops, period, running_h, onnx_diff)
        metrics["train"] = sel["fit"]
        deployed = warn_metrics["deployed"]
        example = data.values[test[:1, None] + np.arange(-dm.lookback + 1, 1)].astype(np.float32)  # one test window
        metrics["registry"] = registry.log_and_register(
            cfg, "process", onnx_path, {INPUT: example}, verdict(selection), stage="train_process",
            metrics={"selected_improvement_min": metrics["test"]["selected_improvement_min"],
                     "lstm_improvement_min": metrics["test"]["improvement_min"],
                     "warning_recall": deployed["recall"], "false_alarms_per_hour": deployed["false_alarms_per_hour"]},
            datasets={"line_aligned": Path(cfg.paths.data) / "line" / ALIGNED_FILE},
            about="Forecaster of the line's critical process parameters with its golden profile and warning rule in "
                  "the ONNX metadata; the live monitor runs it (python -m pipeline.process.live).").as_metrics()
        log_metrics(metrics, prefix="")
        import mlflow

        for path in (fig1, fig2, fig3, reports / "scores.csv", reports / "selection.csv", reports / "warnings.csv",
                     reports / "events_scored.csv", reports / "stops.csv", onnx_path):
            if path is not None and Path(path).exists():
                mlflow.log_artifact(str(path))
    write_json(reports / "metrics.json", metrics)
    return metrics


def stops_against_events(stops: pd.DataFrame, events: pd.DataFrame, start: pd.Timestamp) -> dict:
    """With ground truth: how many of the test period's unplanned stops fall inside a known
    press stop, and how many press stops there were (empty without ground truth)."""
    if not len(events):
        return {}
    press = events[(events.kind == PRESS_STOP) & (events.start >= start)]
    unplanned = stops[(stops.part == "test") & (stops.kind == "unplanned")] if len(stops) else pd.DataFrame({"start": []})
    matched = sum(bool(((press.start <= t) & (press.end >= t)).any()) for t in unplanned.start)
    return {"press_stop_events": int(len(press)), "unplanned_stops": int(len(unplanned)),
            "unplanned_inside_a_press_stop": int(matched)}


def stage_metrics(data: LineData, dm: LineDataModule, sel: dict, table: pd.DataFrame, selection: pd.DataFrame,
                  comparison: dict, horizon_s: float, warn_metrics: dict, golden: Golden, stops: pd.DataFrame,
                  period: tuple, running_h: float, onnx_diff: float) -> dict:
    improvements = [v["improvement"] for v in comparison.values()]
    at = selection[selection.horizon_s == horizon_s].set_index("target")
    for t, v in comparison.items():
        v.update({"selected": at.at[t, "selected"], "selected_mae": float(at.at[t, "selected_mae"]),
                  "selected_improvement": float(at.at[t, "selected_vs_best_baseline"])})
    dep = warn_metrics["deployed"]
    lstm_wins = selection[selection.lstm_vs_best_baseline > 0]
    test_states = data.states[dm.test_start:]
    return {
        "data": {"source": data.layout["source"], "steps": len(data.values), "period_s": data.period_s,
                 "split_by": dm.split_by, "batches": data.segment_names,
                 "test_batches": sorted({data.segment_names[s] for s in data.segments[dm.test_start:]}),
                 "train_windows": len(dm.ends["train"]), "val_windows": len(dm.ends["val"]),
                 "test_windows": len(dm.ends["test"]), "test_hours": (period[1] - period[0]).total_seconds() / 3600,
                 "test_hours_by_state": {NAMES[c]: hours_in(test_states, c, data.period_s) for c in (0, 1, 2)}},
        "test": {"horizon_s": horizon_s, "by_target": comparison,
                 "improvement_mean": float(np.mean(improvements)), "improvement_min": float(np.min(improvements)),
                 "selected_improvement_min": float(selection.selected_vs_best_baseline.min()),
                 "mase": {m: float(table[(table.model == m) & (table.horizon_s == horizon_s)].mase.mean())
                          for m in table.model.unique()}},
        "selection": {"by_target": {t: dict(zip(map(str, g.horizon_s), g.selected)) for t, g in selection.groupby("target")},
                      "lstm_wins": [f"{r.target}@{r.horizon_s:g}s" for r in lstm_wins.itertuples()],
                      "lstm_deployed": [f"{r.target}@{r.horizon_s:g}s" for r in selection[selection.selected == LSTM].itertuples()],
                      "never_worse_than_best_baseline": bool((selection.selected_vs_best_baseline >= 0).all()),
                      "lines": lines(selection)},
        "warnings": warn_metrics,
        "stops": {"test_by_kind": {str(k): int(v) for k, v in stops[stops.part == "test"].kind.value_counts().items()}
                  if len(stops) else {},
                  "unplanned_by_part": {str(k): int(v) for k, v in stops[stops.kind == "unplanned"].part.value_counts().items()}
                  if len(stops) else {},
                  "against_ground_truth": stops_against_events(stops, data.events, period[0])},
        "golden": {t: {"center": float(golden.center[data.channels.index(t)]),
                       "lower": float(golden.lower[data.channels.index(t)]),
                       "upper": float(golden.upper[data.channels.index(t)])} for t in data.targets},
        "onnx": {"max_abs_difference": onnx_diff},
        "targets_met": {"mae_10pct_better": bool(np.min(improvements) >= 0.10),
                        "selected_never_worse": bool((selection.selected_vs_best_baseline >= 0).all()),
                        "recall_95": bool(dep["recall"] >= 0.95) if dep["events"] else None,
                        "lead_positive": bool(dep["median_lead_s"] > 0) if dep["events"] else None,
                        "false_alarms_le_1_per_8h": bool(dep["false_alarms_per_hour"] <= 1 / 8),
                        # without ground truth (a real series) the rate is the target; with it, recall and false alarms are
                        "warnings_le_1_per_running_hour": None if dep["events"] else bool(dep["warnings_per_running_hour"] <= 1.0)},
    }
