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

A network from outside is checked before the MILP sees it: its weights and biases finite and
within +-optimize.max_abs_weight (`check_weights`: NaN, inf or 1e30 would make the bound LPs fail
with a solver's traceback), and its sidecar description read with a size limit and no alias
expansion beyond a bound (`read_sidecar`, pipeline/core/safe_yaml.py: a few hundred bytes of nested YAML
aliases, a "billion laughs", expand to gigabytes).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.contracts.fault_log import FEATURES, UNITS
from pipeline.core.safe_yaml import YamlBounds, read_yaml
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


SIDECAR_MAX_BYTES = 16 * 1024   # a description is a few hundred bytes; anything this large is not one
SIDECAR_BOUNDS = YamlBounds("a network's description", SIDECAR_MAX_BYTES,
                            max_nodes=10_000,   # after alias expansion (a description has about 50)
                            max_depth=20,       # nested lists and mappings (a description has 2)
                            usual_size="a few hundred bytes", usual_nodes="about 50")


def read_sidecar(path: str | Path) -> dict:
    """A network's sidecar YAML, read within SIDECAR_BOUNDS (pipeline/core/safe_yaml.py): every
    problem is one DataValidationError naming the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: network description not found")
    return read_yaml(path, SIDECAR_BOUNDS)


def check_weights(weights: list[np.ndarray], biases: list[np.ndarray], path: str | Path,
                  max_abs: float | None = None, what: str = "layer") -> None:
    """Every weight and bias finite and, with `max_abs` (optimize.max_abs_weight), within +-max_abs;
    otherwise one DataValidationError naming the layer, the value and where it is."""
    for i, (w, b) in enumerate(zip(weights, biases), 1):
        for kind, values in (("weights", np.asarray(w, float)), ("biases", np.asarray(b, float))):
            bad = ~np.isfinite(values)
            if bad.any():
                at = np.unravel_index(int(np.argmax(bad)), values.shape)
                raise DataValidationError(path, f"{what} {i} {kind}: {int(bad.sum())} value(s) NaN or infinite (first "
                                                f"{values[at]} at {list(map(int, at))}); the optimiser cannot embed "
                                                "such a network: retrain or re-export it")
            if max_abs is not None and values.size and np.abs(values).max() > max_abs:
                at = np.unravel_index(int(np.argmax(np.abs(values))), values.shape)
                raise DataValidationError(path, f"{what} {i} {kind}: {values[at]:g} at {list(map(int, at))} is beyond "
                                                f"+-{max_abs:g} (optimize.max_abs_weight): no trained network comes "
                                                "near it and the MILP's bounds cannot be computed from it")


def validate_foreign(meta: dict, path: str | Path) -> FaultModelMetadata:
    """Check the description of a network trained elsewhere (sidecar keys): `inputs`, our six
    names in the graph's column order; `scaling` of a kind in SCALING_KINDS; `output: logit`;
    `units` and the training range `train_min`/`train_max` (graph order) optional but checked."""
    path = Path(path)
    if not isinstance(meta, dict):
        raise DataValidationError(path, "the network's description must be a mapping of keys (docs/fault.md)")
    given = meta.get("inputs")
    inputs = [str(name) for name in given] if isinstance(given, list) else []
    if sorted(inputs) != sorted(FEATURES):
        raise DataValidationError(path, f"'inputs' must name each of {list(FEATURES)} once, in the graph's column "
                                        f"order; got {inputs!r:.300}")
    columns = tuple(FEATURES.index(name) for name in inputs)
    units = meta.get("units")
    if units is not None and not isinstance(units, list):
        raise DataValidationError(path, f"'units' must be a list, one unit per input; got {units!r:.200}")
    if units is not None:
        wrong = [f"{name} in {u!r} (expected {UNITS[FEATURES.index(name)]!r})" for name, u in zip(inputs, units)
                 if str(u) != UNITS[FEATURES.index(name)]]
        if wrong or len(units) != len(inputs):
            raise DataValidationError(path, f"'units' must match the contract: {wrong or units!r:.300}; convert the inputs "
                                            "or retrain (the optimiser's box is in these units)")
    if str(meta.get("output", "")) != OUTPUT:
        raise DataValidationError(path, f"'output' must be '{OUTPUT}' (the graph ends at the logit; a final Sigmoid "
                                        f"is refused: export without it), got {meta.get('output')!r:.200}")
    scaling = meta.get("scaling") or {}
    kind = scaling.get("kind") if isinstance(scaling, dict) else None
    if not isinstance(kind, str) or kind not in SCALING_KINDS:
        raise DataValidationError(path, f"'scaling.kind' must be one of {sorted(SCALING_KINDS)}, got {kind!r:.200}")
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
    try:
        arr = np.asarray(value if value is not None else [], dtype=float)
    except (TypeError, ValueError, OverflowError):
        arr = np.asarray([])
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise DataValidationError(path, f"metadata '{key}' must be {n} finite numbers, got {value!r:.200}")
    return arr


def validate_metadata(meta: dict, path: str | Path) -> FaultModelMetadata:
    """Check a fault model's metadata against the contract; DataValidationError naming the file
    and the key otherwise (missing keys, inputs in another order, scaling that is not min-max,
    vectors of the wrong length, non-finite or non-positive factors)."""
    path = Path(path)
    if not isinstance(meta, dict):
        raise DataValidationError(path, "its metadata must be a mapping of keys")
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    if missing:
        raise DataValidationError(path, f"metadata lacks {missing}")
    if meta["inputs"] != list(FEATURES):
        raise DataValidationError(path, f"inputs {meta['inputs']!r:.300} do not match the contract {list(FEATURES)}")
    scaling = meta["scaling"]
    if not isinstance(scaling, dict) or scaling.get("kind") != "minmax":
        raise DataValidationError(path, f"scaling must be {{'kind': 'minmax', ...}}, got {scaling!r:.300}")
    n = len(FEATURES)
    offset = _vector(meta, "scaling.offset", path, n)
    factor = _vector(meta, "scaling.factor", path, n)
    if np.any(factor <= 0):
        raise DataValidationError(path, f"scaling.factor must be positive, got {factor.tolist()}")
    return FaultModelMetadata(MinMaxScaling(offset, factor), _vector(meta, "train_min", path, n),
                              _vector(meta, "train_max", path, n), str(meta["output"]))
