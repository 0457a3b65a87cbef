"""Line data: the 1 Hz generator, the streaming validation, the workbook and CSV loaders,
a corpus of bad inputs the test writes itself, and the real 10-second press series."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.core.validation import DataValidationError, Quarantine
from pipeline.data.line import stage as line
from pipeline.contracts.line import TIMESTAMP
from pipeline.data.line.generator import DelayLag, Event, LineSimulator
from pipeline.data.line.validation import Resampler, SheetValidator
from tests.conftest import make_cfg, shared_file


def with_line(cfg, **values):
    return OmegaConf.merge(cfg, {"data": {"line": values}})


def run(cfg, tmp_path: Path) -> dict:
    return line.prepare(cfg, tmp_path / "data" / "line", tmp_path / "reports" / "data")


def test_generator_is_seeded_and_saves_ground_truth(tiny_cfg, tmp_path):
    a = run(tiny_cfg, tmp_path / "a")
    b = run(tiny_cfg, tmp_path / "b")
    fa = pd.read_parquet(tmp_path / "a/data/line/aligned.parquet")
    fb = pd.read_parquet(tmp_path / "b/data/line/aligned.parquet")
    pd.testing.assert_frame_equal(fa, fb)
    assert a["rows"] == b["rows"] and a["quarantined_rows"] == 0
    events = pd.read_csv(tmp_path / "a/data/line/events.csv", parse_dates=["start", "end"])
    assert {"refill"} <= set(events.kind)
    assert (events.end > events.start).all()
    assert events.start.min() >= fa[TIMESTAMP].min() and events.end.max() <= fa[TIMESTAMP].max()
    c = run(OmegaConf.merge(tiny_cfg, {"seed": 7}), tmp_path / "c")
    fc = pd.read_parquet(tmp_path / "c/data/line/aligned.parquet")
    assert len(fc) == len(fa) and c["sheets"]["Blenders"]["rows_out"] == a["sheets"]["Blenders"]["rows_out"]
    assert not np.allclose(fa["Massflow Blender 2"], fc["Massflow Blender 2"])


def test_layout_partitions_and_sizes(tiny_cfg, tmp_path):
    cfg = with_line(tiny_cfg, hours=0.5, chunk_seconds=600)
    metrics = run(cfg, tmp_path)
    out = tmp_path / "data/line"
    press = sorted((out / "raw" / "tablet_press").glob("part-*.parquet"))
    assert len(press) == 3  # 30 min in 10-minute chunks
    raw = pd.concat(pd.read_parquet(p) for p in press)
    assert len(raw) == 1800 and raw[TIMESTAMP].is_monotonic_increasing
    assert {"main_compression_force", "ejection_force_tablet", "pre_compression_height_bottom",
            "Filling Shoe M20M13 speed"} <= set(raw.columns)
    feeders = pd.read_parquet(out / "raw" / "liw_feeders_1")
    for name in ("Screw RPM PD1", "Massflow PD 1", "Feed Factor PD1", "Net Weight PD1"):
        assert name in feeders.columns
    aligned = pd.read_parquet(out / "aligned.parquet")
    assert len(aligned) == 1800 // int(cfg.data.line.align_period_s)
    assert not aligned.drop(columns=TIMESTAMP).isna().any().any()  # low-rate sheets carried forward
    layout = json.loads((out / "layout.json").read_text())
    assert layout["targets"] == list(cfg.data.line.targets)
    assert metrics["points"] > metrics["rows"] > 0 and metrics["gaps"] == 0


def test_disturbances_move_the_cpps(tiny_cfg):
    """A blocked filler feeder must pull blender 2's mass flow down, after the blender delay."""
    cfg = OmegaConf.merge(tiny_cfg.data.line, {"hours": 1})
    sim = LineSimulator(cfg, 0)
    sim.events = [Event("blocked_feeder", "PD3", 1200, 1320, -0.9)]
    blend = pd.concat([s[cfg.sheets.blenders] for s in sim.chunks(1800)], ignore_index=True)
    flow = blend["Massflow Blender 2"].to_numpy()
    before, during = flow[900:1200].mean(), flow[1300:1400].mean()
    assert during < 0.8 * before
    assert flow[1200:1215].mean() > 0.95 * before  # the transport delay holds it for a while


def test_delay_lag_streams_like_one_piece():
    x = np.random.default_rng(0).normal(size=500)
    one = DelayLag(20, 7, 0.0)(x)
    lag = DelayLag(20, 7, 0.0)
    parts = np.concatenate([lag(x[:123]), lag(x[123:400]), lag(x[400:])])
    np.testing.assert_allclose(one, parts)


def _csv_cfg(tiny_cfg, path: Path, period: int = 10, stuck: int = 60, segments=None):
    base = OmegaConf.to_container(tiny_cfg)
    base["data"]["line"].pop("actuators")  # replaced, not merged
    base["data"]["line"].pop("states")
    sheet = {"name": "Press", "timestamp": "ts", "period_s": period, "columns": {"force": "force", "speed": "speed"}}
    if segments:
        sheet["segments"] = segments
    return OmegaConf.merge(base, {"data": {"line": {
        "source": "csv", "path": str(path), "align_period_s": period, "ffill_limit_s": 0,
        "read": {"sep": ";", "chunk_rows": 7},  # small chunks: problems straddle chunk edges
        "validation": {"gap_factor": 3, "stuck_seconds": stuck},
        "layout": [sheet],
        "targets": ["force"], "actuators": {"force": {"speed": 1}},
        "states": {"speed": {"channel": "speed", "stopped_below": 1.0, "running_from": 50.0}, "settle_s": 0,
                   "min_run_s": 60, "abrupt_s": 30}}}})


def _bad_csv(path: Path) -> Path:
    t0 = pd.Timestamp("2024-01-01 00:00:00")
    rows = [(t0 + pd.Timedelta(seconds=10 * i), 10 + 0.1 * (i % 5), 100 + i % 3) for i in range(40)]
    rows = [(str(t), str(f), str(s)) for t, f, s in rows]
    rows[3] = ("not a time", "10", "100")                  # row 5 in the file
    rows[6] = (rows[6][0], "nan", rows[6][2])              # row 8
    rows[8] = (rows[8][0], rows[8][1], "inf")              # row 10
    rows[10] = (rows[10][0], "abc", rows[10][2])           # row 12
    rows.insert(13, rows[12])                              # row 15: duplicate of row 14
    rows.insert(20, (rows[2][0], "10", "100"))             # row 22: back in time
    rows = rows[:30] + [(str(pd.Timestamp(r[0]) + pd.Timedelta(minutes=10)), r[1], r[2]) for r in rows[30:]]  # a gap
    for i in range(32, 41):                                # a stuck speed sensor, 90 s
        rows[i] = (rows[i][0], rows[i][1], "101")
    lines = ["ts;force;speed"] + [";".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_inputs_are_quarantined_or_counted(tiny_cfg, tmp_path):
    cfg = _csv_cfg(tiny_cfg, _bad_csv(tmp_path / "bad.csv"))
    metrics = run(cfg, tmp_path)
    q = pd.read_csv(tmp_path / "reports/data/line_quarantine.csv")
    got = {row: (reason, column) for row, reason, column in zip(q.source_row, q.reason, q.column)}
    assert got == {5: ("not_a_timestamp", "ts"), 8: ("not_a_number", "force"), 10: ("not_a_number", "speed"),
                   12: ("not_a_number", "force"), 15: ("duplicate_timestamp", "ts"),
                   22: ("timestamp_out_of_order", "ts")}
    assert q.loc[q.source_row == 10, "reason_text"].item().startswith("speed is not a finite number")
    assert metrics["quarantined_rows"] == 6
    assert metrics["rows_accepted"] + metrics["quarantined_rows"] == metrics["rows_read"]
    assert metrics["gaps"] == 1 and metrics["sheets"]["Press"]["gap_seconds"] == pytest.approx(600)
    assert metrics["sheets"]["Press"]["stuck_runs"] == {"speed": 1}
    assert metrics["sheets"]["Press"]["rows_out"] == metrics["sheets"]["Press"]["rows_in"] - 6
    aligned = pd.read_parquet(tmp_path / "data/line/aligned.parquet")
    assert aligned["force"].isna().sum() >= 55  # the 10-minute gap stays visible as missing rows


def test_structural_problems_stop_with_file_and_column(tiny_cfg, tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("ts;force\n2024-01-01 00:00:00;1\n")
    with pytest.raises(DataValidationError, match=r"short\.csv.*speed"):
        run(_csv_cfg(tiny_cfg, path), tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        run(_csv_cfg(tiny_cfg, tmp_path / "nowhere.csv"), tmp_path)
    path.write_text("ts;force;speed\nx;1;2\ny;3;4\n")
    with pytest.raises(DataValidationError, match="every row was rejected"):
        run(_csv_cfg(tiny_cfg, path), tmp_path)
    with pytest.raises(KeyError, match="data.line.targets"):
        good = _bad_csv(tmp_path / "good.csv")
        run(OmegaConf.merge(_csv_cfg(tiny_cfg, good), {"data": {"line": {"targets": ["pressure"]}}}), tmp_path)


def test_stuck_run_across_chunks_is_counted_once():
    q = Quarantine("x")
    v = SheetValidator("s", "x", "ts", ["a"], 1, 3, 10, q)
    t = pd.date_range("2024-01-01", periods=30, freq="1s")
    values = [0.1 * i for i in range(5)] + [7.0] * 20 + [0.1 * i for i in range(5)]
    frame = pd.DataFrame({"ts": t, "a": values})
    for chunk in (frame.iloc[:8], frame.iloc[8:15], frame.iloc[15:]):
        v.check(chunk)
    assert v.report.stuck_runs == {"a": 1}


def test_batches_travel_as_segment_columns_and_rows_without_one_are_quarantined(tiny_cfg, tmp_path):
    t0 = pd.Timestamp("2024-01-01 00:00:00")
    lines = ["ts;force;speed;campaign;batch"]
    for i in range(30):
        batch = "B-1" if i < 17 else "B-2"  # text names, as a plant writes them
        lines.append(f"{t0 + pd.Timedelta(seconds=10 * i)};10.{i % 3};100;80;{batch if i != 5 else ''}")
    path = tmp_path / "batches.csv"
    path.write_text("\n".join(lines) + "\n")
    metrics = run(_csv_cfg(tiny_cfg, path, segments=["campaign", "batch"]), tmp_path)
    q = pd.read_csv(tmp_path / "reports/data/line_quarantine.csv")
    assert dict(zip(q.source_row, q.reason)) == {7: "segment_missing"} and q.column.tolist() == ["batch"]
    assert metrics["rows_accepted"] + metrics["quarantined_rows"] == metrics["rows_read"] == 30
    aligned = pd.read_parquet(tmp_path / "data/line/aligned.parquet")
    layout = json.loads((tmp_path / "data/line/layout.json").read_text())
    assert layout["segments"] == ["campaign", "batch"] and layout["channels"] == ["force", "speed"]
    assert aligned["batch"].tolist() == ["B-1"] * 17 + ["B-2"] * 13  # the quarantined row's step keeps its batch
    assert aligned["campaign"].unique().tolist() == ["80"] and metrics["segments"] == {"campaign": 1, "batch": 2}
    assert np.isnan(aligned["force"].iloc[5])


def test_resampler_streams_like_one_piece():
    t = pd.date_range("2024-01-01", periods=103, freq="1s")
    frame = pd.DataFrame({"ts": t, "a": np.arange(103.0)})
    r = Resampler("ts", 5)
    for chunk in (frame.iloc[:17], frame.iloc[17:60], frame.iloc[60:]):
        r.add(chunk)
    expected = frame.set_index("ts").resample("5s").mean()
    np.testing.assert_allclose(r.result()["a"].to_numpy(), expected["a"].to_numpy())


def test_workbook_in_the_msom_layout_loads_like_the_generated_data(tiny_cfg, tmp_path):
    gen = with_line(tiny_cfg, hours=0.1)
    run(gen, tmp_path / "gen")
    book = tmp_path / "line.xlsx"
    raw = tmp_path / "gen/data/line/raw"
    layout = json.loads((tmp_path / "gen/data/line/layout.json").read_text())
    with pd.ExcelWriter(book, engine="openpyxl") as writer:
        for sheet in layout["sheets"]:
            pd.read_parquet(raw / line.slug(sheet)).to_excel(writer, sheet_name=sheet, index=False)
    (tmp_path / "wb").mkdir(); (tmp_path / "wb2").mkdir()
    cfg = make_cfg(tmp_path / "wb", ["data/line=workbook", f"data.line.path={book}", "data.line.read.chunk_rows=100"])
    metrics = run(cfg, tmp_path / "wb")
    assert metrics["quarantined_rows"] == 0
    a = pd.read_parquet(tmp_path / "gen/data/line/aligned.parquet")
    b = pd.read_parquet(tmp_path / "wb/data/line/aligned.parquet")
    pd.testing.assert_frame_equal(a, b[a.columns], check_exact=False, rtol=1e-5)
    cfg = make_cfg(tmp_path / "wb2", ["data/line=workbook", f"data.line.path={book}"])
    cfg = OmegaConf.merge(cfg, {"data": {"line": {"layout": [{"name": "Mixer", "timestamp": "TimeStamp", "period_s": 1}]}}})
    with pytest.raises(DataValidationError, match="no sheet 'Mixer'"):
        run(cfg, tmp_path / "wb2")


def test_real_press_series_loads_by_column_mapping(tmp_path):
    path = shared_file("tablet_press_process", "Process_timeseries_code6.csv")
    cfg = make_cfg(tmp_path, ["data/line=press_10s", f"data.line.path={path}"])
    metrics = run(cfg, tmp_path)
    assert metrics["rows"] == 35609 and metrics["quarantined_rows"] == 0
    assert metrics["gaps"] == 1  # one 792-s break in the recording
    aligned = pd.read_parquet(tmp_path / "data/line/aligned.parquet")
    assert {"main_comp", "ejection", "tbl_speed"} <= set(aligned.columns)
    assert aligned["main_comp"].isna().sum() == len(aligned) - 35609
    # each batch on its own grid: the 792-s break between the two batches holds no rows and no hours
    assert aligned.groupby("batch", sort=False).size().to_dict() == {"368": 28041, "369": 7568}
    assert metrics["hours"] == pytest.approx(77.889 + 21.019, abs=0.01) and metrics["calendar_hours"] > metrics["hours"]
    assert set(metrics["batches"]) == {"code 6, campaign 80, batch 368", "code 6, campaign 80, batch 369"}


def test_every_product_loads_by_glob_batches_on_their_own_grids_in_time_order(tmp_path):
    shared_file("tablet_press_process", "Process_timeseries_code5.csv")
    cfg = make_cfg(tmp_path, ["data/line=press_10s"])  # the default path: every product's file
    metrics = run(cfg, tmp_path)
    assert metrics["rows"] == 45547 + 35609 + 52687 - metrics["quarantined_rows"]
    assert len(metrics["batches"]) == 13 and metrics["segments"] == {"code": 3, "campaign": 7, "batch": 13}
    assert metrics["hours"] < 400 < 5000 < metrics["calendar_hours"]  # batch spans, not the calendar
    aligned = pd.read_parquet(tmp_path / "data/line/aligned.parquet")
    firsts = aligned.groupby(["code", "campaign", "batch"], sort=False)["TimeStamp"].first()
    assert firsts.is_monotonic_increasing  # batches follow one another by first timestamp ...
    assert not aligned["TimeStamp"].is_monotonic_increasing  # ... and code 7's batch 366 overlaps code 5's 365
    layout = json.loads((tmp_path / "data/line/layout.json").read_text())
    assert layout["product"] == "code" and layout["segments"] == ["code", "campaign", "batch"]


def _press_file(path: Path, start: str, batch: str, rows: int = 20, level: float = 10.0) -> Path:
    t0 = pd.Timestamp(start)
    lines = ["ts;force;speed;campaign;batch"]
    lines += [f"{t0 + pd.Timedelta(seconds=10 * i)};{level + 0.1 * (i % 3)};100;80;{batch}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_several_files_overlapping_in_time_keep_their_batches_apart(tiny_cfg, tmp_path):
    a = _press_file(tmp_path / "a.csv", "2024-01-01 00:00:00", "A", level=10.0)
    b = _press_file(tmp_path / "b.csv", "2024-01-01 00:01:00", "B", level=20.0)  # starts inside A
    c = _press_file(tmp_path / "c.csv", "2024-03-01 00:00:00", "C")               # two months later
    cfg = _csv_cfg(tiny_cfg, a, segments=["campaign", "batch"])
    cfg = OmegaConf.merge(cfg, {"data": {"line": {"path": [str(c), str(tmp_path / "[ab].csv")]}}})
    metrics = run(cfg, tmp_path)
    aligned = pd.read_parquet(tmp_path / "data/line/aligned.parquet")
    assert aligned["batch"].tolist() == ["A"] * 20 + ["B"] * 20 + ["C"] * 20
    assert aligned.loc[aligned.batch == "B", "force"].min() >= 20  # no file's rows in another's batch
    assert metrics["hours"] == pytest.approx(3 * 190 / 3600) and metrics["calendar_hours"] > 24 * 59
    assert metrics["quarantined_rows"] == 0 and metrics["source"].startswith("3 files: c.csv, a.csv, b.csv")
    with pytest.raises(DataValidationError, match="also in"):  # one batch in two files
        run(OmegaConf.merge(cfg, {"data": {"line": {"path": [str(a), str(_press_file(tmp_path / "d.csv", "2024-02-01", "A"))]}}}),
            tmp_path / "dup")
    with pytest.raises(FileNotFoundError, match="matches no file"):
        run(OmegaConf.merge(cfg, {"data": {"line": {"path": str(tmp_path / "nothing*.csv")}}}), tmp_path / "none")
    with pytest.raises(ValueError, match="segments"):  # several files, nothing to tell their batches apart
        run(OmegaConf.merge(_csv_cfg(tiny_cfg, a), {"data": {"line": {"path": [str(a), str(b)]}}}), tmp_path / "noseg")
