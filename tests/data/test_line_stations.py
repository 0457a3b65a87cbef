"""Per-station press channels (data.line.press): names, generation, validation, and their
reduction to summary channels on the aligned grid."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.core.validation import DataValidationError
from pipeline.data.line import stage as line
from pipeline.contracts.line import TIMESTAMP
from pipeline.data.line.generator import Event, LineSimulator
from pipeline.data.line.stations import StationGenerator, StationSummary, station_groups, summary_columns

STATIONS = 3


def with_line(cfg, **values):
    return OmegaConf.merge(cfg, {"data": {"line": values}})


def with_stations(cfg, stations: int = STATIONS, **values):
    return with_line(cfg, press={"stations": stations}, **values)


def run(cfg, tmp_path: Path) -> dict:
    return line.prepare(cfg, tmp_path / "data" / "line", tmp_path / "reports" / "data")


def test_station_columns_are_named_by_template_and_kept_raw(tiny_cfg, tmp_path):
    cfg = with_stations(tiny_cfg, hours=0.25)
    metrics = run(cfg, tmp_path)
    quantities = list(cfg.data.line.press.quantities)
    expected = [f"{q} S{n}" for q in quantities for n in range(1, STATIONS + 1)]
    raw = pd.read_parquet(tmp_path / "data/line/raw/tablet_press")
    assert list(raw.columns[-len(expected):]) == expected
    assert (raw[expected].dtypes == np.dtype(cfg.data.line.press.dtype)).all()
    aligned = pd.read_parquet(tmp_path / "data/line/aligned.parquet")
    assert not set(expected) & set(aligned.columns)  # stations reach the grid only as summaries
    summaries = [f"{q} stations {s}" for q in quantities for s in ("mean", "spread")]
    assert summaries == [c for c in aligned.columns if "stations" in c]
    described = metrics["station_channels"]["Tablet Press"]
    assert described["stations"] == STATIONS and described["columns"] == len(expected)
    assert described["aligned_as"]["fill_depth"] == ["fill_depth stations mean", "fill_depth stations spread"]
    layout = json.loads((tmp_path / "data/line/layout.json").read_text())
    assert layout["station_channels"] == metrics["station_channels"]
    assert set(expected) <= set(layout["sheets"]["Tablet Press"])
    n_press = metrics["sheets"]["Tablet Press"]["rows_out"]
    assert metrics["points"] == run(with_line(tiny_cfg, hours=0.25), tmp_path / "base")["points"] + n_press * len(expected)


def test_stations_leave_the_rest_of_the_line_unchanged(tiny_cfg, tmp_path):
    """Station values draw from their own random stream: every other channel is identical,
    and without stations nothing is added (no columns, no metrics or layout keys)."""
    base_metrics = run(tiny_cfg, tmp_path / "a")
    run(with_stations(tiny_cfg), tmp_path / "b")
    a = pd.read_parquet(tmp_path / "a/data/line/aligned.parquet")
    b = pd.read_parquet(tmp_path / "b/data/line/aligned.parquet")
    pd.testing.assert_frame_equal(a, b[a.columns])
    assert "station_channels" not in base_metrics
    assert "station_channels" not in json.loads((tmp_path / "a/data/line/layout.json").read_text())
    assert not [c for c in a.columns if "stations" in c]


def test_stations_follow_the_press_signal(tiny_cfg):
    """Each station tracks its press-level signal (stops included) with a fixed offset."""
    cfg = OmegaConf.merge(tiny_cfg.data.line, {"hours": 1, "press": {"stations": 8}})
    sim = LineSimulator(cfg, 0)
    sim.events = [Event("press_stop", "press", 600, 1400, 0.35)]  # sticking, then stopped 900-1370 s
    press = pd.concat([s[cfg.sheets.press] for s in sim.chunks(900)], ignore_index=True)
    cols = station_groups(cfg)["main_compression_force"]
    stations = press[cols].to_numpy(dtype=float)
    level = press["main_compression_force"].to_numpy()
    stopped = press["Turret speed"].to_numpy() == 0
    assert stopped.sum() > 400 and (stations[stopped] == 0).all()
    running = level > 0.5 * float(cfg.dynamics.main_force_kN)
    ratio = stations[running] / level[running, None]
    assert np.abs(ratio.mean(axis=0) - 1).max() < 4 * float(cfg.press.offset)   # offsets are small ...
    assert ratio.mean(axis=0).std() > 0                                          # ... fixed per station
    assert np.corrcoef(stations[:, 0], level)[0, 1] > 0.9


def test_station_generator_and_summary_on_a_tiny_case(tiny_cfg):
    cfg = OmegaConf.to_container(tiny_cfg.data.line)
    cfg["press"].update(stations=2, quantities={"force": {"follows": "f", "scale": 2.0, "noise": 0.0}})
    cfg = OmegaConf.create(cfg)
    gen = StationGenerator(cfg, np.random.default_rng(0))
    gen.gain[:] = [[0.9, 1.1]]
    frame = gen({"f": np.array([1.0, 0.0, 3.0])})
    assert list(frame.columns) == ["force S1", "force S2"]
    np.testing.assert_allclose(frame.to_numpy(), [[1.8, 2.2], [0.0, 0.0], [5.4, 6.6]], rtol=1e-6)
    df = pd.DataFrame({TIMESTAMP: pd.date_range("2024-01-01", periods=3, freq="1s"), "level": [1.0, 2.0, 3.0],
                       "force S1": [1.0, 0.0, 4.0], "force S2": [3.0, 0.0, 4.0]})
    summary = StationSummary(cfg, str(cfg.sheets.press), list(df.columns[1:]), "x")
    out = summary(df)
    names = summary_columns(cfg)["force"]
    assert list(out.columns) == [TIMESTAMP, "level", names["mean"], names["spread"]]
    np.testing.assert_allclose(out[names["mean"]], [2.0, 0.0, 4.0])
    np.testing.assert_allclose(out[names["spread"]], [0.5, 0.0, 0.0])  # std / |mean|; 0 when stopped
    other = StationSummary(cfg, str(cfg.sheets.blenders), ["level"], "x")
    assert other(df) is df
    with pytest.raises(DataValidationError, match="station column"):
        StationSummary(cfg, str(cfg.sheets.press), ["level", "force S1"], "x")
    with pytest.raises(KeyError, match="follows"):
        gen({"g": np.ones(2)})


def test_aligned_summaries_are_the_resampled_row_summaries(tiny_cfg, tmp_path):
    cfg = with_stations(tiny_cfg, hours=0.25, chunk_seconds=250)  # chunks that split grid bins
    run(cfg, tmp_path)
    raw = pd.read_parquet(tmp_path / "data/line/raw/tablet_press")
    cols = station_groups(cfg.data.line)["ejection_force"]
    rows = raw[cols].to_numpy(dtype=float)
    frame = pd.DataFrame({"mean": rows.mean(axis=1), "spread": rows.std(axis=1) / np.abs(rows.mean(axis=1))},
                         index=raw[TIMESTAMP])
    expected = frame.resample(f"{int(cfg.data.line.align_period_s)}s").mean()
    aligned = pd.read_parquet(tmp_path / "data/line/aligned.parquet").set_index(TIMESTAMP)
    np.testing.assert_allclose(aligned["ejection_force stations mean"], expected["mean"], rtol=1e-5)
    np.testing.assert_allclose(aligned["ejection_force stations spread"], expected["spread"], rtol=1e-4)


def test_validation_covers_station_channels(tiny_cfg, tmp_path, monkeypatch):
    """A stuck station is counted and a row with a NaN at one station is quarantined under
    that station's column, across chunk edges."""
    original = StationGenerator.__call__
    state = {"t": 0}

    def faulty(self, signals):
        frame = original(self, signals).copy()
        t = state["t"] + np.arange(len(frame))
        state["t"] += len(frame)
        frame.loc[(t >= 100) & (t < 800), "ejection_force S2"] = 401.5
        frame.loc[t == 50, "fill_depth S3"] = np.nan
        return frame

    monkeypatch.setattr(StationGenerator, "__call__", faulty)
    cfg = with_stations(tiny_cfg, hours=0.5, chunk_seconds=300)
    metrics = run(cfg, tmp_path)
    assert metrics["sheets"]["Tablet Press"]["stuck_runs"] == {"ejection_force S2": 1}
    assert metrics["quarantined_by_reason"] == {"not_a_number": 1}
    q = pd.read_csv(tmp_path / "reports/data/line_quarantine.csv")
    assert list(q.column) == ["fill_depth S3"] and list(q.sheet) == ["Tablet Press"]
