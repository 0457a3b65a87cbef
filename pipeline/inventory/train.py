"""Stage train_inventory: baselines and the global LSTM on a chronological holdout, metrics
per chemical, per-chemical selection, ONNX export, forecast figures and the reorder table."""
from __future__ import annotations

import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from pipeline.contracts.inventory import (DAILY_FILE, LINEAR_FILE, LINEAR_INPUTS, LSTM_FILE, LSTM_INPUTS, LSTM_PT_FILE,
                                          OUTPUT, SELECTION_FILE)
from pipeline.core.io import ensure_dir, write_json
from pipeline.core.lightning import fit_best, seed_everything, training_parts
from pipeline.core.onnx_io import check_parity, export
from pipeline.core.tracking import log_metrics, stage_run
from pipeline.inventory import baselines, bundle, reorder
from pipeline.inventory.features import FEATURES, SeriesSet, Windows, build_series, windows
from pipeline.inventory.figures import forecast_vs_actual
from pipeline.inventory.lightning_module import UsageDataModule, UsageForecaster, predict
from pipeline.inventory.network import LinearBank
from pipeline.inventory.selection import NAIVE, metric_table, select, summary


def load_daily(cfg: DictConfig) -> pd.DataFrame:
    path = Path(cfg.paths.data) / "inventory" / DAILY_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: run `python -m pipeline.data inventory` first")
    return pd.read_parquet(path)


def load_series(cfg: DictConfig) -> SeriesSet:
    m = cfg.model.inventory
    return build_series(load_daily(cfg), m.split)


def baseline_predictions(w: Windows, m: DictConfig, linear_w: np.ndarray, chem: np.ndarray) -> dict[str, np.ndarray]:
    b, h = m.baselines, int(m.horizon)
    return {NAIVE: baselines.seasonal_naive(w.x, h, int(b.season_days)),
            "moving_average": baselines.moving_average(w.x, h, int(b.moving_average_days)),
            "weekday_profile": baselines.weekday_profile(w.x, h, int(b.season_days)),
            "linear": baselines.predict_linear(baselines.linear_features(w.x, int(b.linear_lags)), chem, linear_w)}


def train_lstm(cfg: DictConfig, data: SeriesSet, split: dict[str, Windows], run):
    m = cfg.model.inventory
    network = instantiate(m.network, n_features=len(FEATURES), n_chemicals=len(data.chemicals),
                          n_locations=len(data.locations), horizon=int(m.horizon),
                          season=int(m.baselines.season_days))
    module = UsageForecaster(network, **training_parts(m))
    dm = UsageDataModule(split["train"], split["val"], data.chem_index, data.loc_index, int(m.batch_size))
    trainer, _ = fit_best(cfg, m, run, module, dm)
    return network.eval(), int(trainer.current_epoch)


def export_models(network, linear_w: np.ndarray, data: SeriesSet, m: DictConfig, models_dir: Path,
                  sample: Windows) -> dict[str, float]:
    chem = torch.from_numpy(data.chem_index[sample.series])
    loc = torch.from_numpy(data.loc_index[sample.series])
    meta = {"features": FEATURES, "horizon": int(m.horizon), "seq_len": int(m.seq_len),
            "chemicals": data.chemicals, "locations": data.locations, "output": "usage / series scale"}
    opset = int(m.export.opset)
    lstm_path = export(network, (torch.from_numpy(sample.x), chem, loc), models_dir / LSTM_FILE,
                       LSTM_INPUTS, [OUTPUT], meta, opset=opset)
    torch.save(network.state_dict(), models_dir / LSTM_PT_FILE)
    bank = LinearBank(torch.from_numpy(linear_w))
    feats = torch.from_numpy(baselines.linear_features(sample.x, int(m.baselines.linear_lags)))
    linear_path = export(bank, (feats, chem), models_dir / LINEAR_FILE, LINEAR_INPUTS, [OUTPUT],
                         {**meta, "features": f"pipeline.inventory.baselines.linear_features(lags={m.baselines.linear_lags})"},
                         opset=opset)
    checked = {"lstm": check_parity(lstm_path, network, dict(zip(LSTM_INPUTS, (sample.x, chem.numpy(), loc.numpy()))),
                                    m.export.tolerance),
               "linear": check_parity(linear_path, bank, dict(zip(LINEAR_INPUTS, (feats.numpy(), chem.numpy()))),
                                      m.export.tolerance)}
    return {k: parity.relative for k, parity in checked.items()}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def run(cfg: DictConfig) -> dict:
    m = cfg.model.inventory
    seed_everything(int(cfg.seed))
    torch.set_num_threads(int(m.torch_threads))
    models_dir, reports_dir = ensure_dir(cfg.paths.models), ensure_dir(Path(cfg.paths.reports) / "inventory")
    data = load_series(cfg)
    seq_len, horizon = int(m.seq_len), int(m.horizon)
    split = {s: windows(data, s, seq_len, horizon) for s in ("train", "val", "test")}
    if len(split["test"].x) == 0:
        raise ValueError("no test windows: the log is too short for model.inventory seq_len + horizon")
    chem = {s: data.chem_index[w.series] for s, w in split.items()}
    tr = split["train"]
    linear_w = baselines.fit_linear(baselines.linear_features(tr.x, int(m.baselines.linear_lags)), tr.y,
                                    chem["train"], len(data.chemicals), float(m.baselines.linear_ridge))
    with stage_run("train_inventory", cfg, params={"model": m, "seed": cfg.seed, "data_source": cfg.data.inventory.source}) as active:
        network, epochs = train_lstm(cfg, data, split, active)
        preds, actual = {}, {}
        for s in ("val", "test"):
            w = split[s]
            scale = data.scale[w.series][:, None]
            by_model = baseline_predictions(w, m, linear_w, chem[s])
            by_model["lstm"] = predict(network, w, data.chem_index, data.loc_index)
            preds[s] = {k: v * scale for k, v in by_model.items()}
            actual[s] = w.y * scale
        table = metric_table(actual, preds, chem, data.chemicals)
        chosen = select(table, str(m.selection_metric))
        per_chem, statements = summary(table, chosen)
        onnx_diff = export_models(network, linear_w, data, m, models_dir, split["test"])
        selection = _selection_record(data, chosen, preds["test"], actual["test"], split["test"], m)
        write_json(models_dir / SELECTION_FILE, selection)
        metrics = _metrics(table, per_chem, statements, onnx_diff, epochs, split)
        _write_reports(cfg, data, table, per_chem, statements, preds["test"], actual["test"], split["test"],
                       chosen, selection, models_dir, reports_dir)
        test = split["test"]
        example = dict(zip(LSTM_INPUTS, (test.x[:2], data.chem_index[test.series[:2]], data.loc_index[test.series[:2]])))
        registered = bundle.log_and_register(cfg, models_dir, metrics, example,
                                             Path(cfg.paths.data) / "inventory" / DAILY_FILE)
        metrics["registry"] = registered.as_metrics()
        log_metrics({"test": metrics["test"], "val": metrics["val"]}, prefix="")
        log_metrics({k: v for k, v in metrics.items() if k not in ("test", "val")}, prefix="train_inventory/")
        mlflow.log_artifacts(str(reports_dir), artifact_path="reports")
        for name in (LSTM_FILE, LINEAR_FILE, SELECTION_FILE):
            mlflow.log_artifact(str(models_dir / name), artifact_path="models")
    write_json(reports_dir / "metrics.json", metrics)
    return metrics


def _selection_record(data: SeriesSet, chosen: dict, test_pred: dict, test_actual: np.ndarray, w: Windows,
                      m: DictConfig) -> dict:
    """What the forecast command needs besides the ONNX files: the choice, scales, error sd."""
    sd = {}
    for s, (chem, loc) in enumerate(data.keys):
        mask = w.series == s
        resid = test_actual[mask] - test_pred[chosen[chem]][mask]
        sd[f"{chem}|{loc}"] = float(resid.std()) if resid.size else 0.0
    return {"selected": chosen, "keys": [list(k) for k in data.keys], "scale": data.scale.tolist(),
            "error_sd_per_day": sd, "last_date": str(data.dates[-1].date()),
            "config": {"seq_len": int(m.seq_len), "horizon": int(m.horizon),
                       "split": OmegaConf.to_container(m.split),
                       "baselines": OmegaConf.to_container(m.baselines)}}


def _metrics(table: pd.DataFrame, per_chem: pd.DataFrame, statements: list[str], onnx_diff: dict,
             epochs: int, split: dict) -> dict:
    out: dict = {"val": {}, "test": {}}
    for s in ("val", "test"):
        part = table[table["split"] == s]
        for model, grp in part.groupby("model"):
            out[s][model] = {"mean_wape": float(grp["wape"].mean())}  # WAPE is unit-free; MAE/RMSE are per chemical
            for _, r in grp.iterrows():
                out[s][model][_slug(r["chemical"])] = {k: r[k] for k in ("mae", "rmse", "wape", "r2")}
    sel = per_chem["selected_wape"].mean()
    naive = per_chem["naive_wape"].mean()
    return {**out,
            "selected_mean_wape": float(sel), "naive_mean_wape": float(naive),
            "improvement_vs_naive": float(1 - sel / naive) if naive else None,
            "chemicals_beating_naive": int(per_chem["any_model_beats_naive"].sum()),
            "chemicals_with_skill": int(per_chem["selected_has_skill"].sum()),
            "chemicals": int(len(per_chem)),
            "selected": dict(zip(per_chem["chemical"], per_chem["selected"])),
            "statements": statements, "onnx_max_rel_diff": onnx_diff, "epochs": epochs,
            "windows": {s: int(len(w.x)) for s, w in split.items()}}


def _write_reports(cfg, data, table, per_chem, statements, test_pred, test_actual, w, chosen, selection,
                   models_dir, reports_dir) -> None:
    table.to_csv(reports_dir / "metrics_by_chemical.csv", index=False)
    per_chem.to_csv(reports_dir / "selection.csv", index=False)
    (reports_dir / "selection.txt").write_text("\n".join(statements) + "\n")
    one_day = pd.DataFrame({
        "date": data.dates[w.origin + 1], "chemical": [data.keys[s][0] for s in w.series],
        "location": [data.keys[s][1] for s in w.series], "actual": test_actual[:, 0],
        "selected": [test_pred[chosen[data.keys[s][0]]][i, 0] for i, s in enumerate(w.series)],
        NAIVE: test_pred[NAIVE][:, 0]})
    one_day.to_csv(reports_dir / "forecast_vs_actual.csv", index=False)
    unit = dict(zip([k[0] for k in data.keys], data.base_unit))
    for chem in data.chemicals:
        forecast_vs_actual(one_day, chem, unit[chem], chosen[chem], reports_dir / "figures" / f"forecast_{_slug(chem)}.png")
    r = cfg.model.inventory.reorder
    future = reorder.predict_future(data, selection, models_dir)
    table_, daily = reorder.reorder_table(data, future, selection, int(r.default_days), int(r.lead_time_days),
                                          float(r.service_level))
    table_.to_csv(reports_dir / "reorder.csv", index=False)
    daily.to_csv(reports_dir / "forecast_next_days.csv", index=False)
