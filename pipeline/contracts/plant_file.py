"""Where a plant description comes from, read once for everyone who plays or plans it: the
optimiser's plant reader (pipeline/optimize/plant.py, which checks every key) and the scripted
press server (pipeline/contracts/press_signals.line_presses, which plays its presses).

A plant is conf's `optimize.plant` (the config group optimize/plant) or, when set, the file
`optimize.plant_file` (an absolute path): a YAML mapping with `rooms`, read within PLANT_BOUNDS
(pipeline/core/safe_yaml.py: a 500-byte file of nested aliases would otherwise take gigabytes
the moment a message shows one of its values).
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pipeline.core.safe_yaml import YamlBounds, read_yaml
from pipeline.core.validation import DataValidationError

MAX_PLANT_BYTES = 1_000_000   # a plant file is a few kB; anything larger is not one
PLANT_BOUNDS = YamlBounds("a plant description", MAX_PLANT_BYTES,
                          max_nodes=100_000,  # 200 presses of ~30 nodes each, with room to spare
                          max_depth=20,       # a plant nests 5 levels (rooms, a room, presses, a press, its inputs)
                          usual_size="a few kB", usual_nodes="a few hundred")


MAX_PRESSES = 200             # physical presses (counts included) a plant may hold


class PlantError(ValueError):
    """A plant that cannot be used, in one line naming the plant, the room or press and the key."""


def read_plant_file(path: str | Path) -> object:
    """The document of a plant file, with one-line errors for a relative path, a missing file or
    anything read_yaml refuses."""
    path = Path(path)
    if not path.is_absolute():
        raise PlantError(f"optimize.plant_file = {str(path)!r}: allowed an absolute path to a plant YAML "
                         "(Hydra runs from another directory)")
    if not path.is_file():
        raise PlantError(f"optimize.plant_file = {str(path)!r}: no such file")
    try:
        return read_yaml(path, PLANT_BOUNDS)
    except DataValidationError as exc:
        raise PlantError(str(exc)) from None


def plant_spec(opt: DictConfig) -> tuple[object, str, Path | None]:
    """(the plant as plain data, where it came from, the plant file or None) for conf's
    `optimize` section: `plant_file` when set, else the config group's `plant`."""
    plant_file = opt.get("plant_file")
    if plant_file:
        path = Path(str(plant_file))
        return read_plant_file(path), str(path), path
    spec = opt.get("plant")
    if spec is None:
        raise PlantError("optimize.plant is missing: choose one with optimize/plant=single (conf/optimize/plant)")
    return (OmegaConf.to_container(spec, resolve=True) if isinstance(spec, DictConfig) else spec), "optimize.plant", None
