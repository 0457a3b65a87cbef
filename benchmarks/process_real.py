"""The forecaster on a real series: the 10-second tablet-press series of Zagar & Mihelic
(conf/data/line/press_10s.yaml, read from ../shared/data; not part of the project), with
the default model configuration. Reports the LSTM against the baselines whichever way it
goes; the file has no ground-truth disturbances, so warnings are counted, not scored.

    python benchmarks/process_real.py [--path ../shared/data/tablet_press_process/Process_timeseries_code6.csv]

Writes reports/bench/process_real_10s.json.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

from pipeline.core.compose import compose
from pipeline.core.config import repo_root
from pipeline.core.io import write_json

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
    result = {"series": str(path), "steps": m["data"]["steps"], "period_s": m["data"]["period_s"],
              "test_hours": m["data"]["test_hours"], "horizon_s": m["test"]["horizon_s"],
              "by_target": m["test"]["by_target"], "mase": m["test"]["mase"],
              "improvement_min": m["test"]["improvement_min"], "epochs": m["train"]["epochs"],
              "warnings": m["warnings"]["lstm"]["warnings"], "prepare_s": prepare_s, "train_s": train_s,
              "cpu_count": os.cpu_count(), "loadavg_after": os.getloadavg()}
    out = write_json(repo_root() / "reports" / "bench" / "process_real_10s.json", result)
    for target, v in result["by_target"].items():
        print(f"{target}: LSTM MAE {v['mae']:.4g} vs {v['best_baseline']} {v['best_baseline_mae']:.4g} "
              f"({v['improvement']:+.1%})")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
