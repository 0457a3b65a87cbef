"""DVC stage train_process: `python -m pipeline.process [--params params.yaml]`."""
from __future__ import annotations

import argparse

from pipeline.core.cli import run_stage
from pipeline.core.config import load_params
from pipeline.core.staging import staged
from pipeline.process.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="--debug (or PIPELINE_DEBUG=1) shows the traceback of an expected error")
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    args = parser.parse_args()
    # written aside and moved in at the end (reports/process/ also holds the monitor's files: merged)
    with staged(load_params(args.params), "train_process", ("models", "reports")) as cfg:
        m = train(cfg)
    t, w = m["test"], m["warnings"]["deployed"]
    for sentence in m["selection"]["lines"]:
        print(f"train_process: {sentence}")
    print(f"train_process: horizon {t['horizon_s']:.0f} s, LSTM vs best baseline MAE improvement "
          f"mean {t['improvement_mean']:.1%} min {t['improvement_min']:.1%}; deployed vs best baseline min "
          f"{t['selected_improvement_min']:+.1%}; warnings {w['warnings']} ({w['warnings_per_running_hour']:.2f} per "
          f"running hour), recall {w['recall']:.2f}, median lead {w['median_lead_s']} s, false alarms/h "
          f"{w['false_alarms_per_hour']:.3f}; onnx max diff {m['onnx']['max_abs_difference']:.2e}")
    print(f"train_process: {m['registry']['statement']}")


if __name__ == "__main__":
    run_stage("train_process", main)
