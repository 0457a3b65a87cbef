"""dvc.yaml's deps follow the imports, and no stage imports another stage's package.

One walk (pipeline/core/stage_deps.py) writes each stage's code deps into dvc.yaml (`make deps`)
and is checked here: a module a stage runs but dvc.yaml does not list (editing it would not rerun
the stage) or a listed file the stage does not run (editing it would rerun the stage for
nothing) fails, naming the stage and the file. Static (ast over pipeline/), so it is fast.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.core.stage_deps import ImportWalk, differences, is_code, write_deps

ROOT = Path(__file__).resolve().parents[2]
WALK = ImportWalk(ROOT)
PYTHON_STAGES = [name for name, stage in WALK.stages().items() if WALK.entry_modules(stage["cmd"])]

def test_no_stage_imports_another_stages_package():
    found = [f"{file}:{line}: {mine} imports {theirs}" for file, line, mine, theirs in WALK.cross_stage_imports()]
    assert not found, f"stage packages import each other (move the shared names to pipeline/contracts or core): {found}"


@pytest.mark.parametrize("name", PYTHON_STAGES)
def test_stage_code_deps_are_exactly_the_modules_it_runs(name):
    missing, superfluous = differences(WALK).get(name, ([], []))
    assert not missing and not superfluous, (
        f"dvc.yaml stage '{name}': missing {missing} (editing them would not rerun it), superfluous {superfluous} "
        "(editing them would rerun it for nothing); run `make deps`")


def test_every_dep_exists():
    stale = [f"{name}: {dep}" for name, stage in WALK.stages().items() for dep in stage.get("deps", [])
             if isinstance(dep, str) and dep.split("/")[0] in ("pipeline", "conf") and not (ROOT / dep).exists()]
    assert not stale, f"dvc.yaml deps name files that do not exist: {stale}"


def test_the_walk_sees_what_a_stage_imports_lazily_and_by_name():
    """The rules on known cases: a function-level import (optimize/instance.py reads the price
    contract inside read_prices), the multirun app the sweep launches by name, and the kind
    `pipeline.data` dispatches to by its argument."""
    assert "pipeline.contracts.prices" in WALK.direct_imports("pipeline.optimize.instance")
    sweep = WALK.closure(WALK.entry_modules(WALK.stages()["sweep"]["cmd"]))
    assert {"pipeline.optimize.__main__", "pipeline.sweep.callback"} <= sweep
    fault = WALK.closure(WALK.entry_modules(WALK.stages()["prepare_fault"]["cmd"]))
    assert "pipeline.data.fault.loader" in fault and "pipeline.data.line.stage" not in fault


def test_registry_is_a_dep_of_the_training_stages_only():
    """Issue 22: editing pipeline/core/registry.py reruns the stages that register models, not
    the optimiser or the sweep."""
    holding = {name for name, stage in WALK.stages().items()
               if "pipeline/core/registry.py" in stage.get("deps", [])}
    assert holding == {"train_fault", "train_process", "train_inventory"}


def _copy(tmp_path: Path) -> Path:
    for name in ("pipeline", "dvc.yaml"):
        src = ROOT / name
        (shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__")) if src.is_dir()
         else shutil.copy2(src, tmp_path / name))
    return tmp_path


def test_a_stage_importing_another_stage_fails_the_check(tmp_path):
    repo = _copy(tmp_path)
    target = repo / "pipeline" / "report" / "build.py"
    target.write_text(target.read_text() + "\nfrom pipeline.optimize.solve import ScheduleSolver  # noqa\n")
    found = ImportWalk(repo).cross_stage_imports()
    assert ("pipeline/report/build.py", target.read_text().count("\n"), "pipeline.report",
            "pipeline.optimize.solve") in found


def test_a_missing_or_superfluous_dep_fails_and_make_deps_repairs_it(tmp_path):
    repo = _copy(tmp_path)
    dvc = repo / "dvc.yaml"
    text = dvc.read_text()
    dvc.write_text(text.replace("      - pipeline/core/registry.py\n", "", 1)          # train_fault loses one
                   .replace("      - pipeline/report/page.py\n", "      - pipeline/report/page.py\n"
                            "      - pipeline/core/split.py\n", 1))                    # report gains one
    walk = ImportWalk(repo)
    found = differences(walk)
    assert found["train_fault"] == (["pipeline/core/registry.py"], [])
    assert found["report"] == ([], ["pipeline/core/split.py"])
    assert set(write_deps(walk)) == {"train_fault", "report"}
    assert not differences(walk)
    repaired = dvc.read_text()
    assert repaired == text, "make deps changed more than the two lists (comments, order, other deps)"


def test_non_code_deps_and_comments_survive_regeneration(tmp_path):
    repo = _copy(tmp_path)
    before = (repo / "dvc.yaml").read_text()
    write_deps(ImportWalk(repo))
    after = (repo / "dvc.yaml").read_text()
    assert after == before
    comments = [ln for ln in before.splitlines() if "#" in ln]
    assert comments and all(c in after for c in comments)
    assert all(not is_code(d) for d in ("data/prices", "models/fault_dnn.onnx", "conf/hydra/launcher"))
