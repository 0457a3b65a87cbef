"""DVC stage train_process: `python -m pipeline.process [overrides] [--params params.yaml]`."""
from __future__ import annotations

from pipeline.core.cli import run_stage, stage_parser
from pipeline.core.config import load_params
from pipeline.core.settings import model_process, run, tracking, trainer
from pipeline.core.staging import staged
from pipeline.process.train import train

# The sections this stage reads, checked as it loads them.
SETTINGS = {"seed": run.Seed, "paths": run.Paths, "tracking": tracking.Tracking,
            "model.process": model_process.ModelProcess, "trainer": trainer.Trainer}


def main() -> None:
    args = stage_parser(__doc__.splitlines()[0]).parse_args()
    cfg = load_params(args.params, SETTINGS, args.overrides)
    # written aside and moved in at the end (reports/process/ also holds the monitor's files: merged)
    with staged(cfg, "train_process", ("models", "reports")) as cfg:
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
