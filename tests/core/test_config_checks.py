"""Settings outside their physical range stop a stage when it loads its config, with one line per
problem naming the key, the value and what is allowed; the optimiser's command line too, without
a traceback (--debug shows it)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from pipeline.core.compose import compose
from pipeline.core.config_checks import RULES, ConfigError, Number, Choice, Pair, TimeZone, _leaves, _matches, problems
from pipeline.optimize.solve import SOLVERS
from tests.conftest import ROOT, make_cfg


@pytest.mark.parametrize("override, line", [
    ("costs.maintenance_scale=-1", "costs.maintenance_scale = -1: allowed a number >= 0"),
    ("costs.penalty_per_failed_tablet=-200", "costs.penalty_per_failed_tablet = -200: allowed a number >= 0"),
    ("optimize.humidity_pct.initial=80", "optimize.humidity_pct.initial = 80 must be at most optimize.humidity_pct.max = 65.0"),
    ("optimize.temperature_C.max=10", "optimize.temperature_C.min = 18.0 must be below optimize.temperature_C.max = 10"),
    ("optimize.presses=0", "optimize.presses = 0: allowed a whole number >= 1"),
    ("optimize.horizon_hours=2.5", "optimize.horizon_hours = 2.5: allowed a whole number >= 1"),
    ("optimize.production.maintenance_hours=1.5", "optimize.production.maintenance_hours = 1.5: allowed a number >= 0 and <= 1"),
    ("solver.time_limit_s=0", "solver.time_limit_s = 0: allowed a number > 0"),
    ("solver.mip_rel_gap=1", "solver.mip_rel_gap = 1: allowed a number >= 0 and < 1"),
    ("sweep.scales=[0.5,-1]", "sweep.scales = [0.5, -1]: allowed a list of numbers, each >= 0"),
    ("model.fault.split.train=0.9", "model.fault.split.train + model.fault.split.val = 1.05: allowed below 1"),
    ("model.fault.max_epochs=0", "model.fault.max_epochs = 0: allowed a whole number >= 1"),
    ("data.fault.n_rows=0", "data.fault.n_rows = 0: allowed a whole number >= 1"),
    ("data.inventory.generator.attendance=1.2", "data.inventory.generator.attendance = 1.2: allowed a number >= 0 and <= 1"),
    ("model.fault.threshold.rule=best", "model.fault.threshold.rule = 'best': allowed one of fixed, f1, cost"),
])
def test_a_bad_setting_is_one_line_naming_key_value_and_range(tmp_path, override, line):
    with pytest.raises(ConfigError) as err:
        make_cfg(tmp_path, [override])
    assert str(err.value).splitlines() == [f"params.yaml: {line}"]


def test_a_config_group_option_gets_its_own_checks(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.prices\.timezone = 'Mars/Olympus': allowed an IANA time zone"):
        make_cfg(tmp_path, ["data/prices=csv", "data.prices.path=/x.csv", "data.prices.timezone=Mars/Olympus"])
    with pytest.raises(ConfigError, match=r"data\.fault\.valid_ranges\.humidity_pct = \[100, 0\]: allowed \[low, high\]"):
        make_cfg(tmp_path, ["data/fault=file", "data.fault.path=/x.csv", "data.fault.valid_ranges.humidity_pct=[100,0]"])
    with pytest.raises(ConfigError, match=r"data\.fault\.unit_factors\.pressure_kN = -0.001: allowed a number > 0"):
        make_cfg(tmp_path, ["data/fault=file", "data.fault.path=/x.csv", "data.fault.unit_factors.pressure_kN=-0.001"])


def test_unknown_solver_names_are_listed_with_the_known_ones(tiny_cfg):
    cfg = OmegaConf.merge(tiny_cfg, {"solver": {"name": "hihgs"}})
    assert problems(cfg, {"solver.name": SOLVERS}) == [
        "solver.name = 'hihgs': allowed one of highs, gurobi_direct, gurobi_persistent, auto"]


def test_every_rule_reaches_a_key_of_some_config(tmp_path):
    """A rule whose key was renamed in conf/ would check nothing: each matches a composed config."""
    configs = [[], ["data/fault=file", "data.fault.path=/x"], ["data/prices=csv", "data.prices.path=/x"],
               ["data/line=press_10s"]]
    keys = set()
    for i, overrides in enumerate(configs):
        out = compose(overrides, output=tmp_path / f"p{i}.yaml", root=ROOT)
        keys |= set(_leaves(OmegaConf.to_container(OmegaConf.load(out), resolve=True)))
    for rule in RULES:
        patterns = [rule.pattern] if isinstance(rule, (Number, Choice, Pair, TimeZone)) else \
            list(getattr(rule, "keys", ())) or [rule.low_key, rule.high_key]
        for pattern in patterns:
            assert _matches(pattern, keys), f"config rule {rule} matches no key of conf/"


def _optimize(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.optimize", *args], cwd=ROOT, capture_output=True, text=True)


def test_the_optimiser_says_so_in_one_line_without_a_traceback():
    done = _optimize("solver.name=hihgs", "costs.maintenance_scale=-1")
    assert done.returncode == 1
    assert done.stderr.splitlines()[:3] == [
        "optimize: error: optimize config: costs.maintenance_scale = -1: allowed a number >= 0",
        "optimize: error: optimize config: solver.name = 'hihgs': allowed one of highs, gurobi_direct, "
        "gurobi_persistent, auto",
        "optimize: (run with --debug or PIPELINE_DEBUG=1 for the traceback)"]
    assert "Traceback" not in done.stderr
    debug = _optimize("--debug", "solver.name=hihgs")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ConfigError" in debug.stderr
