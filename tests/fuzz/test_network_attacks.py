"""Generated attacks on the network door (`python -m pipeline.optimize.network check/attach`, the
optimiser's load_fault_network): dense ReLU graphs of random shapes with NaN, inf or absurd
weights, ONNX bytes flipped, cut or padded, and sidecar descriptions that are wrong, of the wrong
types, nested alias bombs, Python tags, deep nesting or no text at all. Check and attach answer
(and then every weight is finite and within the limit) or refuse in one line; never a traceback;
each case bounded in time and memory."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from pipeline.contracts.fault_log import FEATURES
from pipeline.optimize.network import attach, load_fault_network
from tests.fuzz.file_doors import attack, cases
from tests.optimize.hostile_nets import PYTHON_TAG, billion_laughs

LIMIT = 1e6  # optimize.max_abs_weight as conf/ sets it


@pytest.fixture(scope="module", autouse=True)
def omlt_loaded():
    """Import OMLT once, so that no case pays for it inside its time bound."""
    import omlt.io  # noqa: F401


def dense_graph(sizes: list[int], weights: list[np.ndarray], biases: list[np.ndarray]) -> onnx.ModelProto:
    """Gemm (+ Relu) layers, input `input` [1, sizes[0]], output `out`, as a plain exporter writes them."""
    nodes, inits, current = [], [], "input"
    for k, (w, b) in enumerate(zip(weights, biases)):
        inits += [numpy_helper.from_array(w.astype(np.float32), f"W{k}"),
                  numpy_helper.from_array(b.astype(np.float32), f"B{k}")]
        nodes.append(helper.make_node("Gemm", [current, f"W{k}", f"B{k}"], [f"g{k}"], name=f"Gemm_{k}", alpha=1.0, beta=1.0,
                                      transA=0, transB=0))
        current = f"g{k}"
        if k < len(weights) - 1:
            nodes.append(helper.make_node("Relu", [current], [f"r{k}"], name=f"Relu_{k}"))
            current = f"r{k}"
    nodes[-1].output[0] = "out"
    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, sizes[0]])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, sizes[-1]])], inits)
    return onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))


WEIGHT = st.floats(-3, 3, allow_nan=False) | st.sampled_from([np.nan, np.inf, -np.inf, 1e30, -2e6, 0.0])


@st.composite
def networks(draw):
    """(ONNX bytes, sidecar bytes) of a network from elsewhere, sometimes broken."""
    sizes = [draw(st.sampled_from([6] * 6 + [5, 7]))] + draw(st.lists(st.integers(1, 8), min_size=1, max_size=3)) \
        + [draw(st.sampled_from([1] * 6 + [2]))]
    poisoned = draw(st.booleans(), label="poisoned weights")
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w = np.asarray(draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=n_in * n_out, max_size=n_in * n_out)))
        w = w.reshape(n_in, n_out)
        if poisoned:
            w.flat[draw(st.integers(0, w.size - 1))] = draw(WEIGHT)
        weights.append(w)
        biases.append(np.zeros(n_out))
    data = dense_graph(sizes, weights, biases).SerializeToString()
    damage = draw(st.sampled_from(["none"] * 6 + ["flip", "cut", "pad", "noise"]), label="bytes")
    if damage != "none" and data:
        at = draw(st.integers(0, len(data) - 1))
        if damage == "flip":
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        elif damage == "cut":
            data = data[:at]
        elif damage == "pad":
            data = data + draw(st.binary(min_size=1, max_size=64))
        else:
            data = draw(st.binary(max_size=512))
    return data, draw(sidecars()), draw(st.booleans(), label="attach too")


@st.composite
def sidecars(draw) -> bytes:
    order = draw(st.permutations(list(FEATURES)))
    good = {"inputs": order, "output": "logit",
            "scaling": {"kind": "minmax", "offset": [0.0] * 6, "factor": [1.0] * 6},
            "train_min": [0.0] * 6, "train_max": [100.0] * 6}
    kind = draw(st.sampled_from(["good"] * 5 + ["key", "types", "laughs", "tag", "deep", "text", "bytes"]))
    event(f"sidecar: {kind}")
    if kind == "key":
        good.pop(draw(st.sampled_from(sorted(good))))
    elif kind == "types":
        leaf = st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8)
        value = st.recursive(leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                             max_size=4), max_leaves=12)
        good[draw(st.sampled_from(sorted(good)))] = draw(value)
        if draw(st.booleans()):
            good["scaling"] = draw(value)
    elif kind == "laughs":
        return billion_laughs(draw(st.integers(2, 9)), draw(st.integers(2, 12))).encode()
    elif kind == "tag":
        return PYTHON_TAG.encode()
    elif kind == "deep":
        depth = draw(st.integers(10, 9_000))
        return ("inputs: " + "[" * depth + "]" * depth + "\n").encode()
    elif kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", errors="replace")
    elif kind == "bytes":
        return draw(st.binary(max_size=200))
    return yaml.safe_dump(good, allow_unicode=True).encode()


@settings(max_examples=cases(30))
@given(case=networks())
def test_check_and_attach_answer_with_finite_weights_or_refuse_in_one_line(case):
    data, sidecar, also_attach = case
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "net.onnx"
        model.write_bytes(data)
        model.with_suffix(".yaml").write_bytes(sidecar)
        checked = attack(lambda: load_fault_network(model, LIMIT))
        event("check answered" if checked.error is None else f"check refused: {str(checked.error).split(': ', 1)[-1][:40]}")
        if checked.error is None:
            net = checked.result
            for values in [*net.weights, *net.biases]:
                assert np.isfinite(values).all() and np.abs(values).max() <= LIMIT
        if not also_attach:
            return
        attached = attack(lambda: attach(model, model.with_suffix(".yaml"), Path(folder) / "out.onnx", LIMIT))
        if attached.error is not None:
            assert not (Path(folder) / "out.onnx").exists()  # a refused attach writes nothing
            assert model.read_bytes() == data
