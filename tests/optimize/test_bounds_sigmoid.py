"""Neuron bounds, linear regions and the sigmoid PWL: valid, tight, within the stated error."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.relu_bounds import interval_bounds, tighten
from pipeline.optimize.network import load_fault_network
from pipeline.optimize.regions import linear_regions
from pipeline.optimize.sigmoid import build, sigmoid

LO, HI = np.array([18.0, 30.0]), np.array([30.0, 65.0])


@pytest.fixture
def folded(fault_onnx):
    net = load_fault_network(fault_onnx)
    return net.fold({"pressure_kN": 62.0, "speed_rpm": 758.0, "vibration_mm_s": 0.3, "maintenance_cycles": 2})


def _hidden(folded, pts):
    h, pre = pts, []
    for w, b in zip(folded.weights, folded.biases):
        z = h @ w + b
        pre.append(z)
        h = np.maximum(z, 0)
    return pre


def test_lp_bounds_are_valid_and_tighter_than_intervals(folded):
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(18, 30, 5000), rng.uniform(30, 65, 5000)])
    ib, lp, exact = interval_bounds(folded.weights, folded.biases, LO, HI), tighten(folded.weights, folded.biases, LO, HI), tighten(folded.weights, folded.biases, LO, HI, exact=True)
    for layer, values in enumerate(_hidden(folded, pts)):
        for b in (ib, lp, exact):
            assert np.all(values >= b.lower[layer] - 1e-7) and np.all(values <= b.upper[layer] + 1e-7)
    assert lp.count_unstable() < ib.count_unstable()
    assert exact.logit[1] - exact.logit[0] <= lp.logit[1] - lp.logit[0] + 1e-9
    # the exact (MILP) logit range is attained: the extremes of a piecewise-linear function lie
    # at vertices of its linear regions, computed independently by polygon splitting
    vertices = np.concatenate([r.vertices for r in linear_regions(folded, lp, LO, HI)])
    z = folded.logit(vertices)
    assert exact.logit == pytest.approx((z.min(), z.max()), abs=1e-6)


def test_linear_regions_partition_the_box_exactly(folded):
    regions = linear_regions(folded, tighten(folded.weights, folded.biases, LO, HI), LO, HI)
    areas = [0.5 * abs(np.dot(r.vertices[:, 0], np.roll(r.vertices[:, 1], -1))
                       - np.dot(r.vertices[:, 1], np.roll(r.vertices[:, 0], -1))) for r in regions]
    assert sum(areas) == pytest.approx((HI - LO).prod(), rel=1e-9)
    rng = np.random.default_rng(1)
    for p in np.column_stack([rng.uniform(18, 30, 300), rng.uniform(30, 65, 300)]):
        inside = [r for r in regions if np.all(r.A @ p <= r.c + 1e-7)]
        assert inside, p
        assert inside[0].grad @ p + inside[0].offset == pytest.approx(folded.logit(p[None])[0], abs=1e-9)


@pytest.mark.parametrize("lo,hi", [(-4.0, -1.0), (-2.5, 0.4), (-8.0, 3.0), (0.5, 2.0)])
@pytest.mark.parametrize("tol", [1e-3, 1e-4])
def test_sigmoid_pwl_is_an_underestimator_within_tolerance(lo, hi, tol):
    pwl = build(lo, hi, tol)
    z = np.linspace(lo, hi, 100_003)
    gap = sigmoid(z) - pwl(z)
    assert gap.min() >= -1e-12
    assert gap.max() <= pwl.error_bound <= tol
