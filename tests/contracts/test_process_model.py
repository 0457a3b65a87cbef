"""The process model's metadata, checked once at the boundary: typed fields for every reader, a
one-line error naming the file and the key otherwise."""
from __future__ import annotations

import pytest

from pipeline.contracts.process_model import validate_metadata
from pipeline.core.validation import DataValidationError


def _meta(**kw):
    meta = {"channels": ["speed", "force", "ejection"], "targets": ["force", "ejection"], "horizons": [6, 12],
            "horizon": 12, "lookback": 36, "period_s": 10.0, "golden": {"channels": ["speed", "force", "ejection"]},
            "warnings": {"horizon": 6}, "segments": ["code", "batch"], "test_batches": ["code 6, batch 369"],
            "lstm_members": 2}
    return {**meta, **kw}


def test_a_good_metadata_reads_as_typed_fields():
    m = validate_metadata(_meta(), "m.onnx")
    assert m.lookback == 36 and isinstance(m.lookback, int) and m.period_s == 10.0
    assert m.target_index == [1, 2] and m.warning_horizon_index == 0 and m.lstm_members == 2
    assert m.segments == ("code", "batch") and m.replay_from is None and m.context == "global"
    old = {k: v for k, v in _meta().items() if k not in ("segments", "test_batches", "lstm_members")}
    assert validate_metadata(old, "m.onnx").lstm_members == 1  # a model exported before issue 23 still reads


@pytest.mark.parametrize("change, words", [
    ({"lookback": 0}, "'lookback' must be a whole number >= 1"),
    ({"lookback": "36"}, "'lookback'"),
    ({"horizon": 30}, "'horizon' 30 is not among 'horizons'"),
    ({"targets": ["pressure"]}, "'targets'"),
    ({"period_s": -1}, "'period_s' must be a positive number"),
    ({"warnings": {"horizon": 3}}, "'warnings.horizon' 3"),
    ({"golden": []}, "'golden' must be a mapping"),
    ({"lstm_members": 0}, "'lstm_members'"),
])
def test_a_bad_key_is_named_with_the_file(change, words):
    with pytest.raises(DataValidationError, match=r"m\.onnx: .*" + words.replace("(", r"\(")):
        validate_metadata(_meta(**change), "m.onnx")
    meta = _meta()
    del meta["golden"]
    with pytest.raises(DataValidationError, match=r"lacks \['golden'\]"):
        validate_metadata(meta, "m.onnx")
