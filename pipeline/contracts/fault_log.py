"""The tablet-press fault log's contract: column names, units and types.

Every producer (generator, file loader) writes exactly these columns, in this order, and
every consumer (the fault DNN, the optimiser through the DNN's ONNX metadata) reads them.
"""
from __future__ import annotations

# Model inputs, in the order of the ONNX input "x" (the optimiser codes against it).
FEATURES: list[str] = ["pressure_kN", "temperature_C", "speed_rpm", "vibration_mm_s",
                       "humidity_pct", "maintenance_cycles"]
UNITS: list[str] = ["kN", "C", "rpm", "mm/s", "%RH", "count"]
LABEL = "fault"
TIMESTAMP = "timestamp"
LOG_COLUMNS: list[str] = [TIMESTAMP, *FEATURES, LABEL]
TRUTH_COLUMNS: list[str] = [TIMESTAMP, "true_prob"]

LOG_FILE = "log.parquet"
TRUTH_FILE = "truth.parquet"


def typed(df):
    """The log with its contract's dtypes: datetime, floats, int maintenance count, int 0/1 label."""
    out = df[LOG_COLUMNS].copy()
    for name in FEATURES:
        out[name] = out[name].astype("float64")
    out["maintenance_cycles"] = out["maintenance_cycles"].astype("int64")
    out[LABEL] = out[LABEL].astype("int64")
    return out.reset_index(drop=True)
