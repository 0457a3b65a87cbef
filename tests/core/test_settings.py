"""Settings outside what their schema allows stop a stage when it loads its config, one line per
problem naming the key, the value and what is allowed; from any stage's command line too, without
a traceback (--debug shows it). The schemas: pipeline/core/settings/, one file per config group."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import yaml
from omegaconf import OmegaConf

from pipeline.core.compose import compose
from pipeline.core.config import load_params
from pipeline.core.overrides import config_groups
from pipeline.core.settings.every import SECTIONS
from pipeline.core.settings.schema import ConfigError, check
from tests.conftest import ROOT, make_cfg


@pytest.mark.parametrize("override, line", [
    # issue 21, "Settings"
    ("serve.port=70000", "serve.port = 70000: allowed a whole number from 1 to 65535"),
    ("serve.max_body_mb=-1", "serve.max_body_mb = -1: allowed a number > 0 and <= 1000"),
    ("data.fault.n_rows=10", "data.fault.n_rows = 10: allowed a whole number from 500 to 5000000 or null"),
    ("solver.threads=0", "solver.threads = 0: allowed a whole number from 1 to 256"),
    ("model.process.network.hidden=[]", "model.process.network.hidden = []: allowed a whole number from 1 to 4096 or null"),
    ("model.fault.network.hidden=[]",
     "model.fault.network.hidden = []: allowed a non-empty list of whole numbers from 1 to 100000 or null"),
    ("optimize.horizon_hours=10000",
     "optimize.horizon_hours = 10000: allowed a whole number from 1 to optimize.max_horizon_hours = 744"),
    # earlier rounds' cases (docs/bad_inputs.md)
    ("costs.maintenance_scale=-1", "costs.maintenance_scale = -1: allowed a number >= 0"),
    ("costs.penalty_per_failed_tablet=-200", "costs.penalty_per_failed_tablet = -200: allowed a number >= 0"),
    ("optimize.humidity_pct.initial=80",
     "optimize.humidity_pct.initial = 80.0: allowed at most optimize.humidity_pct.max = 65.0"),
    ("optimize.temperature_C.max=10", "optimize.temperature_C.min = 18.0: allowed below optimize.temperature_C.max = 10.0"),
    ("optimize.presses=0", "optimize.presses = 0: allowed a whole number from 1 to 1000"),
    ("optimize.horizon_hours=2.5", "optimize.horizon_hours = 2.5: allowed a whole number >= 1"),
    ("optimize.production.maintenance_hours=1.5",
     "optimize.production.maintenance_hours = 1.5: allowed a number from 0 to 1"),
    ("solver.time_limit_s=0", "solver.time_limit_s = 0: allowed a number > 0 and <= 604800"),
    ("solver.mip_rel_gap=1", "solver.mip_rel_gap = 1: allowed a number >= 0 and < 1"),
    ("solver.name=hihgs", "solver.name = 'hihgs': allowed one of highs, gurobi_direct, gurobi_persistent, auto"),
    ("sweep.scales=[0.5,-1]", "sweep.scales[1] = -1: allowed a number >= 0"),
    ("sweep.launcher=rai", "sweep.launcher = 'rai': allowed one of basic, parallel, ray, slurm, slurm_local "
                           "(conf/hydra/launcher/<name>.yaml)"),
    ("model.fault.split.train=0.9", "model.fault.split.val = 0.15: allowed below 1 - train = 0.1 (the rest is the test split)"),
    ("model.fault.max_epochs=0", "model.fault.max_epochs = 0: allowed a whole number from 1 to 10000"),
    ("data.inventory.generator.attendance=1.2",
     "data.inventory.generator.attendance = 1.2: allowed a number from 0 to 1"),
    ("model.fault.threshold.rule=best", "model.fault.threshold.rule = 'best': allowed one of fixed, f1, cost"),
    ("model.process.horizon=999", "model.process.horizon = 999: allowed one of horizons [6, 12]"),
    ("model.process.baselines.ar_lags=10000",
     "model.process.baselines.ar_lags = 10000: allowed a whole number from 1 to lookback = 36"),
    # the knobs issues 21, 23, 25 and 26 added (their config_checks blocks, now fields of the schemas)
    ("serve.workers=0", "serve.workers = 0: allowed a whole number from 1 to 64"),
    ("serve.threads=65", "serve.threads = 65: allowed a whole number from 1 to 64"),
    ("serve.max_body_mb=2000", "serve.max_body_mb = 2000: allowed a number > 0 and <= 1000"),
    ("serve.auth.open=yes", "serve.auth.open = 'yes': allowed true or false"),
    ("serve.limits.days_after_log=400", "serve.limits.days_after_log = 400: allowed a whole number from 0 to 365"),
    ("serve.limits.max_amount_per_day=0", "serve.limits.max_amount_per_day = 0: allowed a number > 0 and <= 1e+12"),
    ("serve.limits.max_experiments_per_day=0",
     "serve.limits.max_experiments_per_day = 0: allowed a whole number from 1 to 1000000"),
    ("serve.limits.max_stock=1e16", "serve.limits.max_stock = 1e+16: allowed a number > 0 and <= 1e+15"),
    ("serve.limits.max_error_rows=0", "serve.limits.max_error_rows = 0: allowed a whole number from 1 to 10000"),
    ("data.inventory.max_id=0", "data.inventory.max_id = 0: allowed a whole number >= 1"),
    ("optimize.max_abs_weight=0", "optimize.max_abs_weight = 0: allowed a number > 0"),
    # issue 24 (a plant of different presses): the plant's knobs (its rooms' and presses' own keys are
    # checked by pipeline/optimize/plant.py, tests/optimize/test_plant.py)
    ("optimize.parallel=threads", "optimize.parallel = 'threads': allowed one of none, joblib, ray"),
    ("optimize.workers=0", "optimize.workers = 0: allowed a whole number from 1 to 256"),
    ("optimize.workers=300", "optimize.workers = 300: allowed a whole number from 1 to 256"),
    ("optimize.search.dp_cells=1", "optimize.search.dp_cells = 1: allowed a whole number from 2 to 65536"),
    ("optimize.search.day_dp=maybe", "optimize.search.day_dp = 'maybe': allowed true or false"),
    ("optimize.plant_file=''", "optimize.plant_file = '': allowed a text (not empty) or null"),
    ("optimize.ray_address=''", "optimize.ray_address = '': allowed a text (not empty) or null"),
    ("live.security.policy=none", "live.security.policy = 'none': allowed one of Basic256Sha256, None"),
    ("live.security.mode=Encrypt", "live.security.mode = 'Encrypt': allowed one of SignAndEncrypt, Sign"),
    ("data.line.product=code", "data.line.product = 'code': allowed null or one of the layout's segment columns []"),
    ("model.process.select.cv=kfold", "model.process.select.cv = 'kfold': allowed one of leave_one_out, rolling"),
    ("model.process.select.lstm_folds=0", "model.process.select.lstm_folds = 0: allowed a whole number >= 1"),
    ("model.process.select.early_stop_share=1",
     "model.process.select.early_stop_share = 1: allowed a number > 0 and < 1"),
    ("model.process.select.time_blocks=1", "model.process.select.time_blocks = 1: allowed a whole number >= 2"),
    ("model.process.split.test_batches=0", "model.process.split.test_batches = 0: allowed a whole number >= 1"),
    ("model.process.baselines.ar_level=mean",
     "model.process.baselines.ar_level = 'mean': allowed one of window, fitted"),
    ("model.process.baselines.recent_s=-1", "model.process.baselines.recent_s = -1: allowed a number >= 0"),
    ("model.process.network.context=local",
     "model.process.network.context = 'local': allowed one of global, window or null"),
    ("model.process.network.level_steps=99",
     "model.process.network.level_steps = 99: allowed a whole number from 1 to lookback = 36"),
    ("model.process.shift.level_sigma=0", "model.process.shift.level_sigma = 0: allowed a number > 0"),
    ("model.process.shift.spread_ratio=1", "model.process.shift.spread_ratio = 1: allowed a number > 1"),
    ("model.process.shift.min_running_steps=0",
     "model.process.shift.min_running_steps = 0: allowed a whole number >= 1"),
    ("replan.triggers.probability_change=1",
     "replan.triggers.probability_change = 1: allowed a number > 0 and < 1"),
    ("replan.triggers.price_change=0", "replan.triggers.price_change = 0: allowed a number > 0"),
    ("replan.triggers.debounce_s=-1", "replan.triggers.debounce_s = -1: allowed a number >= 0"),
    ("replan.solve.time_limit_s=0", "replan.solve.time_limit_s = 0: allowed a number > 0"),
    ("replan.line.tick_s=7", "replan.line.tick_s = 7: allowed a whole number of seconds > 0 that divides 3600"),
    ("replan.line.tick_s=7200", "replan.line.tick_s = 7200: allowed a whole number from 1 to 3600"),
    ("replan.line.noise.vibration_mm_s=-1", "replan.line.noise.vibration_mm_s = -1: allowed a number >= 0"),
    ("replan.line.scenario=quake", "replan.line.scenario = 'quake': allowed one of the scenarios calm, drift, stop, "
                                   "spike, early_maintenance, combined, plant"),
    ("tracking.registry.audit_experiment=''", "tracking.registry.audit_experiment = '': allowed a text (not empty)"),
    # wrong types and typos
    ("seed=true", "seed = true: allowed a whole number from 0 to 4294967295"),
    ("optimize.horizon_hours=abc", "optimize.horizon_hours = 'abc': allowed a whole number >= 1"),
    ("+optimize.horizon_hourz=3", "optimize.horizon_hourz = 3: unknown key (did you mean optimize.horizon_hours?)"),
    ("+model.fault.optimizer.lrr=0.1",
     "model.fault.optimizer.lrr = 0.1: unknown argument of torch.optim.Adam (did you mean lr?)"),
    ("model.fault.optimizer._target_=torch.optim.Adamm",
     "model.fault.optimizer._target_ = 'torch.optim.Adamm': allowed an importable class or function (module.Name)"),
])
def test_a_bad_setting_is_one_line_naming_key_value_and_range(override, line):
    with pytest.raises(ConfigError) as err:
        load_params(ROOT / "params.yaml", SECTIONS, [override])
    assert str(err.value).splitlines() == [f"params.yaml + overrides: {one}"
                                           for one in ([line] if isinstance(line, str) else line)]


def test_a_value_conf_derives_from_another_is_checked_where_it_lands(tmp_path):
    """Composed from conf/ (as `dvc exp run -S` does), an interpolation carries a bad value into
    the keys derived from it, and each is named."""
    with pytest.raises(ConfigError) as err:
        make_cfg(tmp_path, ["costs.penalty_per_failed_tablet=-200"])
    assert str(err.value).splitlines() == [
        "params.yaml: model.fault.threshold.penalty = -200: allowed a number >= 0",
        "params.yaml: costs.penalty_per_failed_tablet = -200: allowed a number >= 0"]


def test_a_config_group_option_gets_its_own_checks(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.prices\.timezone = 'Mars/Olympus': allowed an IANA time zone"):
        make_cfg(tmp_path, ["data/prices=csv", "data.prices.path=/x.csv", "data.prices.timezone=Mars/Olympus"])
    with pytest.raises(ConfigError, match=r"data\.fault\.valid_ranges\.humidity_pct = \[100, 0\]: allowed \[low, high\]"):
        make_cfg(tmp_path, ["data/fault=file", "data.fault.path=/x.csv", "data.fault.valid_ranges.humidity_pct=[100,0]"])
    with pytest.raises(ConfigError, match=r"data\.fault\.unit_factors\.pressure_kN = -0.001: allowed a number > 0"):
        make_cfg(tmp_path, ["data/fault=file", "data.fault.path=/x.csv", "data.fault.unit_factors.pressure_kN=-0.001"])
    with pytest.raises(ConfigError, match=r"^params.yaml: data\.fault\.path = \?\?\?: not set"):
        make_cfg(tmp_path, ["data/fault=file"])
    with pytest.raises(ConfigError, match=r"^params.yaml: data\.inventory\.path = null: required when source is file$"):
        make_cfg(tmp_path, ["data/inventory=file"])
    with pytest.raises(ConfigError, match=r"data\.prices\.file_timezone = 'Mars/Base': allowed an IANA time zone"):
        make_cfg(tmp_path, ["data/prices=csv", "data.prices.path=/x.csv", "data.prices.file_timezone=Mars/Base"])
    with pytest.raises(ConfigError, match=r"data\.prices\.stamp_marks = 'middle': allowed one of start, end$"):
        make_cfg(tmp_path, ["data/prices=caiso", "data.prices.path=/x.csv", "data.prices.stamp_marks=middle"])
    with pytest.raises(ConfigError, match=r"data\.prices\.partial_hour = 'drop': allowed one of quarantine, error$"):
        make_cfg(tmp_path, ["data/prices=csv", "data.prices.path=/x.csv", "data.prices.partial_hour=drop"])


@pytest.mark.parametrize("overrides", [[], ["data/fault=file", "data.fault.path=/x.csv"], ["data/fault=kaggle",
                          "data.fault.path=/x.csv"], ["data/line=workbook", "data.line.path=/x.xlsx"],
                          ["data/line=press_10s"], ["data/inventory=file", "data.inventory.path=/x.csv"],
                          ["data/inventory=shared_sample"], ["data/prices=caiso", "data.prices.path=/x.csv"],
                          ["data/prices=csv", "data.prices.path=/x.csv"], ["solver=gurobi"], ["solver=auto"],
                          ["optimize/plant=mixed"]])
def test_every_option_of_every_group_passes_its_schema(tmp_path, overrides):
    check(OmegaConf.load(compose(overrides, output=tmp_path / "p.yaml", root=ROOT)), SECTIONS)


def test_one_schema_per_config_group_and_every_section_checked():
    """SECTIONS names every section of params.yaml: each config group of conf/config.yaml and its own keys."""
    own = [k for k in yaml.safe_load((ROOT / "conf" / "config.yaml").read_text()) if k != "defaults"]
    groups = [g.replace("/", ".") for g in config_groups(ROOT / "conf")]
    assert sorted(SECTIONS) == sorted(groups + own)
    params = OmegaConf.load(ROOT / "params.yaml")
    top = {key.split(".")[0] for key in SECTIONS}
    assert set(params) == top
    for group in groups:
        module = importlib.import_module(f"pipeline.core.settings.{group.replace('.', '_')}")
        assert SECTIONS[group].__module__ == module.__name__, f"{group}'s schema is not in its own file"


STAGE_SETTINGS = {
    "prepare_fault": "pipeline.data.fault", "prepare_line": "pipeline.data.line",
    "prepare_inventory": "pipeline.data.inventory", "prepare_prices": "pipeline.data.prices",
    "train_fault": "pipeline.fault.__main__", "train_process": "pipeline.process.__main__",
    "optimize": "pipeline.optimize.__main__", "sweep": "pipeline.sweep.__main__", "report": "pipeline.report.__main__",
}


@pytest.mark.parametrize("stage, module", STAGE_SETTINGS.items())
def test_a_stage_checks_every_section_dvc_says_it_reads(stage, module):
    params = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]["params"]
    checked = importlib.import_module(module).SETTINGS
    for key in (p for p in params if isinstance(p, str)):
        assert any(key == s or key.startswith(f"{s}.") for s in checked), f"{stage} reads {key} unchecked"


def test_train_inventory_checks_what_it_reads():
    from pipeline.inventory.__main__ import SETTINGS

    params = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["train_inventory"]["params"]
    # the bundle carries the loader's rules (issue 21): data.inventory's keys, checked with their section
    for key in params:
        assert any(key == s or key.startswith(f"{s}.") for s in SETTINGS["train"]), f"train_inventory reads {key} unchecked"


def _stage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_the_optimiser_says_so_in_one_line_without_a_traceback():
    done = _stage("pipeline.optimize", "solver.name=hihgs", "costs.maintenance_scale=-1")
    assert done.returncode == 1
    assert done.stderr.splitlines()[:3] == [
        "optimize: error: optimize config: costs.maintenance_scale = -1: allowed a number >= 0",
        "optimize: error: optimize config: solver.name = 'hihgs': allowed one of highs, gurobi_direct, "
        "gurobi_persistent, auto",
        "optimize: (run with --debug or PIPELINE_DEBUG=1 for the traceback)"]
    assert "Traceback" not in done.stderr
    debug = _stage("pipeline.data", "prices", "--debug", "optimize.horizon_hours=0")  # a lighter stage, the same cli.py
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ConfigError" in debug.stderr


def test_an_override_hydra_refuses_is_one_line_too():
    done = _stage("pipeline.optimize", "optimize.horizon_hourz=3")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "optimize: error: command line `optimize.horizon_hourz=3`: Could not override 'optimize.horizon_hourz'; "
        "To append to your config use +optimize.horizon_hourz=3",
        "optimize: (run with --debug or PIPELINE_DEBUG=1 for the traceback)"]
    from pipeline.data.__main__ import config

    with pytest.raises(ValueError) as err:  # every other stage: the same composition, in process here
        config("prices", None, ["data/prices=csvv"])
    assert str(err.value) == ("command line `data/prices=csvv`: Could not find 'data/prices/csvv'; "
                              "Available options in 'data/prices': caiso, caiso_2021_mean_day, csv")


def test_the_service_refuses_a_port_out_of_range_before_it_loads_anything():
    done = _stage("pipeline.inventory", "serve", "--port", "70000")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0] == ("inventory service: error: params.yaml + overrides: serve.port = 70000: "
                                           "allowed a whole number from 1 to 65535")
