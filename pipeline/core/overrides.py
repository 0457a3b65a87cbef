"""A stage's command line: params.yaml with Hydra overrides, composed by Hydra, the same in every stage.

    python -m pipeline.optimize solver=gurobi costs.maintenance_scale=1.25   # a Hydra app (multirun too)
    python -m pipeline.data prices data/prices=csv data.prices.path=/abs/prices.csv --out /tmp/try
    python -m pipeline.fault model.fault.max_epochs=5

The primary config of every stage is `stage`, held in Hydra's ConfigStore and built from
params.yaml: each config group of conf/config.yaml's defaults list (data/fault, solver, ...) gets
an option `_params_` holding params.yaml's section, chosen by default; the keys outside the
groups (seed, paths) are the primary's own. So, with Hydra's grammar and nothing rewritten:
- `solver=gurobi` chooses conf/solver/gurobi.yaml for the whole `solver` section (as
  `dvc exp run -S solver=gurobi` does: the section is replaced, not merged);
- `costs.maintenance_scale=1.25` sets one key of params.yaml, `+key=value` adds one;
- a group inside a group's folder (optimize/plant) is choosable the same way: its part of the
  section (optimize.plant) is its `_params_` option, so `optimize/plant=mixed` replaces only it;
- without overrides the composition is params.yaml itself (tests/core/test_overrides.py).
Hydra's own files stay out of the repository (no .hydra/, no log file; multirun jobs under
multirun/optimize). `--config-path DIR --config-name NAME` (Hydra's flags) makes another file
the primary instead, as the sweep does with its params file: keys only, no group choices.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from pipeline.core.config import read_params_file

PRIMARY = "stage"
FROM_PARAMS = "params_yaml"  # the option of every group that holds params.yaml's section
HYDRA_SETTINGS = {"run": {"dir": "."}, "output_subdir": None,
                  "sweep": {"dir": "multirun/optimize/${now:%Y-%m-%d_%H-%M-%S}"}}


def config_groups(conf: Path) -> list[str]:
    """The config groups conf/config.yaml's defaults list chooses (data/fault, ..., live)."""
    defaults = yaml.safe_load((conf / "config.yaml").read_text()).get("defaults", [])
    return [next(iter(entry)) for entry in defaults if isinstance(entry, dict)]


def nested_groups(conf: Path, group: str) -> list[str]:
    """The groups inside a group's folder (optimize/plant in conf/optimize/plant/), chosen by its
    options' own defaults lists (conf/optimize/schedule.yaml: `plant: single`)."""
    folder = conf / group
    return [f"{group}/{d.name}" for d in sorted(folder.iterdir()) if d.is_dir() and any(d.glob("*.yaml"))] \
        if folder.is_dir() else []


def register(params_file: Path, conf: Path) -> None:
    """Put the primary config `stage` (params.yaml, its groups choosable) into Hydra's ConfigStore."""
    from hydra.core.config_store import ConfigStore

    params = OmegaConf.to_container(read_params_file(params_file))
    store = ConfigStore.instance()
    defaults: list = []
    for group in [g for top in config_groups(conf) for g in (*nested_groups(conf, top), top)]:  # a part before its section
        *parents, leaf = group.split("/")
        holder = params
        for key in parents:
            holder = holder.get(key, {}) if isinstance(holder, dict) else {}
        section = holder.pop(leaf, None) if isinstance(holder, dict) else None
        if section is None:
            defaults.append({group: None})  # absent from params.yaml: choosable, none by default
            continue
        store.store(group=group, name=FROM_PARAMS, node=section, package=".".join(group.split("/")))
        defaults.append({group: FROM_PARAMS})
    own = {k: v for k, v in params.items() if v != {}}  # parents left empty by the groups go
    hydra = {**HYDRA_SETTINGS, "searchpath": [f"file://{conf.resolve()}"]}
    store.store(name=PRIMARY, node={"defaults": [*defaults, {"override hydra/job_logging": "stdout"}, "_self_"],
                                    **own, "hydra": hydra})


def compose_overrides(params_file: Path, conf: Path, overrides: Sequence[str]) -> DictConfig:
    """params.yaml with `overrides` applied as Hydra applies them; an expected error (one line)
    for an override Hydra refuses."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    register(params_file, conf)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf.resolve()), version_base="1.3"):
            return compose(config_name=PRIMARY, overrides=list(overrides))
    except HydraException as exc:
        raise ValueError(f"command line `{' '.join(overrides)}`: {one_line(str(exc))}") from None


def check_single_run(argv: Sequence[str], params_file: Path, conf: Path) -> None:
    """For a Hydra app (the optimiser), before Hydra runs it: the overrides of a single run on
    `stage` composed once, so that one Hydra refuses is an expected error in one line (Hydra's own
    report spans several). Read with Hydra's own parser; multiruns and other primaries pass."""
    from hydra._internal.utils import get_args_parser

    args, _ = get_args_parser().parse_known_args(list(argv))
    if args.overrides and not (args.multirun or args.config_name or args.config_path or args.help or args.hydra_help
                               or args.cfg or args.info or args.shell_completion):
        compose_overrides(params_file, conf, args.overrides)


def one_line(text: str) -> str:
    """Hydra's several-line message as one line: without its full_key/object_type trailer and
    search path; the options of a group listed after its colon (never our params_yaml)."""
    text = text.split("Config search path:")[0].replace(f"In '{PRIMARY}': ", "")
    parts: list[str] = []
    options: list[str] | None = None
    for raw in text.splitlines():
        ln = raw.strip()
        if not ln or ln.startswith(("full_key:", "object_type=")):
            continue
        if options is not None and raw.startswith("\t"):
            options += [] if ln == FROM_PARAMS else [ln]
            continue
        if options is not None:
            parts[-1] += " " + ", ".join(options)
            options = None
        parts.append(ln.rstrip("."))
        if ln.startswith("Available options in"):
            options = []
    if options is not None:
        parts[-1] += " " + ", ".join(options)
    return "; ".join(parts)
