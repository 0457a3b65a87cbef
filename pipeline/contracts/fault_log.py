"""The tablet-press fault log's contract: column names, units, types and files.

Every producer (generator, file loader: pipeline/data/fault) writes exactly these columns, in
this order, to data/fault/; every consumer (the fault DNN; the optimiser through the DNN's
ONNX metadata, pipeline/contracts/fault_model.py) reads them.
"""
from __future__ import annotations

# Model inputs, in the order of the ONNX input "x" (the optimiser codes against it).
FEATURES: list[str] = ["pressure_kN", "temperature_C", "speed_rpm", "vibration_mm_s",
                       "humidity_pct", "maintenance_cycles"]
UNITS: list[str] = ["kN", "C", "rpm", "mm/s", "%RH", "count"]
LABEL = "fault"
TIMESTAMP = "timestamp"
TRUE_PROB = "true_prob"
LOG_COLUMNS: list[str] = [TIMESTAMP, *FEATURES, LABEL]
TRUTH_COLUMNS: list[str] = [TIMESTAMP, TRUE_PROB]

LOG_FILE = "log.parquet"      # under data/fault/
TRUTH_FILE = "truth.parquet"  # under data/fault/, generated data only


def typed(df):
    """The log with its contract's dtypes: datetime, floats, int maintenance count, int 0/1 label."""
    out = df[LOG_COLUMNS].copy()
    for name in FEATURES:
        out[name] = out[name].astype("float64")
    out["maintenance_cycles"] = out["maintenance_cycles"].astype("int64")
    out[LABEL] = out[LABEL].astype("int64")
    return out.reset_index(drop=True)
