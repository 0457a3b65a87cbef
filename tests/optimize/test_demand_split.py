"""A binding demand bounded by its exact split over production levels (demand_split.py): the
split is the best capped sum (against brute force), the levels keep every rounded schedule, and
on identical presses whose demand stops inside an hour the bound holds the one-model optimum
while it is tighter than the Lagrange price's."""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from pipeline.optimize.decompose import PlantSchedule
from pipeline.optimize.demand_split import choice, final, lagrange_levels, level_size, levels_needed, split
from pipeline.optimize.run import runner_for
from pipeline.optimize.verify import verify
from tests.optimize.test_decompose import _decomposed, _one_model, _setup


def test_the_split_is_the_best_capped_sum():
    rng = np.random.default_rng(3)
    K = 6
    for _ in range(20):
        values = [(rng.normal(size=K + 1), rng.normal(size=K + 1)) for _ in range(3)]
        values[1][0][rng.integers(0, K + 1)] = -np.inf   # a level a unit cannot make
        stages = split(values, K)
        for level, flag in itertools.product((K - 1, K), (0, 1)):
            # brute force: every unit's levels, and which one (if any: flag) holds the partial hour
            brute = max(sum(v[int(i == holder)][j] for i, (v, j) in enumerate(zip(values, js)))
                        for js in itertools.product(range(K + 1), repeat=3)
                        for holder in ((0, 1, 2) if flag else (-1,))
                        if (sum(js) >= K if level == K else sum(js) == level))
            assert stages[-1][flag][level] == pytest.approx(brute, rel=1e-12)
            picked = choice(stages, values, level, flag)
            assert min(sum(j for j, _ in picked), K) == level and sum(own for _, own in picked) == flag
            assert sum(v[own][j] for v, (j, own) in zip(values, picked)) == pytest.approx(brute, rel=1e-12)


@pytest.mark.parametrize("demand", [1, 17, 18, 19, 100, 175, 1800])
def test_levels_and_the_remainder_hold_the_demand_and_the_price(demand):
    g = level_size([36, 18, 54])
    K, r = levels_needed(demand, g)
    assert g == 18 and (K - 1) * g < demand <= K * g and r == demand % g
    # with Lagrange level bounds alone the split is the Lagrange bound UB - lam D again
    W0, W1 = lagrange_levels([(3.0, 100.0)], g, K), lagrange_levels([(3.0, 100.0)], g, K, r)
    bound, _ = final(split([(W0, W1 if r else None)], K), K)
    assert bound == pytest.approx(100.0 - 3.0 * demand, rel=1e-12)


def _in_plan_terms(plan: PlantSchedule, values: dict, costs) -> float:
    """A schedule's value with the decomposition's own p (its PWL sigmoid) at its setpoints and counts."""
    values = {k: np.array(v, copy=True) for k, v in values.items()}
    for unit in plan.units:
        for k in unit.rows:
            values["p"][k] = plan.p_at(unit.group, int(values["N"][k, 0]), values["T"][0], values["H"][0])
    return plan.value(values, costs)


@pytest.mark.slow  # the one-model MILP of two presses: about 10 s on an idle machine
def test_the_split_bound_holds_the_one_model_optimum_and_beats_the_price(opt_cfg):
    # two identical presses, 4 dear hours (production loses money: the demand binds), 175 units:
    # 2.43 hours of both (not whole levels of 18 either), so the demand stops inside an hour whose room energy the plan pays whole
    cfg = opt_cfg(["optimize.horizon_hours=4", "optimize.presses=2", "optimize.production.demand_per_day=1050",
                   "optimize.parallel=none", "solver.mip_rel_gap=1e-6"], prices=[150.0, 190.0, 210.0, 170.0])
    inst, nets, costs = _setup(cfg)
    assert inst.demand[0] == 175
    plan = PlantSchedule.build(inst, nets, costs, cfg.optimize.formulation, runner_for(cfg, nets))
    blocks = plan.relaxation(costs, 0.0, 1e9, 1e-6)
    lagrange = blocks[0].bound
    report = plan.split_demand(blocks, replace(costs, unit_bonus=0.0), 1e18)
    bound = blocks[0].bound
    assert report and report[0]["level"] == 18 and report[0]["level_dps"] >= 1
    one = _one_model(cfg, inst, nets, costs)
    assert one.gap <= 1e-6 and one.values["x"].sum() >= 175
    best = _in_plan_terms(plan, one.values, costs)   # the room's optimum in the bound's own terms
    assert bound >= best - 1e-9 * abs(best)
    assert bound >= verify(inst, nets, one, costs, cfg.optimize).objective_true
    assert bound <= best + 1e-4 * abs(best)          # and close to it: the price's duality gap is gone
    assert lagrange > bound + 100.0                  # (the price alone: 150 USD above)
    _, decomposed = _decomposed(cfg, inst, nets, costs)   # the plant's solve uses it
    verify(inst, nets, decomposed, costs, cfg.optimize)
    assert decomposed.bound <= bound + 1e-9 * abs(bound) and decomposed.gap <= 1e-4
