"""The forecaster on a real series: the 10-second tablet-press series of Zagar & Mihelic
(conf/data/line/press_10s.yaml, read from ../shared/data; not part of the project), with
the default model configuration: split by batch (trained on batch 368, tested on 369, which
it has not seen), scored on the running press. Reports per target and horizon the deployed
(selected on validation) forecaster's MAE beside the best baseline's and the LSTM's, whichever
way it goes, and the warnings per running hour; the file has no ground-truth disturbances,
so warnings are counted, not scored.

    python benchmarks/process_real.py [--path ../shared/data/tablet_press_process/Process_timeseries_code6.csv]

Writes reports/bench/process_real_10s.json.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from pipeline.contracts.line import ALIGNED_FILE
from pipeline.contracts.process_model import ONNX_FILE
from pipeline.core.compose import compose
from pipeline.core.config import repo_root
from pipeline.core.io import write_json
from pipeline.process.data import load_line
from pipeline.process.monitor import replay
from pipeline.process.states import RUNNING, hours_in

from process_seeds import run_stages  # a sibling script: python puts benchmarks/ on the path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=None, help="the series (default: data.line.path of press_10s.yaml)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="process_real_") as tmp:
        overrides = ["data/line=press_10s"] + ([f"data.line.path={args.path}"] if args.path else [])
        path = Path(OmegaConf.select(OmegaConf.load(compose(overrides, output=Path(tmp) / "probe.yaml")), "data.line.path"))
        path = path if path.is_absolute() else repo_root() / path
        if not path.exists():
            print(f"{path} not found: the real series lives in ../shared/data (see conf/data/line/press_10s.yaml)")
            return
        m, prepare_s, train_s = run_stages(overrides, Path(tmp), Path(tmp))
        selection = pd.read_csv(Path(tmp) / "reports" / "process" / "selection.csv")
        whole = replay_all(Path(tmp))
    result = {"series": str(path), "steps": m["data"]["steps"], "period_s": m["data"]["period_s"],
              "split_by": m["data"]["split_by"], "batches": m["data"]["batches"],
              "test_batches": m["data"]["test_batches"], "test_hours": m["data"]["test_hours"],
              "test_hours_by_state": m["data"]["test_hours_by_state"], "horizon_s": m["test"]["horizon_s"],
              "by_target": by_target(m, selection), "mase": m["test"]["mase"],
              "selected_never_worse_than_best_baseline": m["selection"]["never_worse_than_best_baseline"],
              "lstm_wins": m["selection"]["lstm_wins"], "lstm_deployed": m["selection"]["lstm_deployed"],
              "lines": m["selection"]["lines"], "epochs": m["train"]["epochs"],
              "warnings": m["warnings"]["deployed"]["warnings"],
              "warnings_per_running_hour": m["warnings"]["deployed"]["warnings_per_running_hour"],
              "running_hours": m["warnings"]["deployed"]["running_hours"],
              "warnings_by_state": m["warnings"]["deployed"]["by_state"], "stops_in_test": m["stops"]["test_by_kind"],
              "replay_all_batches": whole,
              "prepare_s": prepare_s, "train_s": train_s, "cpu_count": os.cpu_count(), "loadavg_after": os.getloadavg()}
    out = write_json(repo_root() / "reports" / "bench" / "process_real_10s.json", result)
    for sentence in result["lines"]:
        print(sentence)
    print(f"{result['warnings']} warning(s) in {result['running_hours']:.1f} running hours of the test batch "
          f"({result['warnings_per_running_hour']:.3f} per running hour); replayed over every batch: "
          f"{whole['warnings']} in {whole['running_hours']:.1f} running hours -> {out}")


def replay_all(scratch: Path) -> dict:
    """The deployed model and rule replayed (as the line-side monitor runs them) over the whole
    series, the training batch included: its limits come from that batch, so this is in-sample
    for the limits, but every forecast is still made from the past only."""
    data = load_line(scratch / "data" / "line")
    m = replay(scratch / "models" / ONNX_FILE, scratch / "data" / "line" / ALIGNED_FILE, scratch / "replay",
               start=str(data.time[0]))
    w = pd.read_csv(scratch / "replay" / "monitor_warnings.csv")
    running_h = hours_in(data.states, RUNNING, data.period_s)
    return {"warnings": int(len(w)), "running_hours": running_h, "warnings_per_running_hour": len(w) / running_h,
            "unplanned_stops": m["unplanned_stops"],
            "list": w[["time", "state", "target", "direction", "forecast", "limit", "measured"]].to_dict("records")}


def by_target(m: dict, selection) -> dict:
    """Per target: the configured horizon's figures at the top, every horizon under `horizons`."""
    w = m["warnings"]["deployed"]["by_target"]
    out = {}
    for target, v in m["test"]["by_target"].items():
        rows = selection[selection.target == target]
        out[target] = {"selected": v["selected"], "selected_mae": v["selected_mae"],
                       "best_baseline": v["best_baseline"], "best_baseline_mae": v["best_baseline_mae"],
                       "mae": v["mae"], "lstm_vs_best_baseline": v["improvement"],
                       "warnings_per_running_hour": w[target]["warnings_per_running_hour"],
                       "horizons": {f"{r.horizon_s:g}": {
                           "selected": r.selected, "selected_mae": r.selected_mae, "best_baseline": r.best_baseline,
                           "best_baseline_mae": r.best_baseline_mae, "mae": r.lstm_mae,
                           "lstm_vs_best_baseline": r.lstm_vs_best_baseline,
                           "lstm_vs_best_baseline_ci95": [r.lstm_vs_best_baseline_ci95_low,
                                                          r.lstm_vs_best_baseline_ci95_high]}
                           for r in rows.itertuples()}}
    return out


if __name__ == "__main__":
    main()
