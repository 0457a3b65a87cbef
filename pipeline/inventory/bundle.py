"""The inventory forecaster as one registered model (the stage's side; forecaster.py loads it back).

Registered model version = MLflow onnx flavor of the LSTM (signature and input example of its
three inputs) whose `extra_files/` folder holds what `python -m pipeline.inventory forecast`
reads from models/: both ONNX files and the selection record (per-chemical model choice,
series scales, error sd), plus the catalogue and limits the raw log is judged by (the record
prepare_inventory's rules read from data.inventory) and the reorder settings. A service needs nothing else: no params.yaml, no training data.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from pipeline.contracts.inventory import LINEAR_FILE, LSTM_FILE, SELECTION_FILE
from pipeline.contracts.inventory.catalogue import Catalogue
from pipeline.core import registry

CATALOGUE_FILE = "inventory_catalogue.json"
EXTRA = "extra_files"
STAGE_MODEL = "inventory"  # key of tracking.registry.models


def catalogue_record(cfg: DictConfig) -> dict:
    """What the service judges raw rows with, exactly as prepare_inventory judged the training rows
    (the catalogue and its limits: pipeline/contracts/inventory/catalogue.py), and its reorder defaults."""
    return {**Catalogue.from_config(cfg.data.inventory).record(),
            "reorder": OmegaConf.to_container(cfg.model.inventory.reorder, resolve=True)}


def verdict(metrics: dict) -> registry.Verdict:
    """The forecaster beats its baselines when its per-chemical selection has a lower mean test
    WAPE than every baseline used alone on all chemicals."""
    test = metrics["test"]
    baselines = {k: v["mean_wape"] for k, v in test.items() if k != "lstm"}
    best = min(baselines, key=baselines.get)
    sel = float(metrics["selected_mean_wape"])
    beats = sel < baselines[best]
    relation = "<" if beats else ">="
    return registry.Verdict(beats, f"selected models' mean test WAPE {sel:.4f} {relation} best baseline "
                                   f"{best} {baselines[best]:.4f}")


def log_and_register(cfg: DictConfig, models_dir: Path, metrics: dict, example: dict[str, np.ndarray],
                     data_file: Path) -> registry.Registration:
    """Inside the stage's MLflow run: the LSTM as the registered onnx-flavor model, with the whole
    bundle (both ONNX files, the selection, the catalogue) as its extra files."""
    with tempfile.TemporaryDirectory() as tmp:
        catalogue = Path(tmp) / CATALOGUE_FILE
        catalogue.write_text(json.dumps(catalogue_record(cfg), indent=2))
        return registry.log_and_register(
            cfg, STAGE_MODEL, models_dir / LSTM_FILE, example, verdict(metrics), stage="train_inventory",
            metrics={k: metrics[k] for k in ("selected_mean_wape", "naive_mean_wape", "chemicals_with_skill")},
            datasets={"daily_usage": data_file}, artifact="inventory_forecaster",
            extra_files=[*(models_dir / n for n in (LSTM_FILE, LINEAR_FILE, SELECTION_FILE)), catalogue],
            about="Daily usage forecaster per chemical and lab (global LSTM + per-chemical choice among baselines), "
                  "with the reorder point. Serve: python -m pipeline.inventory serve (README).")
