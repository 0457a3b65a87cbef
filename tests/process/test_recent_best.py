"""The recent-best forecaster: per window, the baseline whose recent realised forecasts were
closest; numpy (scores, selection) and the graph (the deployed model) agree; a stop in the
window does not count; a batch that drifts gets the AR, one that is noise the moving average."""
from __future__ import annotations

import numpy as np
import torch

from pipeline.process import baselines
from pipeline.process.recent_best import RecentBest, RecentBestModule, producing, span
from pipeline.process.states import StateRule

RULE = StateRule("speed", 1.0, 50.0, 0.0, 60.0, 30.0, "force", 1.0)


def _series(n: int = 1200, seed: int = 0):
    """Channels speed, force, x: force is noise for 600 steps, then a drifting random walk; a stop at 300."""
    rng = np.random.default_rng(seed)
    noise = 10 + rng.normal(0, 1, 600)
    walk = 10 + np.cumsum(rng.normal(0, 0.5, n - 600))
    force = np.concatenate([noise, walk])
    speed = np.full(n, 100.0)
    speed[300:330], force[300:330] = 0.0, 0.0
    return np.column_stack([speed, force, rng.normal(size=n)]).astype(np.float32)


def _forecaster(values, horizons=(2, 5), history=40):
    y = values[:, [1]].astype(np.float64)
    ends = np.arange(60, 500)
    filters = baselines.fit_all(y, ends, list(horizons), 12, 12, 6, "window")
    fallback = np.zeros((len(horizons), 1), int)
    used = 12
    return (y, RecentBest(list(filters.values()), list(horizons), history, used, fallback),
            RecentBestModule(list(filters.values()), list(horizons), history, used, fallback, [1], ["speed", "force", "x"],
                             RULE))


def test_numpy_and_the_graph_agree():
    values = _series()
    y, rb, module = _forecaster(values)
    L = span(12, [2, 5], 40)
    ends = np.arange(L - 1, len(values) - 5, 7)
    ok = producing(values, ["speed", "force", "x"], RULE)
    got = rb.predict(y, ends, ok)
    with torch.no_grad():
        graph = module(torch.from_numpy(values[ends[:, None] + np.arange(-L + 1, 1)])).numpy()
    np.testing.assert_allclose(graph, got, rtol=1e-4, atol=1e-3)


def test_a_drifting_stretch_gets_the_ar_and_a_noisy_one_the_moving_average():
    values = _series()
    y, rb, _ = _forecaster(values)
    ok = producing(values, ["speed", "force", "x"], RULE)
    mae = {}
    for name, ends in (("noise", np.arange(400, 590)), ("walk", np.arange(700, 1190))):
        truth = y[ends + 5, 0]
        mae[name] = {"recent": np.abs(rb.predict(y, ends, ok)[:, 1, 0] - truth).mean(),
                     **{f.name: np.abs(f.predict(y, ends)[:, 1, 0] - truth).mean() for f in rb.candidates}}
    assert mae["noise"]["moving_average"] < mae["noise"]["persistence"]
    assert mae["noise"]["recent"] < 1.05 * min(mae["noise"].values())
    assert mae["walk"]["recent"] < 1.05 * min(mae["walk"].values())


def test_a_window_without_a_producing_origin_takes_the_fallback():
    values = _series()
    values[:, 0] = 0.0  # never producing
    y, rb, module = _forecaster(values)
    ends = np.arange(400, 420)
    ok = producing(values, ["speed", "force", "x"], RULE)
    assert not ok.any()
    np.testing.assert_allclose(rb.predict(y, ends, ok), rb.candidates[0].predict(y, ends))  # fallback 0: persistence


def test_the_deployed_model_with_the_recent_best_rebuilds_from_its_weights():
    from omegaconf import OmegaConf

    from pipeline.contracts.process_model import validate_metadata
    from pipeline.process.model import (USE_LSTM, USE_RECENT, BaseFilter, DeployedForecaster, LSTMEnsemble,
                                        RawUnitsForecaster, build_network, load_deployed)

    values = _series()
    y, rb, module = _forecaster(values)
    mc = OmegaConf.create({"lookback": 12, "horizons": [2, 5], "network": {
        "_target_": "pipeline.process.model.LSTMNet", "hidden": 4, "layers": 1, "dropout": 0.0}})
    channels = ["speed", "force", "x"]
    base = BaseFilter(rb.candidates[1], [1])
    ones = np.ones(3, np.float32)
    lstm = RawUnitsForecaster(build_network(mc, 3, [1], base=base), ones, ones, ones[:1], ones[:1])
    use = np.array([[USE_RECENT], [USE_LSTM]])
    model = DeployedForecaster(LSTMEnsemble([lstm]), BaseFilter(rb.candidates[0], [1]), use, module).eval()
    meta = validate_metadata({"channels": channels, "targets": ["force"], "horizons": [2, 5], "horizon": 5,
                              "lookback": span(12, [2, 5], 40), "period_s": 5.0, "golden": {"channels": channels},
                              "warnings": {"horizon": 2}, "recent_best": {"history": 40, "used": 12,
                                                                          "candidates": ["a", "b", "c"]}}, "m.onnx")
    again = load_deployed(mc, meta, model.state_dict())
    window = torch.from_numpy(values[None, 700 - meta.lookback + 1: 701])
    with torch.no_grad():
        np.testing.assert_allclose(again(window).numpy(), model(window).numpy(), rtol=1e-6)
        assert model(window)[0, 0, 0] == module(window)[0, 0, 0]  # the recent-best's entry
