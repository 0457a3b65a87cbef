"""Networks and descriptions as an attacker (or a broken export) hands them over: a weight set to
NaN, inf or 1e30, a "billion laughs" sidecar, a Python tag, weights in an external file. Shared by
tests/optimize/test_network_hostile.py and the generated attacks of tests/fuzz/."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import yaml
from onnx import numpy_helper

from tests.optimize.test_foreign_network import _plain_export


def good_net(folder: Path) -> Path:
    """A plainly exported 6-16-8-1 torch net with its sidecar YAML beside it."""
    path, sidecar = _plain_export(folder)
    path.with_suffix(".yaml").write_text(yaml.safe_dump(sidecar))
    return path


def with_initializer(path: Path, out: Path, index: int, change) -> Path:
    """A copy of `path` whose initializer `index` (weights and biases in graph order) is
    `change(array)`, with the same sidecar."""
    model = onnx.load(str(path))
    init = model.graph.initializer[index % len(model.graph.initializer)]
    values = numpy_helper.to_array(init).copy()
    init.CopyFrom(numpy_helper.from_array(np.asarray(change(values), dtype=values.dtype), init.name))
    onnx.save(model, str(out))
    out.with_suffix(".yaml").write_bytes(path.with_suffix(".yaml").read_bytes())
    return out


def set_one(value: float, at: int = 3):
    def change(values: np.ndarray) -> np.ndarray:
        values.flat[at % values.size] = value
        return values
    return change


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """A few hundred bytes of nested YAML aliases that expand to width**levels strings."""
    text = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for k in range(1, levels):
        text += f"a{k}: &a{k} [" + ",".join([f"*a{k - 1}"] * width) + "]\n"
    return text + f"inputs: *a{levels - 1}\n"


PYTHON_TAG = "inputs: !!python/object/apply:os.system ['echo attached']\n"
