"""A demand shared by several rooms, bounded by its split over them (units_split.py): the max-plus
split against brute force; with one price for every cut it is the Lagrange bound again; and on a
plant of two rooms it never falls below a schedule's value."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.optimize.units_split import cut_values, max_plus


@pytest.mark.parametrize("seed", range(5))
def test_the_split_is_the_brute_force_maximum(seed):
    rng = np.random.default_rng(seed)
    D, R = 9, 3
    parts = [np.sort(rng.normal(size=D + 1))[::-1] * 10 for _ in range(R)]
    value, split = max_plus(parts, D)
    brute = max(sum(p[u] for p, u in zip(parts, us)) for us in itertools.product(range(D + 1), repeat=R)
                if sum(us) == D)
    assert value == pytest.approx(brute, abs=1e-12)
    assert sum(split) == D and sum(p[u] for p, u in zip(parts, split)) == pytest.approx(value, abs=1e-12)


def test_one_price_for_every_cut_gives_the_lagrange_bound_again():
    lam, D = 7.5, 40
    rooms = [[(100.0, lam)], [(55.0, lam)]]  # each room: its cuts (one price)
    value, _ = max_plus([cut_values(c, D) for c in rooms], D)
    assert value == pytest.approx(100.0 + 55.0 - lam * D)


def test_each_cut_bounds_where_it_holds():
    cuts = [(10.0, 2.0), (4.0, 0.5)]
    values = cut_values(cuts, 6)
    assert values.tolist() == [min(10 - 2 * u, 4 - 0.5 * u) for u in range(7)]


@pytest.mark.slow  # one room's one-model MILP: about 50 s on an idle machine
def test_two_rooms_split_bound_holds_the_optimum_of_a_split(opt_cfg):
    # two identical rooms of two different presses share a dear day's demand of 2 x 63 units; each
    # room held to 63 units at its exact optimum is a schedule of the plant, so the plant's bound
    # (with the split over the rooms) may not fall below twice that room's optimum
    from dataclasses import replace

    from omegaconf import OmegaConf

    from pipeline.optimize.decompose import PlantSchedule
    from pipeline.optimize.run import runner_for
    from tests.optimize.test_decompose import HETERO, _one_model, _setup
    from tests.optimize.test_demand_split import _in_plan_terms

    prices = [150.0, 190.0, 210.0]
    bounds = {}
    for split in (True, False):
        cfg = opt_cfg(["optimize.horizon_hours=3", "optimize.production.demand_per_day=1008", "optimize.parallel=none",
                       f"optimize.formulation.room_units_split={split}"], prices=prices)
        plant = {"rooms": [{**HETERO["rooms"][0], "name": f"R{i}",
                            "presses": [{**p, "name": f"{p['name']}{i}"} for p in HETERO["rooms"][0]["presses"]]}
                           for i in range(2)]}
        cfg = OmegaConf.merge(cfg, {"optimize": {"plant": plant}})
        inst, nets, costs = _setup(cfg)
        assert inst.demand == [126]
        plan = PlantSchedule.build(inst, nets, costs, cfg.optimize.formulation, runner_for(cfg, nets))
        blocks = plan.relaxation(costs, 0.0, 1e9, 1e-6)
        plan.tighten_rooms(blocks, replace(costs, unit_bonus=0.0), 0.0, 1e9)
        bounds[split] = blocks[0].bound
    one_cfg = OmegaConf.merge(opt_cfg(["optimize.horizon_hours=3", "optimize.production.demand_per_day=504",
                                       "optimize.parallel=none"], prices=prices), {"optimize": {"plant": HETERO}})
    inst1, nets1, costs1 = _setup(one_cfg)
    one = _one_model(one_cfg, inst1, nets1, costs1)
    assert one.gap <= 1e-4 and one.values["x"].sum() >= 63
    room = _in_plan_terms(PlantSchedule.build(inst1, nets1, costs1, one_cfg.optimize.formulation,
                                              runner_for(one_cfg, nets1)), one.values, costs1)
    assert bounds[True] >= 2 * room - 1e-9 * abs(room)
    assert bounds[True] <= bounds[False] + 1e-9 * abs(bounds[False])
