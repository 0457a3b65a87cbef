"""dvc.yaml's deps follow the imports: every first-party module a stage runs is covered by one of
that stage's deps, so editing it reruns the stage. Static (ast over pipeline/), so it is fast.

A stage's modules: its `python -m <module> [<arg>]` entry (the package's __main__, and the
sub-module named by the first argument where one exists, as `pipeline.data <kind>` dispatches),
then everything they import, at any depth (function-level imports run too), plus strings that
name a pipeline module exactly (a Hydra callback `_target_`, the app a multirun launches).
Packages whose __init__.py holds nothing but a docstring are not counted.
"""
from __future__ import annotations

import ast
import re
import shlex
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "pipeline"
MODULE_NAME = re.compile(rf"^{PACKAGE}(\.\w+)+$")


def module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def longest_module(dotted: str) -> str | None:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        if module_file(".".join(parts[:end])):
            return ".".join(parts[:end])
    return None


@cache
def direct_imports(name: str) -> frozenset[str]:
    path = module_file(name)
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.match(node.value):
            found.update((node.value, f"{node.value}.__main__"))  # an app run with -m: its __main__
    return frozenset(m for f in found if f.split(".")[0] == PACKAGE and (m := longest_module(f)))


def with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(entries: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = [p for e in entries for p in with_parents(e)]
    while todo:
        name = todo.pop()
        if name in seen or module_file(name) is None:
            continue
        seen.add(name)
        todo.extend(p for m in direct_imports(name) for p in with_parents(m))
    return seen


def substantive(path: Path) -> bool:
    """More than a docstring (and `from __future__`)."""
    body = ast.parse(path.read_text()).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
               and not (isinstance(n, ast.ImportFrom) and n.module == "__future__") for n in body)


def entry_modules(cmd: str) -> list[str]:
    words = shlex.split(cmd)
    if words[:2] != ["python", "-m"]:
        return []
    module = words[2]
    entries = [f"{module}.__main__" if module_file(f"{module}.__main__") else module]
    if len(words) > 3 and not words[3].startswith("-") and module_file(f"{module}.{words[3]}"):
        entries.append(f"{module}.{words[3]}")
    return entries


def stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def dep_paths(stage: dict) -> list[str]:
    return [str(d if isinstance(d, str) else next(iter(d))).rstrip("/") for d in stage.get("deps", [])]


def uncovered(stage: dict) -> list[str]:
    deps = dep_paths(stage)
    missing = []
    for name in sorted(closure(entry_modules(stage["cmd"]))):
        path = module_file(name)
        rel = path.relative_to(ROOT).as_posix()
        if substantive(path) and not any(rel == d or rel.startswith(f"{d}/") for d in deps):
            missing.append(f"{name} ({rel})")
    return missing


PYTHON_STAGES = [name for name, stage in stages().items() if entry_modules(stage["cmd"])]


@pytest.mark.parametrize("name", PYTHON_STAGES)
def test_stage_deps_cover_every_module_it_imports(name):
    missing = uncovered(stages()[name])
    assert not missing, (f"dvc.yaml stage '{name}' imports modules none of its deps covers: {missing}; "
                         "add them (or their folder) to the stage's deps")


def test_every_code_dep_exists():
    stale = [f"{name}: {dep}" for name, stage in stages().items() for dep in dep_paths(stage)
             if dep.split("/")[0] in (PACKAGE, "conf") and not (ROOT / dep).exists()]
    assert not stale, f"dvc.yaml deps name code that does not exist: {stale}"


def test_the_walk_sees_what_a_stage_imports_lazily_and_by_name():
    """The rules above, on known cases: a function-level import (optimize/instance.py reads the
    price contract inside read_prices), the multirun app the sweep launches by name, and the
    kind `pipeline.data` dispatches to by its argument."""
    assert "pipeline.contracts.prices" in direct_imports("pipeline.optimize.instance")
    sweep = closure(entry_modules(stages()["sweep"]["cmd"]))
    assert {"pipeline.optimize.__main__", "pipeline.sweep.callback"} <= sweep
    fault = closure(entry_modules(stages()["prepare_fault"]["cmd"]))
    assert "pipeline.data.fault.loader" in fault and "pipeline.data.line.stage" not in fault
