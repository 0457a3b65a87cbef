"""conf/ is the single source: params.yaml must be exactly its composition."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.core.compose import compose
from pipeline.core.config import origin_root, repo_root

ROOT = Path(__file__).resolve().parents[2]


def test_params_yaml_is_the_composition_of_conf(tmp_path):
    fresh = compose(output=tmp_path / "params.yaml", root=ROOT)
    committed = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert committed == yaml.safe_load(fresh.read_text()), (
        "params.yaml has drifted from conf/: run `make params` and commit both"
    )


def test_override_reaches_composition(tmp_path):
    out = compose(["model.fault.max_epochs=7"], output=tmp_path / "p.yaml", root=ROOT)
    assert yaml.safe_load(out.read_text())["model"]["fault"]["max_epochs"] == 7


def test_origin_root_leaves_queued_experiment_copies(tmp_path):
    copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "abc123"
    copy.mkdir(parents=True)
    (copy / "dvc.yaml").write_text("stages: {}\n")
    assert repo_root(copy) == copy
    assert origin_root(copy) == tmp_path / "repo"


def test_a_mistyped_override_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="Could not override 'data.prices.sttart'"):
        compose(["data.prices.sttart=x"], output=tmp_path / "params.yaml")


def test_a_params_file_of_nested_aliases_is_refused_before_omegaconf_expands_it(tmp_path):
    """500 bytes that expand to 9**9 nodes: OmegaConf took 1.2 GB and a minute before giving up
    with a multi-line error; read within core/safe_yaml's bounds first, with or without overrides."""
    from pipeline.core.config import load_params
    from pipeline.core.validation import DataValidationError
    from tests.optimize.hostile_nets import billion_laughs

    path = tmp_path / "params.yaml"
    path.write_text(billion_laughs())
    for overrides in ([], ["optimize.presses=2"]):
        with pytest.raises(DataValidationError, match=r"params\.yaml: its YAML aliases expand to more than 200000"):
            load_params(path, overrides=overrides)


def test_the_bounded_reader_reads_every_yaml_of_the_project_as_pyyaml_does():
    """core/safe_yaml reads with libyaml where PyYAML has it: the same values as PyYAML's own
    safe loader on every YAML file the project ships (conf/, params.yaml, sidecars, plants)."""
    import yaml

    from pipeline.core.safe_yaml import YamlBounds, read_yaml
    from tests.conftest import ROOT

    bounds = YamlBounds("a project file", 2_000_000, 200_000, 30, "small", "a few")
    files = [p for pattern in ("conf/**/*.yaml", "params.yaml", "models/*.yaml", "*.yaml")
             for p in ROOT.glob(pattern) if p.is_file()]
    assert len(files) > 20
    for path in files:
        assert read_yaml(path, bounds) == yaml.safe_load(path.read_text()), path
