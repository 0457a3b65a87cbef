"""What a multirun worker process keeps between the points it runs.

Hydra's launchers (joblib, Ray, submitit) run several points in one worker process, but the
task function arrives pickled by value (it lives in `python -m pipeline.optimize`'s __main__),
so its globals are fresh for every job: the cache lives here, in an importable module. A worker
builds the plan once per model configuration (everything but the costs), re-solves it with each
point's costs, and starts from the schedule of the point it solved before (a neighbour on the
grid: a feasible schedule, valued under the new costs, before the solver starts).
"""
from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

_CACHE: dict[str, dict] = {}


def reused_plan(cfg: DictConfig, build) -> dict:
    """{"plan", "solver", "last"} for cfg's model configuration; `build(cfg)` makes a new one."""
    key = OmegaConf.to_yaml({k: v for k, v in cfg.items() if k != "costs"}, resolve=True)
    if key not in _CACHE:
        _CACHE.clear()  # one configuration at a time: a worker runs one sweep
        _CACHE[key] = {**build(cfg), "last": None}
    return _CACHE[key]
