"""DVC stage train_fault: `python -m pipeline.fault [overrides] [--params params.yaml]`."""
from __future__ import annotations

from pipeline.core.cli import run_stage, stage_parser
from pipeline.core.config import load_params
from pipeline.core.settings import data_fault, model_fault, run, tracking, trainer
from pipeline.core.staging import staged
from pipeline.fault.train import train

# The sections this stage reads, checked as it loads them.
SETTINGS = {"seed": run.Seed, "paths": run.Paths, "tracking": tracking.Tracking, "data.fault": data_fault.DataFault,
            "model.fault": model_fault.ModelFault, "trainer": trainer.Trainer}


def main() -> None:
    args = stage_parser(__doc__.splitlines()[0]).parse_args()
    cfg = load_params(args.params, SETTINGS, args.overrides)
    # models and reports written aside and moved in at the end; reports/fault/ is the stage's alone
    with staged(cfg, "train_fault", ("models", "reports"), replace={"reports": ("fault",)}) as cfg:
        metrics = train(cfg)
    dnn, rest = metrics["test"]["dnn"], {k: v["auc"] for k, v in metrics["test"].items() if k != "dnn"}
    print(f"train_fault: test AUC {dnn['auc']:.4f} (others: {', '.join(f'{k} {v:.4f}' for k, v in rest.items())}), "
          f"{metrics['training']['epochs']} epochs in {metrics['training']['seconds']:.1f} s, "
          f"stable neurons (interval/LP bounds) {metrics['stability']['interval']['stable']}/"
          f"{metrics['stability']['lp']['stable']} of {metrics['stability']['lp']['neurons']}, "
          f"onnx max diff {metrics['onnx']['max_abs_difference']:.2e}; threshold {metrics['decision']['thresholds']['dnn']:.3f} "
          f"({metrics['decision']['how']['dnn']}): F1 {dnn['f1']:.3f}, PR AUC {dnn['pr_auc']:.3f}")
    for statement in metrics["decision"]["statements"]:
        print(f"train_fault: NOTE {statement}")
    print(f"train_fault: {metrics['registry']['statement']}")


if __name__ == "__main__":
    run_stage("train_fault", main)
