"""Pieces of the fault DNN: split, scaling, metrics, interval bounds, pruning, network."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from pipeline.data.fault import prepare
from pipeline.contracts.fault_log import FEATURES
from pipeline.fault.datamodule import FaultDataModule, chronological_split
from pipeline.fault.metrics import classification_metrics, expected_calibration_error, reliability
from pipeline.contracts.fault_model import MinMaxScaling
from pipeline.fault.stability import (box_bounds, lp_preactivation_bounds, preactivation_bounds, prune,
                                      stability_penalty, stable_neurons)



def _log(n: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.uniform(size=(n, 6)), columns=FEATURES)
    df.insert(0, "timestamp", pd.date_range("2024-01-01", periods=n, freq="10min"))
    df["fault"] = np.arange(n) % 3 == 0
    return df.astype({"fault": int})


def test_split_is_chronological_and_complete():
    log = _log()
    splits = chronological_split(log, None, OmegaConf.create({"train": 0.6, "val": 0.2}))
    assert [len(s) for s in splits.values()] == [60, 20, 20]
    assert splits["train"].last < splits["val"].first <= splits["val"].last < splits["test"].first
    assert np.array_equal(np.concatenate([s.raw for s in splits.values()]), log[FEATURES].to_numpy())
    with pytest.raises(ValueError, match="train \\+ val < 1"):
        chronological_split(log, None, OmegaConf.create({"train": 0.8, "val": 0.2}))


def test_scaling_is_fitted_on_the_training_split_only(tiny_cfg):
    prepare(tiny_cfg, Path(tiny_cfg.paths.data) / "fault",
            Path(tiny_cfg.paths.reports) / "data")
    dm = FaultDataModule(f"{tiny_cfg.paths.data}/fault", tiny_cfg.model.fault.split, 64)
    dm.setup()
    train = dm.scaled("train")
    assert np.allclose(train.min(axis=0), 0, atol=1e-6) and np.allclose(train.max(axis=0), 1, atol=1e-6)
    assert np.allclose(dm.scaling.offset, dm.splits["train"].raw.min(axis=0))
    # val/test are scaled with the training ranges, so they may leave [0, 1]
    full = MinMaxScaling.fit(np.concatenate([s.raw for s in dm.splits.values()]))
    assert not (np.allclose(full.offset, dm.scaling.offset) and np.allclose(full.factor, dm.scaling.factor))
    x, y = next(iter(dm.train_dataloader()))
    assert x.dtype == torch.float32 and x.shape[1] == 6 and y.shape[1] == 1


def test_constant_column_does_not_divide_by_zero():
    raw = np.array([[1.0, 5.0], [3.0, 5.0]])
    scaled = MinMaxScaling.fit(raw).apply(raw)
    assert np.isfinite(scaled).all() and np.allclose(scaled[:, 1], 0)


def test_metrics_match_hand_computed_values():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    m = classification_metrics(y, p, threshold=0.5, bins=2)
    assert m["accuracy"] == 0.5 and m["auc"] == 0.75
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    assert m["f1"] == pytest.approx(0.5)
    # bins [0, .5): p .1, .4 -> mean .25, observed .5; [.5, 1]: p .6, .9 -> .75 vs .5
    assert expected_calibration_error(y, p, 2) == pytest.approx(0.25)
    table = reliability(y, p, 2)
    assert table["count"].tolist() == [2, 2] and table["predicted"].tolist() == pytest.approx([0.25, 0.75])
    assert expected_calibration_error(np.array([0, 1] * 50), np.full(100, 0.5), 10) == pytest.approx(0)


def _net(tiny_cfg, seed: int = 0):
    torch.manual_seed(seed)
    return instantiate(tiny_cfg.model.fault.network)


def test_network_has_configured_sizes_and_a_logit_output(tiny_cfg):
    net = _net(tiny_cfg)
    sizes = [(m.in_features, m.out_features) for m in net.linear_layers()]
    hidden = list(tiny_cfg.model.fault.network.hidden)
    assert sizes[0][0] == 6 and [s[1] for s in sizes[:-1]] == hidden and sizes[-1][1] == 1
    assert net(torch.zeros(5, 6)).shape == (5, 1)


def test_interval_bounds_are_sound_and_stable_counts_hold_on_samples(tiny_cfg):
    net = _net(tiny_cfg, seed=3)
    scaling = MinMaxScaling(offset=np.array([55, 15, 650, 0, 20, 0.0]), factor=np.array([15, 20, 200, 0.6, 55, 6.0]))
    low, high = box_bounds(tiny_cfg.model.fault.stability_box, scaling)
    box = tiny_cfg.model.fault.stability_box
    assert low[0, 0] == high[0, 0] == pytest.approx((box.pressure_kN - 55) / 15)
    rng = np.random.default_rng(1)
    points = low + (high - low) * rng.uniform(size=(2000, 6)).astype(np.float32)
    bounds = preactivation_bounds(net, torch.from_numpy(low), torch.from_numpy(high))
    h = torch.from_numpy(points)
    linears = net.linear_layers()
    with torch.no_grad():
        for layer, (lo, hi) in zip(linears[:-1], bounds):
            z = layer(h)
            assert (z >= lo - 1e-5).all() and (z <= hi + 1e-5).all()
            h = torch.relu(z)
    counts = stable_neurons(net, low, high)
    assert counts["neurons"] == sum(tiny_cfg.model.fault.network.hidden)
    assert counts["stable"] + counts["unstable"] == counts["neurons"]
    assert counts["layers"][0]["unstable"] > 0  # a random net straddles zero somewhere
    # first-layer interval bounds are exact on a box: sampled extremes nearly reach them
    with torch.no_grad():
        z = linears[0](torch.from_numpy(points))
    assert torch.allclose(z.max(0).values, bounds[0][1], atol=0.1)


def test_lp_bounds_are_sound_and_at_least_as_tight_as_intervals(tiny_cfg):
    net = _net(tiny_cfg, seed=5)
    low = np.array([[0.5, 0.1, 0.5, 0.4, 0.1, 0.0]], dtype=np.float32)
    high = np.array([[0.5, 0.9, 0.5, 0.4, 0.8, 1.0]], dtype=np.float32)
    lp = lp_preactivation_bounds(net, low, high)
    with torch.no_grad():
        ibp = preactivation_bounds(net, torch.from_numpy(low), torch.from_numpy(high))
    points = torch.from_numpy(low + (high - low) * np.random.default_rng(2).uniform(size=(5000, 6)).astype(np.float32))
    h = points
    with torch.no_grad():
        for layer, (lo, hi), (ilo, ihi) in zip(net.linear_layers()[:-1], lp, ibp):
            z = layer(h).double().numpy()
            assert (z >= lo - 1e-5).all() and (z <= hi + 1e-5).all()
            assert (lo >= ilo.numpy() - 1e-5).all() and (hi <= ihi.numpy() + 1e-5).all()
            h = torch.relu(layer(h))
    assert (lp[1][1] - lp[1][0]).sum() < (ibp[1][1] - ibp[1][0]).sum().item()  # strictly tighter somewhere
    assert stable_neurons(net, low, high, "lp")["stable"] >= stable_neurons(net, low, high)["stable"]


def test_stability_penalty_is_differentiable_and_pruning_zeroes_small_weights(tiny_cfg):
    net = _net(tiny_cfg)
    low, high = torch.zeros(1, 6), torch.ones(1, 6)
    penalty = stability_penalty(net, low, high)
    penalty.backward()
    assert -1.0 <= penalty.item() <= 1.0 and net.linear_layers()[0].weight.grad.abs().sum() > 0
    total = sum(m.weight.numel() for m in net.linear_layers())
    small = sum(int((m.weight.abs() < 0.05).sum()) for m in net.linear_layers())
    assert prune(net, 0.05) == small and 0 < small < total
    assert sum(int((m.weight == 0).sum()) for m in net.linear_layers()) == small


def test_threshold_rules_choose_on_validation():
    from omegaconf import OmegaConf

    from pipeline.fault.metrics import choose_threshold

    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.4, 4000)  # rare faults: a model that never reaches 0.5
    y = (rng.uniform(size=4000) < p).astype(int)
    rule = lambda name: OmegaConf.create({"rule": name, "fixed": 0.5, "revenue": 100.0, "penalty": 200.0})  # noqa: E731
    assert choose_threshold(y, p, rule("fixed")) == (0.5, "fixed at 0.5")
    t_f1, how = choose_threshold(y, p, rule("f1"))
    assert 0.05 < t_f1 < 0.4 and how.startswith("best F1")
    # calibrated probabilities: the best production value is near revenue / (revenue + penalty) = 1/3
    t_cost, _ = choose_threshold(y, p, rule("cost"))
    assert t_cost == pytest.approx(1 / 3, abs=0.05)
    # nothing to choose on: the fixed threshold, said plainly
    assert "one class only" in choose_threshold(np.zeros(10, int), p[:10], rule("f1"))[1]


def test_a_model_that_predicts_one_class_is_said_so():
    from pipeline.fault.metrics import one_class_statement

    y = np.array([0, 0, 1, 0])
    said = one_class_statement("dnn", y, np.array([0.1, 0.2, 0.3, 0.1]), 0.5)
    assert said.startswith("dnn predicts no fault on the test split at threshold 0.5 (0 of 4 rows; 1 actual faults)")
    assert "every row" in one_class_statement("dnn", y, np.array([0.6, 0.7, 0.8, 0.9]), 0.5)
    assert one_class_statement("dnn", y, np.array([0.1, 0.2, 0.8, 0.1]), 0.5) is None
