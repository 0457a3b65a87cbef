"""The forecaster's ONNX contract (models/process_lstm.onnx): written by pipeline/process's
training, run by its real-time replay (pipeline/process/monitor.py) and the live monitor with
nothing else at hand.

Input "window": float32 [batch, lookback, channels] in raw units (layout.json's channel
order); output "forecast": float32 [batch, horizons, targets] in raw units (the training
period's normalisation is inside the graph). The metadata holds everything the replay needs
(REQUIRED_METADATA): channels, targets, horizons, the golden profile with its limits and the
warning rule's settings. A reader takes it through `validate_metadata`, which checks every key
once and returns `ProcessModelMetadata` with typed fields, so no reader indexes the raw dict
and casts a value itself. numpy-free: the live monitor imports this beside onnxruntime only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.validation import DataValidationError

INPUT, OUTPUT = "window", "forecast"
ONNX_FILE, PT_FILE = "process_lstm.onnx", "process_lstm.pt"  # under paths.models
REQUIRED_METADATA = ("channels", "targets", "horizons", "horizon", "lookback", "period_s", "golden", "warnings")


@dataclass(frozen=True)
class ProcessModelMetadata:
    """A process model's metadata, checked. `golden` and `warnings` stay mappings: their own
    classes (pipeline/process/control.py: Golden.from_dict, WarningSettings) read them, and the
    check here is that they are mappings holding what those need."""

    channels: tuple[str, ...]
    targets: tuple[str, ...]
    horizons: tuple[int, ...]           # steps ahead, one output row each
    horizon: int                        # the configured horizon (one of horizons)
    lookback: int                       # steps per window (the LSTM reads its last model.process.lookback)
    period_s: float                     # grid period (s)
    golden: dict                        # golden profile per state, with the state rule
    warnings: dict                      # the warning rule's settings (WarningSettings fields)
    actuators: dict = field(default_factory=dict)
    selection: dict = field(default_factory=dict)   # {target: {horizon_s: model}}
    replay_from: str | None = None      # first timestamp of the test period (time split)
    segments: tuple[str, ...] = ()      # the series' batch columns (a replay restarts at a batch change)
    test_batches: tuple[str, ...] = ()  # names of the test batches (batch split)
    lstm_members: int = 1               # LSTMs averaged in the graph (one per cross-validation fold)
    context: str = "global"             # how the LSTM sees the level (model.process.network.context)
    recent_best: dict = field(default_factory=dict)  # {history, used, candidates}; {} when not in the graph

    @property
    def target_index(self) -> list[int]:
        return [self.channels.index(t) for t in self.targets]

    @property
    def warning_horizon_index(self) -> int:
        """Row of the output the warning rule watches (its horizon among `horizons`)."""
        return self.horizons.index(int(self.warnings["horizon"]))


def _strings(meta: dict, key: str, path: Path, allow_empty: bool = False) -> tuple[str, ...]:
    value = meta.get(key, [])
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value) \
            or (not value and not allow_empty):
        raise DataValidationError(path, f"metadata '{key}' must be a list of names, got {value!r}")
    return tuple(value)


def _whole(meta: dict, key: str, path: Path, low: int = 1, value=None) -> int:
    value = meta.get(key) if value is None else value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value) or value < low:
        raise DataValidationError(path, f"metadata '{key}' must be a whole number >= {low}, got {value!r}")
    return int(value)


def validate_metadata(meta: dict, path: str | Path) -> ProcessModelMetadata:
    """Check a process model's metadata against the contract; DataValidationError naming the
    file and the key otherwise (missing keys, targets that are not channels, a horizon not
    among the horizons, a non-positive lookback or period, a warning horizon the model does not
    forecast)."""
    path = Path(path)
    if not isinstance(meta, dict):
        raise DataValidationError(path, "metadata must be a mapping")
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    if missing:
        raise DataValidationError(path, f"metadata lacks {missing}")
    channels, targets = _strings(meta, "channels", path), _strings(meta, "targets", path)
    unknown = [t for t in targets if t not in channels]
    if unknown or len(set(channels)) != len(channels):
        raise DataValidationError(path, f"metadata 'targets' {list(targets)} must be among the distinct channels "
                                        f"{list(channels)}")
    if not isinstance(meta["horizons"], (list, tuple)) or not meta["horizons"]:
        raise DataValidationError(path, f"metadata 'horizons' must be a list of steps, got {meta['horizons']!r}")
    horizons = tuple(_whole(meta, "horizons", path, value=h) for h in meta["horizons"])
    horizon = _whole(meta, "horizon", path)
    if horizon not in horizons:
        raise DataValidationError(path, f"metadata 'horizon' {horizon} is not among 'horizons' {list(horizons)}")
    period = meta["period_s"]
    if isinstance(period, bool) or not isinstance(period, (int, float)) or not math.isfinite(period) or period <= 0:
        raise DataValidationError(path, f"metadata 'period_s' must be a positive number, got {period!r}")
    for key in ("golden", "warnings"):
        if not isinstance(meta[key], dict):
            raise DataValidationError(path, f"metadata '{key}' must be a mapping, got {type(meta[key]).__name__}")
    golden = meta["golden"]
    if list(golden.get("channels", [])) != list(channels):
        raise DataValidationError(path, "metadata 'golden.channels' differ from 'channels'")
    if _whole(meta["warnings"], "horizon", path) not in horizons:
        raise DataValidationError(path, f"metadata 'warnings.horizon' {meta['warnings']['horizon']} is not among "
                                        f"'horizons' {list(horizons)}")
    return ProcessModelMetadata(
        channels, targets, horizons, horizon, _whole(meta, "lookback", path), float(period), golden, meta["warnings"],
        dict(meta.get("actuators") or {}), dict(meta.get("selection") or {}),
        str(meta["replay_from"]) if meta.get("replay_from") is not None else None,
        _strings(meta, "segments", path, allow_empty=True), _strings(meta, "test_batches", path, allow_empty=True),
        _whole(meta, "lstm_members", path, value=meta.get("lstm_members", 1)), str(meta.get("context", "global")),
        _recent(meta.get("recent_best") or {}, path))


def _recent(value, path: Path) -> dict:
    if not value:
        return {}
    if not isinstance(value, dict) or not isinstance(value.get("candidates"), list):
        raise DataValidationError(path, f"metadata 'recent_best' must be a mapping with 'candidates', got {value!r}")
    for key in ("history", "used"):
        _whole(value, f"recent_best.{key}", path, value=value.get(key))
    return dict(value)


def read(path: str | Path) -> ProcessModelMetadata:
    """The checked metadata of an ONNX process model."""
    from pipeline.core import onnx_io

    return validate_metadata(onnx_io.read_metadata(path, REQUIRED_METADATA), path)
