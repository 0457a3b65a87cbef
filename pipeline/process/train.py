"""Stage train_process: fit the LSTM forecaster, compare it with the baselines on the
held-out period, derive the golden profile and limits, score the early warnings against the
ground truth, export to ONNX (checked with onnxruntime), write figures and metrics."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from pipeline.contracts.process_model import INPUT, ONNX_FILE, OUTPUT, PT_FILE
from pipeline.core import onnx_io
from pipeline.core.io import ensure_dir, write_json
from pipeline.core.lightning import fit_best, seed_everything, training_parts
from pipeline.core.tracking import log_metrics, stage_run
from pipeline.process import baselines, figures
from pipeline.process.control import (WARNING_COLUMNS, EarlyWarning, Golden, WarningSettings, golden_profile,
                                      in_control_mask, outside_limits, score_warnings)
from pipeline.process.data import LineData, LineDataModule, load_line, window_ends
from pipeline.process.model import Forecaster, RawUnitsForecaster, build_network
from pipeline.process.scores import compare, naive_scale, score_table


def check_config(mc: DictConfig) -> None:
    horizons = [int(h) for h in mc.horizons]
    for key in ("horizon", "warnings.horizon"):
        if int(OmegaConf.select(mc, key)) not in horizons:
            raise ValueError(f"model.process.{key} {OmegaConf.select(mc, key)} must be one of model.process.horizons {horizons}")
    for key in ("baselines.moving_average", "baselines.ar_lags"):
        if not 1 <= int(OmegaConf.select(mc, key)) <= int(mc.lookback):
            raise ValueError(f"model.process.{key} must lie in 1..lookback ({mc.lookback})")


@torch.no_grad()
def predict(network: torch.nn.Module, dm: LineDataModule, ends: np.ndarray, batch: int = 2048) -> np.ndarray:
    """Raw-unit forecasts [windows, horizons, targets] for windows ending at `ends`."""
    network.eval()
    x = torch.from_numpy(dm.x)
    L = dm.lookback
    offsets = torch.arange(-L + 1, 1)
    out = []
    for i in range(0, len(ends), batch):
        idx = torch.as_tensor(ends[i : i + batch])[:, None] + offsets
        out.append(network(x[idx]).numpy())
    pred = np.concatenate(out) if out else np.empty((0, len(dm.horizons), len(dm.data.targets)), np.float32)
    return pred * dm.y_norm.std + dm.y_norm.mean


def run_warnings(data: LineData, golden: Golden, forecast: np.ndarray, ends: np.ndarray,
                 settings: WarningSettings) -> pd.DataFrame:
    """Stream the test period through the warning rule; forecast: [len(ends), targets] at the rule's horizon."""
    rule = EarlyWarning(golden, data.targets, data.layout.get("actuators", {}), settings)
    rows = []
    for k, t in enumerate(ends):
        rows.extend(rule.update(data.time[t], forecast[k], data.values[t]))
    return pd.DataFrame(rows, columns=WARNING_COLUMNS)


def fit(cfg: DictConfig, dm: LineDataModule, run) -> tuple[torch.nn.Module, dict]:
    mc = cfg.model.process
    network = build_network(mc, n_inputs=dm.x.shape[1], target_index=dm.data.target_index)
    module = Forecaster(network, **training_parts(mc))
    trainer, seconds = fit_best(cfg, mc, run, module, dm)
    windows = len(dm.ends["train"]) * trainer.current_epoch
    info = {"epochs": int(trainer.current_epoch), "seconds": seconds,
            "windows_per_s": windows / seconds if seconds > 0 else float("nan"),
            "best_val_loss": float(trainer.checkpoint_callback.best_model_score or float("nan"))}
    return module.network, info


def export(network: torch.nn.Module, dm: LineDataModule, golden: Golden, mc: DictConfig, models_dir: Path,
           test_ends: np.ndarray, settings: WarningSettings) -> tuple[Path, float]:
    """models/process_lstm.onnx (+ weights-only .pt) and its largest difference from torch (checked
    against model.process.export.tolerance)."""
    data = dm.data
    exported = RawUnitsForecaster(network, dm.x_norm.mean, dm.x_norm.std, dm.y_norm.mean, dm.y_norm.std).eval()
    window = data.values  # test windows are complete (window_ends): no NaN to fill
    example = torch.from_numpy(window[test_ends[:1, None] + np.arange(-dm.lookback + 1, 1)])
    meta = {"channels": data.channels, "targets": data.targets, "horizons": list(dm.horizons),
            "horizon": int(mc.horizon), "lookback": dm.lookback, "period_s": data.period_s,
            "golden": golden.as_dict(), "actuators": data.layout.get("actuators", {}),
            "replay_from": str(data.time[dm.test_start]),
            "warnings": settings.as_dict()}
    onnx_path = onnx_io.export(exported, example, models_dir / ONNX_FILE, [INPUT], [OUTPUT], meta,
                               opset=int(mc.export.opset))
    torch.save(exported.state_dict(), models_dir / PT_FILE)
    sample = test_ends[:: max(1, len(test_ends) // 512)]
    inputs = {INPUT: window[sample[:, None] + np.arange(-dm.lookback + 1, 1)].astype(np.float32)}
    parity = onnx_io.check_parity(onnx_path, exported, inputs, mc.export.tolerance)
    return onnx_path, parity.max_abs_difference


def train(cfg: DictConfig) -> dict:
    mc = cfg.model.process
    check_config(mc)
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
        network, fit_info = fit(cfg, dm, run)

        # every test step with a complete history (the warnings' steps); the scored test
        # windows are those of them whose targets are known at every horizon
        steps = window_ends(data.values, dm.lookback, [0], data.target_index, dm.test_start, len(data.values))
        lstm_steps = predict(network, dm, steps)

        # accuracy on the held-out period, all models on the same windows
        y = data.values[:, data.target_index].astype(np.float64)
        test = dm.ends["test"]
        truth = np.stack([y[test + h] for h in horizons], axis=1)
        ar = baselines.LinearAR(int(mc.baselines.ar_lags)).fit(y, dm.ends["train"], horizons)
        preds = {"lstm": lstm_steps[np.searchsorted(steps, test)],
                 "persistence": baselines.persistence(y, test, horizons),
                 "moving_average": baselines.moving_average(y, test, horizons, int(mc.baselines.moving_average)),
                 "linear_ar": ar.predict(y, test, horizons)}
        table = score_table(preds, truth, naive_scale(y, dm.ends["train"], horizons), data.targets, horizons_s)
        table.to_csv(reports / "scores.csv", index=False)
        comparison = compare(table, horizons_s[k_cfg])

        # golden profile from in-control running steps of the training period
        mask = np.zeros(len(data.values), dtype=bool)
        mask[: dm.val_start] = True
        mask &= in_control_mask(data.time, data.events, float(mc.golden.event_margin_s))
        running = data.layout.get("running")
        if running:
            mask &= data.values[:, data.channels.index(running["channel"])] >= float(running["min"])
        golden = golden_profile(data.values, data.channels, mask, float(mc.golden.k_sigma))

        # early warnings over the test period
        forecasts = {"lstm": lstm_steps, "linear_ar": ar.predict(y, steps, horizons)}
        outside = outside_limits(data.time, data.values, golden, data.targets)
        period = (data.time[dm.test_start], data.time[-1])
        warn_metrics, warn_tables = {}, {}
        for name, f in forecasts.items():
            w = run_warnings(data, golden, f[:, k_warn, :], steps, settings)
            warn_metrics[name], scored = score_warnings(
                w, data.events, outside, period, float(mc.warnings.match_before_s), float(mc.warnings.match_after_s))
            warn_tables[name] = (w, scored)
        warnings, event_table = warn_tables["lstm"]
        warnings.to_csv(reports / "warnings.csv", index=False)
        event_table.to_csv(reports / "events_scored.csv", index=False)

        onnx_path, onnx_diff = export(network, dm, golden, mc, models, test, settings)

        fig1 = figures.forecast_vs_actual(
            reports / "forecast_vs_actual.png", data.time, data.values[:, data.target_index],
            {"lstm": forecasts["lstm"][:, k_warn], "linear_ar": forecasts["linear_ar"][:, k_warn]},
            data.time[steps], data.targets, golden, event_table, warnings, float(mc.figures.window_s),
            int(mc.figures.events), horizons_s[k_warn])
        fig2 = figures.mae_by_horizon(reports / "mase_by_horizon.png", table)

        improvements = [v["improvement"] for v in comparison.values()]
        lstm_w = warn_metrics["lstm"]
        metrics = {
            "data": {"source": data.layout["source"], "steps": len(data.values), "period_s": data.period_s,
                     "train_windows": len(dm.ends["train"]), "val_windows": len(dm.ends["val"]),
                     "test_windows": len(test), "test_hours": (period[1] - period[0]).total_seconds() / 3600},
            "train": fit_info,
            "test": {"horizon_s": horizons_s[k_cfg], "by_target": comparison,
                     "improvement_mean": float(np.mean(improvements)), "improvement_min": float(np.min(improvements)),
                     "mase": {m: float(table[(table.model == m) & (table.horizon_s == horizons_s[k_cfg])].mase.mean())
                              for m in preds}},
            "warnings": warn_metrics,
            "golden": {t: {"center": float(golden.center[data.channels.index(t)]),
                           "lower": float(golden.lower[data.channels.index(t)]),
                           "upper": float(golden.upper[data.channels.index(t)])} for t in data.targets},
            "onnx": {"max_abs_difference": onnx_diff},
            "targets_met": {"mae_10pct_better": bool(np.min(improvements) >= 0.10),
                            "recall_95": bool(lstm_w["recall"] >= 0.95) if lstm_w["events"] else None,
                            "lead_positive": bool(lstm_w["median_lead_s"] > 0) if lstm_w["events"] else None,
                            "false_alarms_le_1_per_8h": bool(lstm_w["false_alarms_per_hour"] <= 1 / 8)},
        }
        log_metrics(metrics, prefix="")
        import mlflow

        for path in (fig1, fig2, reports / "scores.csv", reports / "warnings.csv", reports / "events_scored.csv", onnx_path):
            if path is not None and Path(path).exists():
                mlflow.log_artifact(str(path))
    write_json(reports / "metrics.json", metrics)
    return metrics
