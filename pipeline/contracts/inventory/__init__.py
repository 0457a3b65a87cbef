"""The chemical inventory's contracts: the raw log (data/inventory/log.csv, and a user's file),
the daily series the forecaster reads (data/inventory/daily.parquet), and the usage models the
training writes and the forecast command reads (models/).

Raw log, exactly LOG_COLUMNS: `id` is the day counter, `initial purchase` rows add stock,
`Experiment_N` rows consume it. Daily series: one row per chemical, location and day, amounts
in base units (g or ml), zero on idle days.
"""
from __future__ import annotations

LOG_COLUMNS = ["id", "amount_taken", "unit", "location", "chemical", "CAS", "reason"]
PURCHASE = "initial purchase"
LOG_FILE, CLEAN_FILE, DAILY_FILE = "log.csv", "clean.parquet", "daily.parquet"  # under data/inventory/
DAILY_COLUMNS = ["chemical", "location", "kind", "base_unit", "date", "day", "used", "purchased", "experiments",
                 "stock"]

# Usage models under paths.models: global LSTM, per-chemical linear bank, and the per-chemical choice.
LSTM_FILE, LSTM_PT_FILE = "inventory_lstm.onnx", "inventory_lstm.pt"
LINEAR_FILE = "inventory_linear.onnx"
SELECTION_FILE = "inventory_selection.json"
LSTM_INPUTS, LINEAR_INPUTS, OUTPUT = ["x", "chemical", "location"], ["features", "chemical"], "usage"
