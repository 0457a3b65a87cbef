"""A stage's command line (pipeline/core/overrides.py): params.yaml with Hydra overrides, the
same in every stage, nothing rewritten."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from pipeline.core.config import load_params
from pipeline.core.overrides import check_single_run, compose_overrides, config_groups, one_line
from tests.conftest import ROOT

CONF = ROOT / "conf"


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    """A params file that differs from conf/'s composition, as an experiment's does."""
    cfg = OmegaConf.load(ROOT / "params.yaml")
    cfg.costs.maintenance_scale = 1.3
    cfg.data.inventory.days = 200
    path = tmp_path_factory.mktemp("exp") / "params.yaml"
    OmegaConf.save(cfg, path)
    return path


def plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)


def test_without_overrides_the_composition_is_the_params_file_itself(params):
    composed = compose_overrides(params, CONF, ["seed=42"])
    assert plain(composed) == plain(OmegaConf.load(params))
    assert list(composed) == list(OmegaConf.load(params))  # the same order of sections


def test_a_key_override_changes_that_key_of_the_params_file(params):
    composed = compose_overrides(params, CONF, ["costs.temperature_scale=0.5"])
    assert composed.costs.temperature_scale == 0.5
    assert composed.costs.maintenance_scale == 1.3          # the params file's, not conf/'s
    assert composed.data.inventory.days == 200


def test_a_group_option_replaces_the_whole_section_as_dvc_exp_run_does(params):
    composed = compose_overrides(params, CONF, ["data/inventory=shared_sample", "solver=gurobi"])
    shared = OmegaConf.load(CONF / "data" / "inventory" / "shared_sample.yaml")
    assert sorted(composed.data.inventory.chemicals) == sorted(shared.chemicals)   # not merged with the generated 9
    assert composed.data.inventory.generator is None
    assert composed.solver.name == "gurobi_direct"
    assert composed.costs.maintenance_scale == 1.3          # the other sections stay the params file's


def test_adding_a_key_and_an_experiment_work_as_in_hydra(params):
    composed = compose_overrides(params, CONF, ["+experiment=tiny", "+costs.note=x"])
    assert composed.optimize.horizon_hours == 3 and composed.costs.note == "x"


@pytest.mark.parametrize("override, says", [
    ("optimize.horizon_hourz=3", "Could not override 'optimize.horizon_hourz'; To append to your config use "
                                 "+optimize.horizon_hourz=3"),
    ("solver=gurobbi", "Could not find 'solver/gurobbi'; Available options in 'solver': auto, gurobi, highs"),
    ("solver.threads=[1", "no viable alternative at input '[1'"),
])
def test_an_override_hydra_refuses_is_one_line(params, override, says):
    with pytest.raises(ValueError) as err:
        compose_overrides(params, CONF, [override])
    assert "\n" not in str(err.value) and str(err.value).startswith(f"command line `{override}`: {says}")


def test_the_optimisers_single_run_is_checked_before_hydra_runs_it(params):
    with pytest.raises(ValueError, match="solver/gurobbi"):
        check_single_run(["solver=gurobbi"], params, CONF)
    check_single_run(["-m", "costs.maintenance_scale=0.5,1.5"], params, CONF)   # a sweep: Hydra's own
    check_single_run(["--config-path", "/x", "--config-name", "params", "solver=whatever"], params, CONF)


def test_every_group_of_conf_is_choosable():
    assert config_groups(CONF)[:2] == ["data/fault", "data/line"] and "solver" in config_groups(CONF)


def test_load_params_with_overrides_checks_the_result(params):
    from pipeline.core.settings import serve
    from pipeline.core.settings.schema import ConfigError

    assert load_params(params, {"serve": serve.Serve}, ["serve.port=8001"]).serve.port == 8001
    with pytest.raises(ConfigError, match=r"^params.yaml \+ overrides: serve.port = 0: allowed a whole number"):
        load_params(params, {"serve": serve.Serve}, ["serve.port=0"])


def test_one_line_keeps_what_hydra_says_and_drops_its_trailer():
    text = "Could not find 'x/y'\n\nAvailable options in 'x':\n\tparams_yaml\n\ta\n\tb\nConfig search path:\n\tfoo"
    assert one_line(text) == "Could not find 'x/y'; Available options in 'x': a, b"
