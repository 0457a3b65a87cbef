"""DVC stage train_fault: `python -m pipeline.fault [--params params.yaml]`."""
from __future__ import annotations

import argparse

from pipeline.core.config import load_params
from pipeline.fault.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    args = parser.parse_args()
    metrics = train(load_params(args.params))
    dnn, rest = metrics["test"]["dnn"], {k: v["auc"] for k, v in metrics["test"].items() if k != "dnn"}
    print(f"train_fault: test AUC {dnn['auc']:.4f} (others: {', '.join(f'{k} {v:.4f}' for k, v in rest.items())}), "
          f"{metrics['training']['epochs']} epochs in {metrics['training']['seconds']:.1f} s, "
          f"stable neurons (interval/LP bounds) {metrics['stability']['interval']['stable']}/"
          f"{metrics['stability']['lp']['stable']} of {metrics['stability']['lp']['neurons']}, "
          f"onnx max diff {metrics['onnx']['max_abs_difference']:.2e}")
    print(f"train_fault: {metrics['registry']['statement']}")


if __name__ == "__main__":
    main()
