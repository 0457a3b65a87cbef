"""The fault DNN's ONNX contract: what pipeline/fault writes and pipeline/optimize embeds.

- Input "x": float32 [batch, 6], the fault log's FEATURES in order, min-max scaled with the
  offset and factor stored in the metadata (x_scaled = (x_raw - offset) / factor).
- Output "logit": float32 [batch, 1]; probability = sigmoid(logit), applied outside the graph
  (OMLT's big-M ReLU formulation refuses a Sigmoid layer).
- Metadata (key `tablet_pipeline`, pipeline.core.onnx_io): METADATA_KEYS as written by
  `metadata()`; a reader needs REQUIRED_METADATA and checks it with `validate_metadata()`.
Scaling lives in the metadata, not in the graph, because OMLT takes it as its own scaling
object and wants input bounds in the scaled space. numpy only: the MILP stage imports this
without torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.contracts.fault_log import FEATURES, UNITS
from pipeline.core.validation import DataValidationError

INPUT, OUTPUT = "x", "logit"
ONNX_FILE, PT_FILE = "fault_dnn.onnx", "fault_dnn.pt"  # under paths.models
# Every key `metadata()` writes; a reader needs the subset REQUIRED_METADATA.
METADATA_KEYS = ("model", "inputs", "units", "scaling", "train_min", "train_max", "output", "probability")
REQUIRED_METADATA = ("model", "inputs", "scaling", "train_min", "train_max", "output")
assert set(REQUIRED_METADATA) <= set(METADATA_KEYS)


@dataclass(frozen=True)
class MinMaxScaling:
    """Min-max scaling fitted on the training split: offset = train min, factor = train max -
    train min (1 for a constant column)."""

    offset: np.ndarray
    factor: np.ndarray

    @classmethod
    def fit(cls, raw: np.ndarray) -> "MinMaxScaling":
        low, high = raw.min(axis=0), raw.max(axis=0)
        span = high - low
        # a constant column (e.g. a real log without maintenance) would divide by zero
        return cls(offset=low.astype(np.float64), factor=np.where(span > 0, span, 1.0).astype(np.float64))

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return ((np.asarray(raw, dtype=np.float64) - self.offset) / self.factor).astype(np.float32)

    def metadata(self) -> dict:
        return {"kind": "minmax", "offset": self.offset.tolist(), "factor": self.factor.tolist()}


def metadata(scaling: MinMaxScaling, train_raw: np.ndarray, extra: dict | None = None) -> dict:
    """The metadata every fault model carries (the trained one and the optimiser's stand-ins)."""
    return {"model": "fault_dnn", "inputs": list(FEATURES), "units": list(UNITS), "scaling": scaling.metadata(),
            "train_min": train_raw.min(axis=0).tolist(), "train_max": train_raw.max(axis=0).tolist(),
            "output": OUTPUT, "probability": "sigmoid(logit)", **(extra or {})}


@dataclass(frozen=True)
class FaultModelMetadata:
    """A fault model's metadata, checked: scaling and training range per input (FEATURES order;
    the range is None when a network trained elsewhere does not give it), and `columns`, the
    FEATURES index of each graph input column (0..5 for ours)."""

    scaling: MinMaxScaling
    train_min: np.ndarray | None
    train_max: np.ndarray | None
    output: str
    columns: tuple[int, ...] = tuple(range(len(FEATURES)))


# A network trained elsewhere is described by a sidecar YAML beside it (<model>.yaml) or by the
# same keys attached to it (`python -m pipeline.optimize.network attach`): docs/fault.md.
SIDECAR_SOURCE = "sidecar"  # metadata["source"] of attached sidecar keys
SCALING_KINDS = {"minmax": "x_scaled = (x - offset) / factor, offset = min, factor = max - min",
                 "standard": "x_scaled = (x - offset) / factor, offset = mean, factor = standard deviation",
                 "none": "the graph takes raw inputs (offset 0, factor 1)"}


def validate_foreign(meta: dict, path: str | Path) -> FaultModelMetadata:
    """Check the description of a network trained elsewhere (sidecar keys): `inputs`, our six
    names in the graph's column order; `scaling` of a kind in SCALING_KINDS; `output: logit`;
    `units` and the training range `train_min`/`train_max` (graph order) optional but checked."""
    path = Path(path)
    if not isinstance(meta, dict):
        raise DataValidationError(path, "the network's description must be a mapping of keys (docs/fault.md)")
    inputs = list(meta.get("inputs") or [])
    if sorted(inputs) != sorted(FEATURES):
        raise DataValidationError(path, f"'inputs' must name each of {list(FEATURES)} once, in the graph's column "
                                        f"order; got {inputs}")
    columns = tuple(FEATURES.index(name) for name in inputs)
    units = meta.get("units")
    if units is not None:
        wrong = [f"{name} in {u!r} (expected {UNITS[FEATURES.index(name)]!r})" for name, u in zip(inputs, units)
                 if str(u) != UNITS[FEATURES.index(name)]]
        if wrong or len(units) != len(inputs):
            raise DataValidationError(path, f"'units' must match the contract: {wrong or units}; convert the inputs "
                                            "or retrain (the optimiser's box is in these units)")
    if str(meta.get("output", "")) != OUTPUT:
        raise DataValidationError(path, f"'output' must be '{OUTPUT}' (the graph ends at the logit; a final Sigmoid "
                                        f"is refused: export without it), got {meta.get('output')!r}")
    scaling = meta.get("scaling") or {}
    kind = scaling.get("kind") if isinstance(scaling, dict) else None
    if kind not in SCALING_KINDS:
        raise DataValidationError(path, f"'scaling.kind' must be one of {sorted(SCALING_KINDS)}, got {kind!r}")
    n = len(FEATURES)
    back = np.argsort(columns)  # graph order -> FEATURES order
    if kind == "none":
        offset, factor = np.zeros(n), np.ones(n)
    else:
        offset, factor = _vector(meta, "scaling.offset", path, n)[back], _vector(meta, "scaling.factor", path, n)[back]
    if np.any(factor <= 0):
        raise DataValidationError(path, f"scaling.factor must be positive, got {factor.tolist()}")
    ranges = [None, None]
    if "train_min" in meta or "train_max" in meta:
        ranges = [_vector(meta, key, path, n)[back] for key in ("train_min", "train_max")]
    return FaultModelMetadata(MinMaxScaling(offset, factor), ranges[0], ranges[1], OUTPUT, columns)


def _vector(meta: dict, key: str, path: Path, n: int) -> np.ndarray:
    value = meta
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    arr = np.asarray(value if value is not None else [], dtype=float)
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise DataValidationError(path, f"metadata '{key}' must be {n} finite numbers, got {value!r}")
    return arr


def validate_metadata(meta: dict, path: str | Path) -> FaultModelMetadata:
    """Check a fault model's metadata against the contract; DataValidationError naming the file
    and the key otherwise (missing keys, inputs in another order, scaling that is not min-max,
    vectors of the wrong length, non-finite or non-positive factors)."""
    path = Path(path)
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    if missing:
        raise DataValidationError(path, f"metadata lacks {missing}")
    if list(meta["inputs"]) != list(FEATURES):
        raise DataValidationError(path, f"inputs {meta['inputs']} do not match the contract {list(FEATURES)}")
    scaling = meta["scaling"]
    if not isinstance(scaling, dict) or scaling.get("kind") != "minmax":
        raise DataValidationError(path, f"scaling must be {{'kind': 'minmax', ...}}, got {scaling!r}")
    n = len(FEATURES)
    offset = _vector(meta, "scaling.offset", path, n)
    factor = _vector(meta, "scaling.factor", path, n)
    if np.any(factor <= 0):
        raise DataValidationError(path, f"scaling.factor must be positive, got {factor.tolist()}")
    return FaultModelMetadata(MinMaxScaling(offset, factor), _vector(meta, "train_min", path, n),
                              _vector(meta, "train_max", path, n), str(meta["output"]))
