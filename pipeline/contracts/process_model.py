"""The forecaster's ONNX contract (models/process_lstm.onnx): written by pipeline/process's
training, run by its real-time replay (pipeline/process/monitor.py) with nothing else at hand.

Input "window": float32 [batch, lookback, channels] in raw units (layout.json's channel
order); output "forecast": float32 [batch, horizons, targets] in raw units (the training
period's normalisation is inside the graph). The metadata holds everything the replay needs
(REQUIRED_METADATA): channels, targets, horizons, the golden profile with its limits and the
warning rule's settings.
"""
from __future__ import annotations

INPUT, OUTPUT = "window", "forecast"
ONNX_FILE, PT_FILE = "process_lstm.onnx", "process_lstm.pt"  # under paths.models
REQUIRED_METADATA = ("channels", "targets", "horizons", "horizon", "lookback", "period_s", "golden", "warnings")
