"""The fault DNN as the optimiser sees it: read from ONNX through OMLT, checked against the
fault DNN's contract, then folded into plain affine layers over the *raw* free inputs.

Folding: the scaling x_s = (x - offset) / factor and the fixed inputs (pressure, speed,
vibration; and the maintenance count once it is fixed) are absorbed into the first layer's
weights and bias, so every hourly copy of the network starts from its two or three free
inputs. Exact algebra: folded and original networks agree to float rounding (tested).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from pipeline.contracts import fault_log
from pipeline.contracts.fault_model import (INPUT, REQUIRED_METADATA, SIDECAR_SOURCE, FaultModelMetadata,
                                            check_weights, read_sidecar, validate_foreign, validate_metadata)
from pipeline.core.onnx_io import METADATA_KEY
from pipeline.core.validation import DataValidationError

FEATURES = tuple(fault_log.FEATURES)  # the fault DNN's input order (a tuple: read-only here)
N_INPUT = "maintenance_cycles"  # the input the optimiser enumerates (one sub-model per count)


class BoundsOutsideTrainingWarning(UserWarning):
    """The optimiser's box leaves the range the network was trained on."""


@dataclass
class FaultNetwork:
    """Dense ReLU layers (W: [in, out], b: [out]) over raw inputs in FEATURES order."""

    path: Path
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    offset: np.ndarray
    factor: np.ndarray
    train_min: np.ndarray | None      # None: a network trained elsewhere that does not say
    train_max: np.ndarray | None
    columns: tuple[int, ...] = tuple(range(len(FEATURES)))  # FEATURES index of each graph input column

    def graph_input(self, raw: np.ndarray) -> np.ndarray:
        """Raw inputs [n, 6] in FEATURES order as the ONNX graph takes them: scaled, float32, in
        the graph's column order."""
        scaled = (np.asarray(raw, float) - self.offset) / self.factor
        return np.ascontiguousarray(scaled[:, list(self.columns)], dtype=np.float32)

    def logit(self, raw: np.ndarray) -> np.ndarray:
        """Forward pass in float64 on raw inputs [n, 6] (the ONNX graph computes in float32)."""
        h = (np.asarray(raw, float) - self.offset) / self.factor
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0]

    def fold(self, fixed: dict[str, float]) -> "FoldedNetwork":
        """Absorb scaling and the `fixed` inputs into layer 1; the rest stay free, in FEATURES order."""
        unknown = set(fixed) - set(FEATURES)
        if unknown:
            raise KeyError(f"fold: unknown inputs {sorted(unknown)}; inputs are {list(FEATURES)}")
        free = [n for n in FEATURES if n not in fixed]
        w1, b1 = self.weights[0], self.biases[0]
        scaled_w = w1 / self.factor[:, None]            # d(layer 1)/d(raw input)
        bias = b1 - (self.offset / self.factor) @ w1     # layer 1 at raw input 0
        for name, value in fixed.items():
            bias = bias + float(value) * scaled_w[FEATURES.index(name)]
        first = scaled_w[[FEATURES.index(n) for n in free]]
        return FoldedNetwork(free, [first, *self.weights[1:]], [bias, *self.biases[1:]])

    def accepted_range(self, name: str, tolerance: float) -> tuple[float, float]:
        """The input `name`'s training range widened by `tolerance` times its width on each side
        (optimize.training_range_tolerance): what the network judges without extrapolating far.
        (-inf, inf) for a network whose description gives no training range."""
        if self.train_min is None or self.train_max is None:
            return -math.inf, math.inf
        i = FEATURES.index(name)
        tmin, tmax = float(self.train_min[i]), float(self.train_max[i])
        slack = tolerance * max(tmax - tmin, 0.0) + 1e-9
        return tmin - slack, tmax + slack

    def check_box(self, box: dict[str, tuple[float, float]], tolerance: float = 0.0) -> list[str]:
        """Warn (and return the messages) where the optimiser's box leaves the training range by
        more than `tolerance` times that range's width (optimize.training_range_tolerance), the
        farthest first."""
        if self.train_min is None or self.train_max is None:
            message = (f"{self.path}: its description gives no training range (train_min/train_max): whether the "
                       f"optimiser's box {box} stays inside what it was trained on cannot be checked")
            warnings.warn(message, BoundsOutsideTrainingWarning, stacklevel=2)
            return [message]
        found = []
        for name, (lo, hi) in box.items():
            i = FEATURES.index(name)
            tmin, tmax = float(self.train_min[i]), float(self.train_max[i])
            low, high = self.accepted_range(name, tolerance)
            excess = max(tmin - lo, hi - tmax, 0.0)
            if lo < low or hi > high:
                found.append((excess / max(tmax - tmin, 1e-12),
                              f"{name}: optimiser range [{lo:g}, {hi:g}] leaves the network's training range "
                              f"[{tmin:g}, {tmax:g}] ({self.path}); its predictions there are extrapolation"))
        messages = [m for _, m in sorted(found, key=lambda f: -f[0])]
        for message in messages:
            warnings.warn(message, BoundsOutsideTrainingWarning, stacklevel=2)
        return messages


@dataclass
class FoldedNetwork:
    """Layer 1 acts on the free raw inputs `inputs`; hidden layers ReLU; last layer the logit."""

    inputs: list[str]
    weights: list[np.ndarray]
    biases: list[np.ndarray]

    def logit(self, free: np.ndarray) -> np.ndarray:
        h = np.asarray(free, float)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0]


def _readable(path: Path) -> onnx.ModelProto:
    if not path.exists():
        raise FileNotFoundError(f"{path}: ONNX model not found")
    if path.stat().st_size == 0:
        raise DataValidationError(path, "the file is empty (0 bytes): not an ONNX model")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises several types for a corrupt file
        raise DataValidationError(path, f"not a readable ONNX model ({type(exc).__name__}: {exc})") from None
    if not model.graph.node:
        raise DataValidationError(path, "not an ONNX model with a graph (no nodes): a different file type?")
    external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:  # weights in other files, named by the model: never read files a model points at
        raise DataValidationError(path, f"its weights {external[:3]} are stored in external files: export the network "
                                        "with its weights inside the .onnx file")
    return model


def describe(path: Path, model: onnx.ModelProto) -> FaultModelMetadata:
    """The network's contract: our metadata (as pipeline/fault exports it), attached sidecar
    keys, or a sidecar YAML beside the file (<model>.yaml) for a network trained elsewhere."""
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY in props:
        try:
            meta = json.loads(props[METADATA_KEY])
        except ValueError as exc:
            raise DataValidationError(path, f"its metadata '{METADATA_KEY}' is not JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise DataValidationError(path, f"its metadata '{METADATA_KEY}' must be a mapping of keys")
        if meta.get("source") == SIDECAR_SOURCE:
            return validate_foreign(meta, path)
        missing = [k for k in REQUIRED_METADATA if k not in meta]
        if missing:
            raise DataValidationError(path, f"metadata lacks {missing}")
        checked = validate_metadata(meta, path)
        graph_in, graph_out = [i.name for i in model.graph.input], [o.name for o in model.graph.output]
        if graph_in != [INPUT] or graph_out != [meta["output"]]:
            raise DataValidationError(path, f"graph must have input [{INPUT!r}] and output [{meta['output']!r}], "
                                            f"got {graph_in} -> {graph_out}")
        return checked
    sidecar = path.with_suffix(".yaml")
    if sidecar.exists():
        return validate_foreign(read_sidecar(sidecar), sidecar)
    raise DataValidationError(path, f"nothing says what its inputs are: put a YAML beside it ({sidecar.name}: inputs in "
                                    "the graph's order, units, scaling, output: logit, train_min/train_max; "
                                    "docs/fault.md) or attach one with `python -m pipeline.optimize.network attach "
                                    f"{path.name} {sidecar.name}`")


def load_fault_network(path: str | Path, max_abs_weight: float | None = None) -> FaultNetwork:
    """Read and check the fault DNN: six inputs (our contract, or a network trained elsewhere
    with its sidecar description), dense ReLU layers, one logit output, finite weights (within
    +-`max_abs_weight`, optimize.max_abs_weight, when given; also once the input scaling is
    folded in). Anything else is refused with the reason and the file."""
    from omlt.io import load_onnx_neural_network
    from omlt.neuralnet.layer import DenseLayer

    path = Path(path)
    model = _readable(path)
    checked = describe(path, model)
    if len(model.graph.input) != 1 or len(model.graph.output) != 1:
        raise DataValidationError(path, f"the graph must have one input and one output, got "
                                        f"{[i.name for i in model.graph.input]} -> {[o.name for o in model.graph.output]}")
    try:
        net = load_onnx_neural_network(model)
    except Exception as exc:  # OMLT raises several types for graphs it does not understand
        raise DataValidationError(path, f"OMLT cannot read the graph ({exc})") from exc
    dense = [layer for layer in net.layers if isinstance(layer, DenseLayer)]
    if len(dense) != len(list(net.layers)) - 1 or not dense:
        raise DataValidationError(path, "only Gemm/MatMul+Add layers with ReLU are supported")
    acts = [layer.activation for layer in dense]
    if any(a != "relu" for a in acts[:-1]) or acts[-1] != "linear":
        raise DataValidationError(path, f"activations must be relu... then linear (the logit), got {acts}; "
                                        "export logits and leave the sigmoid outside the graph")
    weights = [np.asarray(layer.weights, float) for layer in dense]
    if weights[0].shape[0] != len(FEATURES) or weights[-1].shape[1] != 1:
        raise DataValidationError(path, f"network maps {weights[0].shape[0]} inputs to {weights[-1].shape[1]} "
                                        "outputs; the contract is 6 -> 1")
    weights[0] = weights[0][np.argsort(checked.columns)]  # first-layer rows in FEATURES order
    biases = [np.asarray(layer.biases, float).reshape(-1) for layer in dense]
    check_weights(weights, biases, path, max_abs_weight)
    net = FaultNetwork(path, weights, biases, checked.scaling.offset, checked.scaling.factor, checked.train_min,
                       checked.train_max, checked.columns)
    with np.errstate(all="ignore"):  # overflow shows as inf, which the check names
        raw = net.fold({})
    check_weights(raw.weights[:1], raw.biases[:1], path, max_abs_weight,
                  what="with its input scaling (scaling.offset, scaling.factor) folded in, layer")
    return net


def attach(model_path: Path, sidecar: Path, out: Path | None = None, max_abs_weight: float | None = None) -> Path:
    """Write a sidecar's description into the ONNX file's metadata (checked first). The result is
    written aside and checked as the optimiser loads it before it replaces `out` (default: the
    model itself), so a refused description never changes a file."""
    model = _readable(model_path)
    meta = read_sidecar(sidecar)
    validate_foreign(meta, sidecar)
    props = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(props)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps({**meta, "source": SIDECAR_SOURCE})
    out = Path(out or model_path)
    aside = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        onnx.save(model, str(aside))
        try:
            load_fault_network(aside, max_abs_weight)  # it reads back
        except DataValidationError as exc:
            raise DataValidationError(out, str(exc).replace(f"{aside}: ", "", 1)) from None
        os.replace(aside, out)
    finally:
        aside.unlink(missing_ok=True)
    return out


def configured_limit() -> float | None:
    """optimize.max_abs_weight of the repository's params.yaml, None outside a repository."""
    from omegaconf import OmegaConf

    from pipeline.core.config import load_params

    try:
        cfg = load_params()
    except FileNotFoundError:
        return None
    value = OmegaConf.select(cfg, "optimize.max_abs_weight")
    return None if value is None else float(value)


def main(argv: list[str] | None = None) -> None:
    """The command line; every expected failure is one line (pipeline/core/cli.py), exit 1."""
    from pipeline.core import cli

    parser = argparse.ArgumentParser(description="Attach a fault network's description (a sidecar YAML, "
                                                 "docs/fault.md) to its ONNX file, or check that it loads.",
                                     epilog="--debug (or PIPELINE_DEBUG=1) shows the traceback of an expected error")
    parser.add_argument("--max-abs-weight", type=float, default=None,
                        help="refuse weights beyond +-this (default: optimize.max_abs_weight of params.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("attach", help="write SIDECAR's keys into MODEL's metadata")
    add.add_argument("model", type=Path)
    add.add_argument("sidecar", type=Path)
    add.add_argument("--out", type=Path, default=None, help="write a copy here instead of changing MODEL")
    check = sub.add_parser("check", help="load MODEL as the optimiser does and print what it found")
    check.add_argument("model", type=Path)
    args = parser.parse_args(cli.take_debug_flag(list(sys.argv[1:] if argv is None else argv)))
    with cli.expected_errors(f"network {args.command}", (OSError,)):
        limit = args.max_abs_weight if args.max_abs_weight is not None else configured_limit()
        if limit is not None and not limit > 0:
            raise ValueError(f"--max-abs-weight = {limit:g}: allowed a number > 0")
        if args.command == "attach":
            print(f"wrote {attach(args.model, args.sidecar, args.out, limit)}")
        else:
            net = load_fault_network(args.model, limit)
            sizes = [w.shape[1] for w in net.weights]
            largest = max(float(np.abs(a).max()) for a in [*net.weights, *net.biases] if a.size)
            print(f"{args.model}: {len(FEATURES)} inputs -> {sizes}, graph columns {[FEATURES[c] for c in net.columns]}, "
                  f"training range {'given' if net.train_min is not None else 'not given'}, largest |weight| "
                  f"{largest:.3g} ({f'limit {limit:g}' if limit is not None else 'no limit: outside a repository'})")


if __name__ == "__main__":
    main()
