"""Benchmark: typed config schemas as pydantic models (ours, pipeline/core/settings/) against Hydra
structured configs (dataclasses checked by OmegaConf) -> reports/bench/config_schemas.json.

Both are measured on the same three groups (serve, solver, optimize: ranges, choices, a cross-key
rule, nested sections), the structured configs written here the way Hydra's docs write them
(types in the dataclass, ranges and the cross-key rule in __post_init__, which OmegaConf runs in
OmegaConf.to_object):
- import time: a fresh interpreter importing the schema module, over one that imports only
  omegaconf (which every stage loads anyway); median of --repeats runs side by side;
- check time: validating params.yaml's three sections, median of 200 in one process;
- the message each gives for the same bad settings (out of range, wrong type, typo'd key, a
  choice, a cross-key rule): how many lines, and whether they name key, value and what is allowed.

    python benchmarks/config_schemas.py [--repeats 7]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

STRUCTURED = '''
from dataclasses import dataclass, field
from enum import Enum
from omegaconf import OmegaConf

class SolverName(Enum):
    highs = "highs"; gurobi_direct = "gurobi_direct"; gurobi_persistent = "gurobi_persistent"; auto = "auto"

def _range(key, value, low, high):
    if not low <= value <= high:
        raise ValueError(f"{key} = {value}: allowed {low} to {high}")

@dataclass
class Serve:
    model: str = "???"
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_mb: float = 20.0
    def __post_init__(self):
        _range("serve.port", self.port, 1, 65535)
        if not 0 < self.max_body_mb <= 1024:
            raise ValueError(f"serve.max_body_mb = {self.max_body_mb}: allowed > 0 and <= 1024")

@dataclass
class Solver:
    name: SolverName = SolverName.highs
    time_limit_s: float = 60.0
    mip_rel_gap: float = 1e-4
    threads: int = 2
    options: dict = field(default_factory=dict)
    def __post_init__(self):
        _range("solver.threads", self.threads, 1, 256)
        if not 0 < self.time_limit_s <= 604800:
            raise ValueError(f"solver.time_limit_s = {self.time_limit_s}: allowed > 0 and <= 604800")
        if not 0 <= self.mip_rel_gap < 1:
            raise ValueError(f"solver.mip_rel_gap = {self.mip_rel_gap}: allowed >= 0 and < 1")

@dataclass
class Box:
    min: float = 0.0
    max: float = 1.0
    def __post_init__(self):
        if not self.min < self.max:
            raise ValueError(f"min = {self.min}: allowed below max = {self.max}")

@dataclass
class Optimize:
    horizon_hours: int = 24
    max_horizon_hours: int = 744
    presses: int = 1
    temperature_C: Box = field(default_factory=Box)
    def __post_init__(self):
        _range("optimize.horizon_hours", self.horizon_hours, 1, self.max_horizon_hours)

SCHEMAS = {"serve": Serve, "solver": Solver, "optimize": Optimize}

def check(cfg):
    problems = []
    for key, schema in SCHEMAS.items():
        node = cfg[key]
        if key == "optimize":  # only the keys this comparison models
            node = {k: node[k] for k in ("horizon_hours", "max_horizon_hours", "presses", "temperature_C")}
        try:
            OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), node))
        except Exception as exc:
            problems.append(str(exc))
    return problems
'''

CASES = {
    "out of range": ("serve.port", 70000),
    "wrong type": ("solver.threads", "two"),
    "typo'd key": ("serve.prot", 8000),
    "unknown choice": ("solver.name", "hihgs"),
    "cross-key rule": ("optimize.temperature_C.min", 40.0),
    "bound from another knob": ("optimize.horizon_hours", 10000),
}


def ours(cfg) -> list[str]:
    from pipeline.core.settings import optimize, serve, solver
    from pipeline.core.settings.schema import ConfigError, check

    try:
        check(cfg, {"serve": serve.Serve, "solver": solver.Solver, "optimize": optimize.Optimize})
    except ConfigError as err:
        return str(err).splitlines()
    return []


def theirs(cfg) -> list[str]:
    import _structured_configs_tmp  # written by main() beside this file

    return [ln for p in _structured_configs_tmp.check(cfg) for ln in p.splitlines()]


def import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from pipeline.core.config import load_params

    params = load_params(ROOT / "params.yaml")
    structured_file = HERE / "_structured_configs_tmp.py"
    structured_file.write_text(STRUCTURED)
    try:
        statements = {
            "omegaconf only": "import omegaconf",
            "pydantic schemas (serve, solver, optimize)": "import omegaconf; import pipeline.core.settings.serve, "
                                                          "pipeline.core.settings.solver, pipeline.core.settings.optimize",
            "pydantic schemas (every group)": "import omegaconf; import pipeline.core.settings.every",
            "Hydra structured configs (serve, solver, optimize)": "import sys; sys.path.insert(0, 'benchmarks'); "
                                                                  "import omegaconf; import hydra.core.config_store; "
                                                                  "import _structured_configs_tmp",
        }
        imports: dict[str, list[float]] = {label: [] for label in statements}
        for _ in range(args.repeats):  # side by side: one of each per round
            for label, statement in statements.items():
                imports[label].append(import_seconds(statement))
        medians = {k: statistics.median(v) for k, v in imports.items()}
        sys.path.insert(0, str(HERE))
        result = compare(params, imports, medians)
    finally:
        structured_file.unlink()
    out = ROOT / "reports" / "bench" / "config_schemas.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("import_seconds_over_omegaconf", "check_seconds_median")}, indent=2))
    for case, m in result["messages"].items():
        print(f"{case}: {m['setting']}\n  pydantic:   {m['pydantic']}\n  structured: {m['structured']}")


def compare(params, imports: dict, medians: dict) -> dict:
    from omegaconf import OmegaConf

    def timed(fn) -> float:
        fn(params)
        runs = []
        for _ in range(200):
            t = time.perf_counter()
            fn(params)
            runs.append(time.perf_counter() - t)
        return statistics.median(runs)

    messages = {}
    for case, (key, value) in CASES.items():
        bad = OmegaConf.create(OmegaConf.to_container(params))
        OmegaConf.update(bad, key, value, merge=False, force_add=True)
        messages[case] = {"setting": f"{key}={value}", "pydantic": ours(bad), "structured": theirs(bad)}
    return {
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "import_seconds_median": medians,
        "import_seconds_over_omegaconf": {k: v - medians["omegaconf only"] for k, v in medians.items()},
        "import_runs": imports,
        "check_seconds_median": {"pydantic": timed(ours), "structured": timed(theirs)},
        "messages": messages,
    }


if __name__ == "__main__":
    main()
