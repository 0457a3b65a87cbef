"""A network the optimiser must refuse in one line: NaN, inf or absurd weights (check, attach and
the stage), a sidecar that is a "billion laughs", holds a Python tag or is not a description,
weights kept in an external file. A refused attach leaves the model as it was."""
from __future__ import annotations

import math
import re
import tracemalloc

import numpy as np
import onnx
import pytest
import yaml

from pipeline.contracts.fault_model import SIDECAR_MAX_BYTES, read_sidecar
from pipeline.core.validation import DataValidationError
from pipeline.optimize.network import load_fault_network, main
from tests.optimize.hostile_nets import PYTHON_TAG, billion_laughs, good_net, set_one, with_initializer


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return good_net(tmp_path_factory.mktemp("net"))


def one_line_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "Traceback" not in "".join(err) and err[1].endswith("for the traceback)"), err
    return err[0]


@pytest.mark.parametrize("value, message", [(math.nan, "NaN or infinite"), (math.inf, "NaN or infinite"),
                                            (-1e30, r"-1e\+30 at \[3, 0\] is beyond \+-1e\+06")])
def test_non_finite_or_absurd_weights_are_refused_by_check(net, tmp_path, capsys, value, message):
    bad = with_initializer(net, tmp_path / "bad.onnx", 2, set_one(value))
    with pytest.raises(DataValidationError, match=r"bad\.onnx: layer 2 weights: .*" + message):
        load_fault_network(bad, 1e6)
    line = one_line_error(capsys, ["--max-abs-weight", "1e6", "check", str(bad)])
    assert line.startswith(f"network check: error: {bad}: layer 2 weights")


def test_check_takes_the_limit_from_params_yaml_and_says_so(net, capsys):
    main(["check", str(net)])  # run from the repository: optimize.max_abs_weight of params.yaml
    out = capsys.readouterr().out
    assert "largest |weight|" in out and "limit 1e+06" in out, out


def test_a_scaling_factor_that_blows_up_the_folded_weights_is_refused(net, tmp_path):
    sidecar = yaml.safe_load(net.with_suffix(".yaml").read_text())
    sidecar["scaling"]["factor"][0] = 1e-300
    bad = tmp_path / "scaled.onnx"
    bad.write_bytes(net.read_bytes())
    bad.with_suffix(".yaml").write_text(yaml.safe_dump(sidecar))
    with pytest.raises(DataValidationError, match="input scaling .* folded in, layer 1 weights"):
        load_fault_network(bad, 1e6)


def test_the_optimiser_refuses_a_nan_network_in_one_line(net, opt_cfg):
    from pathlib import Path

    from pipeline.optimize.run import prepare

    cfg = opt_cfg(["optimize.network_file=nan_net.onnx"])
    with_initializer(net, Path(cfg.paths.models) / "nan_net.onnx", 0, set_one(math.nan))
    with pytest.raises(DataValidationError, match=r"nan_net\.onnx: layer 1 weights: 1 value\(s\) NaN"):
        prepare(cfg)


def test_a_billion_laughs_sidecar_is_refused_without_expanding_it(net, tmp_path, capsys):
    model = tmp_path / "m.onnx"
    model.write_bytes(net.read_bytes())
    laughs = tmp_path / "laughs.yaml"
    laughs.write_text(billion_laughs())
    assert len(laughs.read_bytes()) < 800
    tracemalloc.start()
    try:
        line = one_line_error(capsys, ["attach", str(model), str(laughs)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "aliases expand to more than" in line
    assert peak < 20e6  # bytes: the issue saw 2.75 GB
    assert model.read_bytes() == net.read_bytes()


@pytest.mark.parametrize("text, message", [
    (PYTHON_TAG, "safe tags only"),
    ("&a [*a]\n", "refers to itself|not valid YAML"),
    ("a: 1\n---\nb: 2\n", "not valid YAML"),
    ("\xff\xfe inputs".encode("latin-1"), "not UTF-8"),
    ("inputs: " + "[" * 8000 + "]" * 8000, "nested more than 20 levels deep"),
    ("".join(" " * i + "- \n" for i in range(150)), "nested more than 20 levels deep"),
    ("inputs: 7\n", "'inputs' must name each of"),
    ("- just\n- a list\n", "must be a mapping"),
    ("inputs: [a, 1, {b: c}]\nunits: 5\n", "'inputs' must name each of"),
])
def test_every_attach_failure_is_one_line(net, tmp_path, capsys, text, message):
    model = tmp_path / "m.onnx"
    model.write_bytes(net.read_bytes())
    sidecar = tmp_path / "s.yaml"
    sidecar.write_bytes(text if isinstance(text, bytes) else text.encode())
    line = one_line_error(capsys, ["attach", str(model), str(sidecar)])
    assert line.startswith("network attach: error: ") and re.search(message, line), line
    assert model.read_bytes() == net.read_bytes()


def test_deep_nesting_is_refused_before_pyyaml_scans_it(tmp_path, monkeypatch):
    deep = tmp_path / "deep.yaml"
    deep.write_text("inputs: " + "[" * 8000 + "]" * 8000)  # PyYAML's scanner alone: seconds, quadratic in the depth

    def never(*args, **kwargs):
        raise AssertionError("PyYAML was given the file")

    for name in ("parse", "compose", "load", "safe_load"):
        monkeypatch.setattr(yaml, name, never)
    with pytest.raises(DataValidationError, match="nested more than 20 levels deep"):
        read_sidecar(deep)


def test_a_sidecar_too_large_to_be_a_description_is_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("x: " + "y" * SIDECAR_MAX_BYTES + "\n")
    with pytest.raises(DataValidationError, match="bytes: a network's description is a few hundred bytes"):
        read_sidecar(big)


def test_weights_in_an_external_file_are_refused(net, tmp_path):
    model = onnx.load(str(net))
    onnx.save_model(model, str(tmp_path / "ext.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    (tmp_path / "ext.yaml").write_bytes(net.with_suffix(".yaml").read_bytes())
    with pytest.raises(DataValidationError, match="stored in external files"):
        load_fault_network(tmp_path / "ext.onnx")


def test_check_and_attach_name_a_missing_or_unreadable_file_in_one_line(net, tmp_path, capsys):
    assert "not found" in one_line_error(capsys, ["check", str(tmp_path / "none.onnx")])
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(np.random.default_rng(0).bytes(300))
    assert "junk.onnx" in one_line_error(capsys, ["check", str(junk)])
    assert "not a file" in one_line_error(capsys, ["attach", str(net), str(tmp_path)])


def test_every_press_network_of_a_plant_file_is_checked_against_the_limit(net, opt_cfg, tmp_path):
    """A plant file's own networks pass the same weight check as optimize.network_file (run.load_networks)."""
    from pathlib import Path

    from omegaconf import OmegaConf

    from pipeline.optimize.run import prepare

    cfg = opt_cfg()
    ours = Path(cfg.paths.models) / cfg.optimize.network_file
    huge = with_initializer(net, tmp_path / "huge.onnx", 2, set_one(-1e30))
    (tmp_path / "plant.yaml").write_text(yaml.safe_dump({"rooms": [{"name": "hall", "presses": [
        {"name": "ours", "network_file": str(ours)}, {"name": "theirs", "network_file": huge.name}]}]}))
    cfg = OmegaConf.merge(cfg, {"optimize": {"plant_file": str(tmp_path / "plant.yaml")}})
    with pytest.raises(DataValidationError, match=r"huge\.onnx: layer 2 weights: .*beyond \+-1e\+06"):
        prepare(cfg)
