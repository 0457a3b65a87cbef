"""Schema of conf/solver (options highs, gurobi, auto) and the solver names the optimiser knows.

SOLVERS is the one list of names: pipeline/optimize/solve.py builds solvers by them and this
schema refuses any other."""
from __future__ import annotations

from typing import Any, Literal

from pipeline.core.settings.schema import Section, number, whole

SOLVERS = ("highs", "gurobi_direct", "gurobi_persistent", "auto")
MAX_THREADS = 256


class Solver(Section):
    name: Literal[SOLVERS]
    time_limit_s: number(gt=0, le=7 * 24 * 3600)   # one optimisation, all its sub-models together
    mip_rel_gap: number(ge=0, lt=1)
    threads: whole(1, MAX_THREADS)
    options: dict[str, Any]
