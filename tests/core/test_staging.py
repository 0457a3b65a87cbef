"""Outputs written aside and moved in at the end (pipeline/core/staging.py): a failure leaves the
previous files whole, success replaces them, owned folders are swapped whole, leftovers of a dead
process are removed by the next start and never those of a live one."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.core import staging
from pipeline.core.staging import scratch, staged, staged_dir


def _cfg(tmp_path: Path):
    return OmegaConf.create({"paths": {key: str(tmp_path / key) for key in ("data", "models", "reports")}})


def test_a_failed_stage_leaves_the_previous_outputs_and_moves_in_only_its_quarantine(tmp_path):
    cfg = _cfg(tmp_path)
    (tmp_path / "data" / "fault").mkdir(parents=True)
    (tmp_path / "data" / "fault" / "log.parquet").write_text("old log")
    with pytest.raises(RuntimeError, match="boom"):
        with staged(cfg, "prepare_fault", ("data", "reports"), replace={"data": ("fault",)},
                    on_failure={"reports": ("data/fault_quarantine.csv",)}) as work:
            (Path(work.paths.data) / "fault").mkdir()
            (Path(work.paths.data) / "fault" / "log.parquet").write_text("half")
            (Path(work.paths.reports) / "data").mkdir()
            (Path(work.paths.reports) / "data" / "fault_quarantine.csv").write_text("why")
            (Path(work.paths.reports) / "data" / "fault_metrics.json").write_text("{}")
            raise RuntimeError("boom")
    assert (tmp_path / "data" / "fault" / "log.parquet").read_text() == "old log"
    assert (tmp_path / "reports" / "data" / "fault_quarantine.csv").read_text() == "why"
    assert not (tmp_path / "reports" / "data" / "fault_metrics.json").exists()
    assert not list(tmp_path.rglob(".partial-*"))


def test_success_moves_files_in_and_swaps_owned_folders_whole(tmp_path):
    cfg = _cfg(tmp_path)
    (tmp_path / "data" / "line" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "line" / "raw" / "part-00009.parquet").write_text("a longer earlier run")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "other_model.onnx").write_text("another stage's")
    with staged(cfg, "prepare_line", ("data", "models"), replace={"data": ("line",)}) as work:
        (Path(work.paths.data) / "line" / "raw").mkdir(parents=True)
        (Path(work.paths.data) / "line" / "raw" / "part-00000.parquet").write_text("new")
        (Path(work.paths.models) / "line_model.onnx").write_text("new model")
        checkpoint = scratch(work) / "best.ckpt"
        checkpoint.write_text("weights")
    assert sorted(p.name for p in (tmp_path / "data" / "line" / "raw").iterdir()) == ["part-00000.parquet"]
    assert (tmp_path / "models" / "line_model.onnx").read_text() == "new model"
    assert (tmp_path / "models" / "other_model.onnx").read_text() == "another stage's"  # merged, not replaced
    assert not list(tmp_path.rglob("best.ckpt")) and not list(tmp_path.rglob(".partial-*"))


def test_leftovers_of_a_dead_process_go_and_a_live_ones_stay(tmp_path):
    dead = tmp_path / ".partial-train_fault-999999999-1"
    live = tmp_path / f".partial-train_fault-{os.getpid()}-{staging.identity()['started'] or 0}"
    other = tmp_path / ".partial-train_process-999999999-1"
    for folder in (dead, live, other):
        folder.mkdir()
    assert staging.remove_stale(tmp_path, "train_fault") == [dead]
    assert live.exists() and other.exists()  # another stage's leftovers are that stage's to clean


def test_write_outputs_failing_half_way_leaves_the_previous_schedule(tmp_path, monkeypatch):
    from pipeline.optimize import outputs

    out = tmp_path / "optimize"
    out.mkdir()
    for name in ("schedule.csv", "metrics.json", "schedule.png"):
        (out / name).write_text(f"old {name}")

    def broken_plot(table, path):
        raise MemoryError("the figure could not be drawn")

    monkeypatch.setattr(outputs, "plot_schedule", broken_plot)
    with pytest.raises(MemoryError):
        outputs.write_outputs(pd.DataFrame({"hour": [0]}), {"objective": 1.0}, out)
    assert {p.name: p.read_text() for p in out.iterdir()} == {n: f"old {n}" for n in
                                                               ("schedule.csv", "metrics.json", "schedule.png")}
    assert not list(tmp_path.glob(".partial-*"))


def test_a_folder_swapped_whole_drops_files_of_an_earlier_run(tmp_path):
    final = tmp_path / "sweep"
    final.mkdir()
    (final / "curves_cost_no_longer_swept.csv").write_text("stale")
    with staged_dir(final, whole=True) as folder:
        (folder / "points.csv").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == ["points.csv"]
