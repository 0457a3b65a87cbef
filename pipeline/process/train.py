"""Stage train_process: choose the deployed forecaster per target and horizon by
cross-validation over batches (baselines in every fold, the LSTM, a correction to the chosen
baseline, in the last folds; pipeline/process/crossval.py), report the choice's test result
beside the best baseline's, flag batches whose level or spread differs from the others, derive
the golden profile and limits per operating state, run and score the early warnings, export the
deployed forecaster to ONNX (checked with onnxruntime), replay the test period through it as the
line-side monitor does, write figures and metrics."""
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
from pipeline.core.lightning import seed_everything
from pipeline.core.staging import PREFIX as STAGING_PREFIX
from pipeline.core.tracking import log_metrics, stage_run
from pipeline.process import baselines, figures
from pipeline.process.control import (WARNING_COLUMNS, EarlyWarning, Golden, WarningSettings, golden_profile,
                                      in_control_mask, outside_limits, score_warnings)
from pipeline.process.crossval import (cross_validate, fit_filters, fold_summary, predict, recent_best, recent_history,
                                       truth_of, used_steps)
from pipeline.process.data import LineData, Split, Windows, batch_bounds, load_line, split_groups, window_ends
from pipeline.process.model import (FALLBACK, USE_LSTM, USE_RECENT, BaseFilter, DeployedForecaster,
                                    LSTMEnsemble)
from pipeline.process.recent_best import NAME as RECENT
from pipeline.process.recent_best import RecentBestModule, producing, span
from pipeline.process.monitor import replay
from pipeline.process.scores import compare, naive_scale, score_table
from pipeline.process.selection import LSTM, SELECTED, combine, lines, mae, selection_table
from pipeline.process.shifts import batch_shifts, shift_metrics
from pipeline.process.states import NAMES, RUNNING, hours_in, stop_table


def test_runs(data: LineData, split: Split) -> list[tuple[int, int]]:
    """[first, end) steps of each stretch of the test inside one batch (by batch: each test
    batch; by time: the test period)."""
    runs = []
    for lo, hi in batch_bounds(data.segments):
        test = np.flatnonzero(split.test[lo:hi])
        if len(test):
            runs.append((lo + int(test[0]), hi))
    return runs


def warning_steps(data: LineData, lookback: int, runs: list[tuple[int, int]]) -> list[np.ndarray]:
    """Per test run, every step with a complete window inside its batch (as the replay forecasts)."""
    return [window_ends(data.values, lookback, [0], data.target_index, lo, hi, 1, data.segments) for lo, hi in runs]


def run_warnings(data: LineData, golden: Golden, forecast: np.ndarray, steps: list[np.ndarray],
                 settings: WarningSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stream each test run through a fresh warning rule (a batch starts afresh, as in the
    replay); forecast: [sum of len(steps), targets] at the rule's horizon. Returns the warnings
    and the unplanned stops the rule saw."""
    rows, stops, k = [], [], 0
    for ends in steps:
        rule = EarlyWarning(golden, data.targets, data.layout.get("actuators", {}), settings)
        for t in ends:
            rows.extend(rule.update(data.time[t], forecast[k], data.values[t]))
            k += 1
        stops += rule.state_events
    return (pd.DataFrame(rows, columns=WARNING_COLUMNS), pd.DataFrame(stops, columns=["time", "event", "ran_s"]))


def export(deployed: DeployedForecaster, windows: Windows, golden: Golden, mc: DictConfig, models_dir: Path,
           settings: WarningSettings, selection: dict, span: int) -> tuple[Path, float]:
    """models/process_lstm.onnx (+ weights-only .pt) taking windows of `span` steps, and its
    largest difference from torch (checked against model.process.export.tolerance)."""
    data, split, test_ends = windows.data, windows.split, windows.test
    offsets = np.arange(-span + 1, 1)
    example = torch.from_numpy(data.values[test_ends[:1, None] + offsets])  # test windows are complete: no NaN
    first_test = int(np.flatnonzero(split.test)[0])
    meta = {"channels": data.channels, "targets": data.targets, "horizons": list(windows.horizons),
            "horizon": int(mc.horizon), "lookback": span, "period_s": data.period_s,
            "golden": golden.as_dict(), "actuators": data.layout.get("actuators", {}),
            "replay_from": str(data.time[first_test]) if split.by == "time" else None,
            "segments": list(data.layout["segments"]), "test_batches": split.test_names if split.by == "batch" else [],
            "selection": selection, "warnings": settings.as_dict(), "lstm_members": len(deployed.lstm.members),
            "context": str(mc.network.context),
            "recent_best": ({"history": deployed.recent.history, "used": deployed.recent.used,
                             "candidates": list(baselines.ORDER)} if deployed.recent is not None else {})}
    onnx_path = onnx_io.export(deployed.eval(), example, models_dir / ONNX_FILE, [INPUT], [OUTPUT], meta,
                               opset=int(mc.export.opset))
    torch.save(deployed.state_dict(), models_dir / PT_FILE)
    sample = test_ends[:: max(1, len(test_ends) // 512)]
    inputs = {INPUT: data.values[sample[:, None] + offsets].astype(np.float32)}
    parity = onnx_io.check_parity(onnx_path, deployed, inputs, mc.export.tolerance)
    return onnx_path, parity.max_abs_difference


def select_models(cfg: DictConfig, windows: Windows, run) -> dict:
    """The cross-validated choice per (horizon, target), the deployed forecaster (the folds'
    LSTMs where they won, the recent-best forecaster or the chosen baseline, refitted on every
    development window, elsewhere) and every model's test forecasts and MAEs."""
    mc, data = cfg.model.process, windows.data
    y = data.values[:, data.target_index].astype(np.float64)
    cv = cross_validate(cfg, windows, y, run)
    dev_ends = windows.of(windows.split.dev_groups)
    filters = fit_filters(mc, y, dev_ends, windows)
    test = windows.test
    truth = {"test": truth_of(y, test, windows.horizons)}
    preds = {"test": {name: f.predict(y, test) for name, f in filters.items()}}
    recent = None
    if recent_history(mc, data.period_s) > 0:
        rb = recent_best(mc, filters, windows, cv["fixed_baseline"])
        preds["test"][RECENT] = rb.predict(y, test, producing(data.values, data.channels, data.rule))
        if (cv["choice"] == RECENT).any():  # only then in the graph: its long window delays a monitor's first forecast
            recent = RecentBestModule(rb.candidates, rb.horizons, rb.history, rb.used, rb.fallback, data.target_index,
                                      data.channels, data.rule)
    ensemble = LSTMEnsemble(cv["members"]).eval()
    preds["test"][LSTM] = predict(ensemble, data.values, test, windows.span)
    choice = cv["choice"]
    preds["test"][SELECTED] = combine(preds["test"], choice)
    maes = {"test": {name: mae(pr, truth["test"]) for name, pr in preds["test"].items()}}
    fixed = np.where(np.isin(choice, baselines.ORDER), choice, cv["fixed_baseline"])
    use = np.select([choice == LSTM, choice == RECENT], [USE_LSTM, USE_RECENT], FALLBACK)
    deployed = DeployedForecaster(ensemble, BaseFilter(baselines.pick(filters, fixed), data.target_index), use, recent)
    fits = cv["fits"]
    fit_info = {"folds": fits, "epochs": [f["epochs"] for f in fits], "seconds": float(sum(f["seconds"] for f in fits)),
                "base": {t: {f"{h * data.period_s:g}": str(cv["fixed_baseline"][k, j])
                             for k, h in enumerate(windows.horizons)} for j, t in enumerate(data.targets)}}
    return {"filters": filters, "truth": truth, "preds": preds, "maes": maes, "choice": choice, "deployed": deployed,
            "fit": fit_info, "y": y, "cv": cv, "dev_ends": dev_ends,
            "span": windows.span if recent is not None else windows.lookback}  # the deployed model's window


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
    split = split_groups(data, mc.split, int(mc.select.time_blocks))
    history = recent_history(mc, data.period_s)
    windows = Windows(data, split, int(mc.lookback), list(mc.horizons),
                      span(used_steps(mc), list(mc.horizons), history) if history else None)
    reports = ensure_dir(Path(cfg.paths.reports) / "process")
    models = ensure_dir(cfg.paths.models)
    horizons = windows.horizons
    horizons_s = [h * data.period_s for h in horizons]
    k_cfg = horizons.index(int(mc.horizon))
    settings = WarningSettings.from_config(mc.warnings, data.period_s)
    k_warn = horizons.index(settings.horizon)
    with stage_run("train_process", cfg, params={"model": mc, "trainer": cfg.trainer, "seed": cfg.seed,
                                                 "data_source": data.layout["source"]}) as run:
        sel = select_models(cfg, windows, run)
        choice, y = sel["choice"], sel["y"]
        scale = naive_scale(y, sel["dev_ends"], horizons)
        table = score_table(sel["preds"]["test"], sel["truth"]["test"], scale, data.targets, horizons_s)
        table.to_csv(reports / "scores.csv", index=False)
        block = max(1, int(round(float(mc.select.bootstrap_block_s) / data.period_s)))
        selection = selection_table(choice, sel["maes"], data.targets, horizons_s, sel["preds"]["test"],
                                    sel["truth"]["test"], block, sel["cv"])
        selection.to_csv(reports / "selection.csv", index=False)
        sel["cv"]["folds"].to_csv(reports / "cv_folds.csv", index=False)
        comparison = compare(table, horizons_s[k_cfg])
        shifts = level_shifts(data, split, mc.shift)
        shifts.to_csv(reports / "shifts.csv", index=False)

        # golden profile per operating state from the in-control development steps
        mask = ~split.test & in_control_mask(data.time, data.events, float(mc.golden.event_margin_s))
        golden = golden_profile(data.values, data.channels, mask, float(mc.golden.k_sigma),
                                data.states if data.rule else None, data.rule)

        # early warnings over each test run: every step with a complete window, as the replay
        runs = test_runs(data, split)
        per_run = warning_steps(data, sel["span"], runs)
        steps = np.concatenate(per_run)
        deployed_steps = predict(sel["deployed"], data.values, steps, sel["span"])
        forecasts = {"deployed": deployed_steps, "linear_ar": sel["filters"]["linear_ar"].predict(y, steps)}
        outside = outside_limits(data.time, data.values, golden, data.targets)
        period = (data.time[runs[0][0]], data.time[runs[-1][1] - 1])
        running_h = hours_in(data.states[split.test], RUNNING, data.period_s)
        warn_metrics, warn_tables = {}, {}
        for name, f in forecasts.items():
            w, seen_stops = run_warnings(data, golden, f[:, k_warn, :], per_run, settings)
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
            stops.insert(0, "part", stop_parts(stops, data, split))
        stops.to_csv(reports / "stops.csv", index=False)

        selection_meta = {t: {f"{hs:g}": str(choice[k, j]) for k, hs in enumerate(horizons_s)}
                          for j, t in enumerate(data.targets)}
        onnx_path, onnx_diff = export(sel["deployed"], windows, golden, mc, models, settings, selection_meta, sel["span"])
        monitor = replay(onnx_path, Path(cfg.paths.data) / "line" / ALIGNED_FILE, reports)
        replayed = pd.read_csv(reports / "monitor_warnings.csv")
        monitor["matches_stage"] = (list(zip(replayed.time.astype(str), replayed.target))
                                    == list(zip(warnings.time.astype(str), warnings.target)))
        monitor["model"] = str(unstaged(onnx_path))  # the model's path once moved in, not the staging folder's
        write_json(reports / "monitor.json", monitor)

        lo, hi = runs[0]
        first = (steps >= lo) & (steps < hi)
        fig1 = figures.forecast_vs_actual(
            reports / "forecast_vs_actual.png", data.time[lo:hi], data.values[lo:hi][:, data.target_index],
            {"deployed": forecasts["deployed"][first, k_warn], "linear_ar": forecasts["linear_ar"][first, k_warn]},
            data.time[steps[first]], data.targets, golden, event_table, warnings, float(mc.figures.window_s),
            int(mc.figures.events), horizons_s[k_warn])
        fig2 = figures.mae_by_horizon(reports / "mase_by_horizon.png", table)
        fig3 = figures.day_with_warnings(
            reports / "day_with_warnings.png", data, golden, lo, hi, steps, forecasts["deployed"][:, k_warn],
            horizons_s[k_warn], warnings, stops, float(mc.figures.day_hours), settings.states)

        metrics = stage_metrics(data, windows, sel, table, selection, comparison, horizons_s[k_cfg], warn_metrics,
                                golden, stops, period, running_h, onnx_diff)
        metrics["train"] = sel["fit"]
        metrics["shifts"] = shift_metrics(shifts, float(mc.shift.level_sigma), float(mc.shift.spread_ratio))
        metrics["monitor"] = {k: monitor[k] for k in ("steps", "warnings", "matches_stage", "batches", "latency_ms")}
        deployed = warn_metrics["deployed"]
        test = windows.test
        example = data.values[test[:1, None] + np.arange(-sel["span"] + 1, 1)].astype(np.float32)  # one test window
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

        mlflow.set_tag("shift_flags", "; ".join(metrics["shifts"]["flags"])[:5000] or "none")
        for path in (fig1, fig2, fig3, reports / "scores.csv", reports / "selection.csv", reports / "cv_folds.csv",
                     reports / "shifts.csv", reports / "warnings.csv", reports / "events_scored.csv",
                     reports / "stops.csv", reports / "monitor.json", onnx_path):
            if path is not None and Path(path).exists():
                mlflow.log_artifact(str(path))
    write_json(reports / "metrics.json", metrics)
    return metrics


def unstaged(path: Path) -> Path:
    """`path` as it will be once the stage's outputs are moved in (pipeline/core/staging.py)."""
    return Path(*[part for part in Path(path).parts if not part.startswith(STAGING_PREFIX)])


def level_shifts(data: LineData, split: Split, shift: DictConfig) -> pd.DataFrame:
    """Level and spread of every batch against the other development batches (pipeline/process/shifts.py);
    data without batches have none to compare (an empty table)."""
    dev = sorted(set(data.segments[~split.test].tolist())) if split.by == "batch" else []
    test = sorted(set(data.segments[split.test].tolist())) if split.by == "batch" else []
    return batch_shifts(data.values, data.states, data.segments, data.segment_names, data.products, dev, test,
                        data.target_index, data.targets, float(shift.level_sigma), float(shift.spread_ratio),
                        int(shift.min_running_steps))


def stop_parts(stops: pd.DataFrame, data: LineData, split: Split) -> np.ndarray:
    """'test' or 'development' per stop: by the batch it came out of (by batch), or its time (by time)."""
    if split.by == "batch":
        return np.where(np.isin(stops.segment_before, data.segments[split.test]), "test", "development")
    return np.where(stops.start >= data.time[int(np.flatnonzero(split.test)[0])], "test", "development")


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


def batch_table(data: LineData, split: Split) -> dict:
    """Per batch: its part, span (first to last step: no calendar time between batches) and
    hours per operating state."""
    out = {}
    for b, (lo, hi) in enumerate(batch_bounds(data.segments)):
        part = "test" if split.by == "batch" and split.test[lo] else "development"
        span = (data.time[hi - 1] - data.time[lo]).total_seconds() / 3600
        out[data.segment_names[b]] = {"part": part, "hours": span, "steps": int(hi - lo),
                                      **{f"{NAMES[c]}_hours": hours_in(data.states[lo:hi], c, data.period_s)
                                         for c in (0, 1, 2)}}
    return out


def stage_metrics(data: LineData, windows: Windows, sel: dict, table: pd.DataFrame, selection: pd.DataFrame,
                  comparison: dict, horizon_s: float, warn_metrics: dict, golden: Golden, stops: pd.DataFrame,
                  period: tuple, running_h: float, onnx_diff: float) -> dict:
    split, cv = windows.split, sel["cv"]
    improvements = [v["improvement"] for v in comparison.values()]
    at = selection[selection.horizon_s == horizon_s].set_index("target")
    for t, v in comparison.items():
        v.update({"selected": at.at[t, "selected"], "selected_mae": float(at.at[t, "selected_mae"]),
                  "selected_improvement": float(at.at[t, "selected_vs_best_baseline"])})
    dep = warn_metrics["deployed"]
    lstm_wins = selection[selection.lstm_vs_best_baseline > 0]
    test_states = data.states[split.test]
    batches = batch_table(data, split)
    test_hours = (sum(v["hours"] for v in batches.values() if v["part"] == "test") if split.by == "batch"
                  else (period[1] - period[0]).total_seconds() / 3600)
    return {
        "data": {"source": data.layout["source"], "steps": len(data.values), "period_s": data.period_s,
                 "split_by": split.by, "batches": data.segment_names, "batch_hours": batches,
                 "test_batches": split.test_names if split.by == "batch" else data.segment_names,
                 "development_windows": len(sel["dev_ends"]), "test_windows": len(windows.test),
                 "test_hours": test_hours,
                 "test_hours_by_state": {NAMES[c]: hours_in(test_states, c, data.period_s) for c in (0, 1, 2)}},
        "cv": {"scheme": cv["scheme"], "lstm_min_gain": cv["lstm_min_gain"],
               "groups": [split.names[g] for g in split.dev_groups], "folds": cv["n_folds"],
               "groups_without_running_windows": cv["unscored_groups"],
               "lstm_folds": len(cv["members"]), "by_target": fold_summary(cv["folds"])},
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
