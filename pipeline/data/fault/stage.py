"""Stage prepare_fault: the tablet-press sensor log (generated, or your file) -> data/fault/.

Writes data/fault/log.parquet (timestamp, pressure_kN, temperature_C, speed_rpm,
vibration_mm_s, humidity_pct, maintenance_cycles, fault) and, for generated data only,
data/fault/truth.parquet (timestamp, true_prob). A real file has no truth: the metrics say so.
Rows of a real file that fail validation go to reports/data/fault_quarantine.csv.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from pipeline.contracts.fault_log import FEATURES, LABEL, LOG_FILE, TIMESTAMP, TRUE_PROB, TRUTH_FILE
from pipeline.core.io import ensure_dir
from pipeline.core.validation import Quarantine
from pipeline.data.fault import generator, loader

QUARANTINE_FILE = "fault_quarantine.csv"


def summary(log: pd.DataFrame) -> dict:
    """Counts and ranges a reader checks first: rows, fault rate, span, each input's range."""
    return {
        "rows": len(log),
        "fault_rate": float(log[LABEL].mean()),
        "first_timestamp": str(log[TIMESTAMP].iloc[0]),
        "last_timestamp": str(log[TIMESTAMP].iloc[-1]),
        "ranges": {name: {"min": float(log[name].min()), "max": float(log[name].max())} for name in FEATURES},
    }


def prepare(cfg: DictConfig, out_dir: Path, reports_dir: Path) -> dict:
    """Generate or load the log, write it under `out_dir`, return the stage's metrics."""
    fault_cfg = cfg.data.fault
    out_dir, reports_dir = ensure_dir(out_dir), ensure_dir(reports_dir)
    truth_path = out_dir / TRUTH_FILE
    truth_path.unlink(missing_ok=True)  # a truth file left from generated data would lie about real data
    source = str(fault_cfg.source)
    if source == "generated":
        log, truth = generator.generate(fault_cfg, int(cfg.seed))
        truth.to_parquet(truth_path, index=False)
        quarantine = Quarantine("generated")
        rows_read = len(log)
        extra = {"truth_available": True,
                 "true_prob_mean": float(truth[TRUE_PROB].mean()),
                 "true_prob_min": float(truth[TRUE_PROB].min()),
                 "true_prob_max": float(truth[TRUE_PROB].max())}
    elif source == "file":
        quarantine = Quarantine(fault_cfg.path)
        log, extra = loader.load(fault_cfg, quarantine)
        rows_read = extra.pop("rows_read")
        extra |= {"truth_available": False,
                  "truth_note": "real data: the true failure probability is unknown, so no Bayes limit"}
    else:
        raise ValueError(f"data.fault.source must be 'generated' or 'file', got {source!r}")
    log.to_parquet(out_dir / LOG_FILE, index=False)
    quarantine.write(reports_dir / QUARANTINE_FILE)
    return {"source": source, **summary(log), **extra, **quarantine.metrics(rows_read, len(log))}
