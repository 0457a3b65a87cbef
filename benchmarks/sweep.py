"""What reuse and parallelism save on the cost sweep: 15 points (conf/sweep) solved
  A  one after another, rebuilding everything per point (no reuse: load network, tighten bounds, build)
  B  one after another, building once and changing only the cost Params (reuse)
  C  in parallel (joblib, conf/hydra/launcher/parallel.yaml n_jobs), rebuilding per point
  D  in parallel, each worker building once for its share of the points
  E  the real thing: `python -m pipeline.optimize -m <grid>` with the parallel launcher, and
     the same with n_jobs=1 (only when pipeline.optimize has its Hydra entry point)
and writes reports/bench/sweep.json. The objectives of A-D must agree (same models).

  python benchmarks/sweep.py [hydra overrides of conf/, e.g. +experiment=tiny]

Times are wall-clock on whatever else runs on the machine: the JSON records the load average.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from joblib import Parallel, delayed
from omegaconf import DictConfig, OmegaConf

from pipeline.core.compose import compose
from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.contracts.costs import scale_key
from pipeline.sweep.grid import grid_override

ROOT = repo_root()  # the repository these benchmarks measure (run them from inside it)


def points(cfg: DictConfig) -> list[tuple[str, float]]:
    return [(str(c), float(s)) for c in cfg.sweep.costs for s in cfg.sweep.scales]


def point_cfg(cfg: DictConfig, cost: str, scale: float) -> DictConfig:
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    out.costs[scale_key(cost)] = scale
    for key in ("data", "models"):  # relative paths of params.yaml are relative to the repository
        out.paths[key] = str(ROOT / out.paths[key])
    return out


def build(cfg: DictConfig):
    from pipeline.optimize.run import prepare

    return prepare(cfg)


def solve_point(schedule, cfg: DictConfig) -> dict:
    from pipeline.optimize.run import optimize

    t0 = time.perf_counter()
    _, metrics = optimize(schedule, cfg)
    return {"objective": metrics["objective"], "status": metrics["solve"]["status"],
            "solve_s": time.perf_counter() - t0}


def no_reuse(cfg: DictConfig, cost: str, scale: float) -> dict:
    pc = point_cfg(cfg, cost, scale)
    t0 = time.perf_counter()
    schedule = build(pc)
    built = time.perf_counter() - t0
    return {"cost": cost, "scale": scale, "build_s": built, **solve_point(schedule, pc)}


def with_reuse(cfg: DictConfig, share: list[tuple[str, float]]) -> list[dict]:
    t0 = time.perf_counter()
    schedule = build(cfg)
    built = time.perf_counter() - t0
    out = []
    for i, (cost, scale) in enumerate(share):
        out.append({"cost": cost, "scale": scale, "build_s": built if i == 0 else 0.0,
                    **solve_point(schedule, point_cfg(cfg, cost, scale))})
    return out


def timed(fn, *args):
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def multirun(params: Path, cfg: DictConfig, n_jobs: int, sweep_dir: Path) -> float | None:
    """Wall time of the Hydra multirun of pipeline.optimize (no MLflow callback), or None."""
    if not (ROOT / "pipeline" / "optimize" / "__main__.py").exists():
        return None
    cmd = [sys.executable, "-m", "pipeline.optimize", "-m", "--config-path", str(params.parent),
           "--config-name", params.stem, grid_override(list(cfg.sweep.costs), list(cfg.sweep.scales)),
           f"hydra.searchpath=[file://{ROOT / 'conf'}]", f"hydra/launcher={cfg.sweep.launcher}",
           f"hydra.launcher.n_jobs={n_jobs}", f"hydra.sweep.dir={sweep_dir}"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"multirun failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - t0


def launcher_jobs() -> int:
    return int(OmegaConf.load(ROOT / "conf" / "hydra" / "launcher" / "parallel.yaml").n_jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of conf/ (e.g. +experiment=tiny)")
    parser.add_argument("--out", default=str(ROOT / "reports" / "bench" / "sweep.json"))
    parser.add_argument("--skip-multirun", action="store_true", help="skip E (the Hydra command)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    params = compose(args.overrides, output=tmp / "params.yaml")
    cfg = point_cfg(load_params(params), str(load_params(params).sweep.costs[0]), 1.0)
    grid = points(cfg)
    n_jobs = launcher_jobs()
    load_before = os.getloadavg()

    wall_a, rows_a = timed(lambda: [no_reuse(cfg, c, s) for c, s in grid])
    wall_b, rows_b = timed(with_reuse, cfg, grid)
    wall_c, rows_c = timed(lambda: Parallel(n_jobs=n_jobs)(delayed(no_reuse)(cfg, c, s) for c, s in grid))
    shares = [grid[i::n_jobs] for i in range(n_jobs)]
    wall_d, parts = timed(lambda: Parallel(n_jobs=n_jobs)(delayed(with_reuse)(cfg, s) for s in shares))
    rows_d = [r for part in parts for r in part]
    wall_e_par = wall_e_seq = None
    if not args.skip_multirun:
        wall_e_par = multirun(params, cfg, n_jobs, tmp / "multirun_parallel")
        wall_e_seq = multirun(params, cfg, 1, tmp / "multirun_sequential")

    def objective(rows):
        return {(r["cost"], r["scale"]): r["objective"] for r in rows}

    ref = objective(rows_a)
    worst = max(abs(objective(rows)[k] - v) / max(abs(v), 1.0) for rows in (rows_b, rows_c, rows_d) for k, v in ref.items())
    result = {
        "command": "python benchmarks/sweep.py " + " ".join(args.overrides),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_before": load_before, "load_average_after": os.getloadavg(),
                    "note": "shared machine: other processes ran alongside; times are inflated and noisy"},
        "points": len(grid), "n_jobs": n_jobs, "horizon_hours": int(cfg.optimize.horizon_hours),
        "solver": str(cfg.solver.name), "solver_threads": int(cfg.solver.threads),
        "wall_s": {"A_sequential_no_reuse": wall_a, "B_sequential_reuse": wall_b,
                   "C_parallel_no_reuse": wall_c, "D_parallel_reuse": wall_d,
                   "E_hydra_multirun_parallel": wall_e_par, "E_hydra_multirun_sequential": wall_e_seq},
        "speedup_vs_A": {"B_reuse": wall_a / wall_b, "C_parallel": wall_a / wall_c, "D_parallel_reuse": wall_a / wall_d},
        "build_s_per_point_A": sum(r["build_s"] for r in rows_a) / len(rows_a),
        "solve_s_per_point_A": sum(r["solve_s"] for r in rows_a) / len(rows_a),
        "max_relative_objective_difference": worst,
        "per_point_A": rows_a,
    }
    write_json(args.out, result)
    print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in result["wall_s"].items()})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
