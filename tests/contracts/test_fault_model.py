"""The fault DNN's ONNX contract: what the builder writes passes the validator, and each way a
foreign model's metadata can be wrong is refused naming the file and the key."""
from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest

from pipeline.contracts.fault_log import FEATURES
from pipeline.contracts.fault_model import METADATA_KEYS, MinMaxScaling, metadata, validate_metadata
from pipeline.core.validation import DataValidationError


@pytest.fixture
def meta():
    raw = np.random.default_rng(0).uniform(1, 5, size=(50, len(FEATURES)))
    return metadata(MinMaxScaling.fit(raw), raw, {"hidden": [64, 32]})


def test_the_builder_writes_every_key_and_passes_the_validator(meta):
    assert set(METADATA_KEYS) <= set(meta)
    checked = validate_metadata(meta, "model.onnx")
    assert np.allclose(checked.scaling.offset, meta["scaling"]["offset"]) and checked.output == "logit"
    assert checked.train_min.shape == (len(FEATURES),)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.pop("train_max"), r"metadata lacks \['train_max'\]"),
    (lambda m: m.update(inputs=list(reversed(FEATURES))), "do not match the contract"),
    (lambda m: m.update(scaling={"kind": "standard"}), "scaling must be"),
    (lambda m: m["scaling"].update(offset=[0.0] * 5), "metadata 'scaling.offset' must be 6 finite numbers"),
    (lambda m: m["scaling"].update(factor=[1.0] * 5 + [0.0]), "scaling.factor must be positive"),
    (lambda m: m.update(train_min=[0.0] * 5 + [float("nan")]), "metadata 'train_min' must be 6 finite numbers"),
])
def test_a_bad_key_is_refused_naming_the_file_and_the_key(meta, edit, message):
    bad = copy.deepcopy(meta)
    edit(bad)
    with pytest.raises(DataValidationError, match=message) as err:
        validate_metadata(bad, "their_model.onnx")
    assert str(err.value).startswith("their_model.onnx: ")


def test_the_contract_and_the_optimiser_load_without_torch():
    code = ("import sys, pipeline.contracts.fault_model, pipeline.optimize.run; "
            "print('torch' in sys.modules, 'pipeline.fault' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
