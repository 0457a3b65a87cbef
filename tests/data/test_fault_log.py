"""The tablet-press fault log: generator (contract, reproducibility, coverage of the
optimiser's box, the truth's trade-offs) and the real-file loader (mapping, bad inputs)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from pipeline.core.validation import DataValidationError, Quarantine
from pipeline.data.fault import generator as fault_generator, loader as fault_loader
from pipeline.data.fault.stage import QUARANTINE_FILE, prepare
from pipeline.contracts.fault_log import FEATURES, LOG_COLUMNS, LOG_FILE, TRUTH_FILE
from tests.conftest import make_cfg, shared_file

KAGGLE = {"timestamp": "Timestamp", "pressure_kN": "Pressure", "temperature_C": "Temperature",
          "speed_rpm": "Speed", "vibration_mm_s": "Vibration", "humidity_pct": "Humidity",
          "maintenance_cycles": "Maintenance_Cycles", "fault": "Fault"}


def _prepare(cfg):
    root = cfg.paths
    metrics = prepare(cfg, Path(root.data) / "fault", Path(root.reports) / "data")
    return metrics, Path(root.data) / "fault", Path(root.reports) / "data"


# ---------------------------------------------------------------- generator

def test_generated_log_has_the_contract_and_its_truth(tiny_cfg):
    metrics, out, _ = _prepare(tiny_cfg)
    log = pd.read_parquet(out / LOG_FILE)
    truth = pd.read_parquet(out / TRUTH_FILE)
    assert list(log.columns) == LOG_COLUMNS
    assert len(log) == tiny_cfg.data.fault.n_rows == metrics["rows"]
    assert log["timestamp"].is_monotonic_increasing and log["timestamp"].is_unique
    assert log["maintenance_cycles"].dtype == np.int64 and set(log["fault"].unique()) <= {0, 1}
    assert log["maintenance_cycles"].between(0, 6).all()
    assert list(truth.columns) == ["timestamp", "true_prob"]
    assert (truth["timestamp"] == log["timestamp"]).all()
    assert truth["true_prob"].between(0, 1, inclusive="neither").all()
    # the labels are draws from the saved probabilities: rates agree within 4 standard errors
    p = truth["true_prob"].to_numpy()
    assert abs(log["fault"].mean() - p.mean()) < 4 * np.sqrt((p * (1 - p)).sum()) / len(p)
    assert metrics["truth_available"] is True and metrics["quarantined_rows"] == 0


def test_generator_is_seeded_and_sized(tiny_cfg):
    a_log, a_truth = fault_generator.generate(tiny_cfg.data.fault, 7)
    b_log, b_truth = fault_generator.generate(tiny_cfg.data.fault, 7)
    c_log, _ = fault_generator.generate(tiny_cfg.data.fault, 8)
    pd.testing.assert_frame_equal(a_log, b_log)
    pd.testing.assert_frame_equal(a_truth, b_truth)
    assert not a_log[FEATURES].equals(c_log[FEATURES])
    small = OmegaConf.merge(tiny_cfg.data.fault, {"n_rows": 123})
    assert len(fault_generator.generate(small, 7)[0]) == 123


def test_generator_covers_the_optimisers_box_densely(tmp_path):
    """Default size: every cell of a T x H x N grid over the optimiser's box holds data."""
    cfg = make_cfg(tmp_path, ["data.fault.n_rows=20000"])
    log, _ = fault_generator.generate(cfg.data.fault, cfg.seed)
    box = cfg.model.fault.stability_box
    inside = log[log["temperature_C"].between(*box.temperature_C) & log["humidity_pct"].between(*box.humidity_pct)]
    t_bin = pd.cut(inside["temperature_C"], np.linspace(*box.temperature_C, 5))
    h_bin = pd.cut(inside["humidity_pct"], np.linspace(*box.humidity_pct, 5))
    cells = inside.groupby([t_bin, h_bin, inside["maintenance_cycles"]], observed=False).size()
    assert len(cells) == 4 * 4 * 7 and cells.min() >= 10, cells.sort_values().head()
    # realistic spread of the fixed inputs around the optimiser's values
    for name in ("pressure_kN", "speed_rpm", "vibration_mm_s"):
        assert log[name].quantile(0.05) < box[name] < log[name].quantile(0.95)


def _box_probability(cfg, temperature, humidity, cycles, **fixed):
    box = cfg.model.fault.stability_box
    row = {"pressure_kN": box.pressure_kN, "speed_rpm": box.speed_rpm, "vibration_mm_s": box.vibration_mm_s}
    row |= fixed
    grid = pd.DataFrame({"temperature_C": np.atleast_1d(temperature), "humidity_pct": humidity,
                         "maintenance_cycles": cycles, **row})
    return fault_generator.true_probability(grid, cfg.data.fault.truth)


def test_truth_makes_real_trade_offs_in_the_optimisers_box(tiny_cfg):
    box = tiny_cfg.model.fault.stability_box
    t, h, n = np.meshgrid(np.linspace(*box.temperature_C, 25), np.linspace(*box.humidity_pct, 15),
                          np.arange(box.maintenance_cycles[0], box.maintenance_cycles[1] + 1), indexing="ij")
    p = _box_probability(tiny_cfg, t.ravel(), h.ravel(), n.ravel()).reshape(t.shape)
    assert 0.01 < p.min() < 0.05 and 0.4 < p.max() < 0.8
    best_t = np.linspace(*box.temperature_C, 25)[p[:, 0, 0].argmin()]
    assert box.temperature_C[0] + 2 < best_t < box.temperature_C[1] - 2  # an optimum inside, not at an edge
    assert (np.diff(p, axis=1) > 0).all()  # humidity always hurts
    drops = -np.diff(p, axis=2)
    assert (drops > 0).all() and (np.diff(drops, axis=2) < 0).all()  # maintenance helps, less each time
    # heat and humidity together are worse than the sum of their separate effects (log-odds)
    logit = lambda temp, hum: fault_generator.true_logit(pd.DataFrame(  # noqa: E731
        {"temperature_C": [temp], "humidity_pct": [hum], "maintenance_cycles": [0], "pressure_kN": [box.pressure_kN],
         "speed_rpm": [box.speed_rpm], "vibration_mm_s": [box.vibration_mm_s]}), tiny_cfg.data.fault.truth)[0]
    assert logit(30, 65) - logit(30, 30) - logit(23, 65) + logit(23, 30) > 0.1
    base = _box_probability(tiny_cfg, 23.0, 45.0, 2)[0]
    assert _box_probability(tiny_cfg, 23.0, 45.0, 2, vibration_mm_s=0.5)[0] > base
    assert _box_probability(tiny_cfg, 23.0, 45.0, 2, pressure_kN=box.pressure_kN + 6)[0] > base
    assert _box_probability(tiny_cfg, 23.0, 45.0, 2, speed_rpm=box.speed_rpm - 60)[0] > base


# ---------------------------------------------------------------- loader

def _write_kaggle_csv(tmp_path, log: pd.DataFrame, edit=None) -> Path:
    raw = log.rename(columns=KAGGLE).astype({"Timestamp": str})
    raw = raw.astype(object)
    if edit:
        edit(raw)
    path = tmp_path / "tablet_press.csv"
    raw.to_csv(path, index=False)
    return path


def _kaggle_cfg(tmp_path, path, *overrides):
    return make_cfg(tmp_path, ["data/fault=kaggle", f"data.fault.path={path}", *overrides])


@pytest.fixture
def clean_log(tiny_cfg):
    return fault_generator.generate(OmegaConf.merge(tiny_cfg.data.fault, {"n_rows": 200}), 3)[0]


def test_kaggle_layout_round_trips_through_the_column_mapping(tmp_path, clean_log):
    path = _write_kaggle_csv(tmp_path, clean_log)
    metrics, out, reports = _prepare(_kaggle_cfg(tmp_path, path))
    loaded = pd.read_parquet(out / LOG_FILE)
    pd.testing.assert_frame_equal(loaded, clean_log, check_dtype=False, atol=1e-9)
    assert not (out / TRUTH_FILE).exists()
    assert metrics["truth_available"] is False and "no Bayes limit" in metrics["truth_note"]
    assert metrics["quarantined_rows"] == 0 and (reports / QUARANTINE_FILE).exists()


def test_parquet_file_loads_through_the_same_mapping(tmp_path, clean_log):
    path = tmp_path / "tablet_press.parquet"
    clean_log.rename(columns=KAGGLE).to_parquet(path, index=False)
    _, out, _ = _prepare(_kaggle_cfg(tmp_path, path))
    pd.testing.assert_frame_equal(pd.read_parquet(out / LOG_FILE), clean_log, check_dtype=False, atol=1e-9)


def test_missing_mapped_column_names_the_file_and_column(tmp_path, clean_log):
    path = _write_kaggle_csv(tmp_path, clean_log.drop(columns="humidity_pct"))
    with pytest.raises(DataValidationError, match=r"tablet_press\.csv.*Humidity \(for humidity_pct\)"):
        _prepare(_kaggle_cfg(tmp_path, path))


def _corrupt(raw):
    raw.loc[3, "Pressure"] = "n/a"           # not a number      -> line 5
    raw.loc[5, "Temperature"] = "inf"        # infinite          -> line 7
    raw.loc[7, "Humidity"] = ""              # empty (NaN)       -> line 9
    raw.loc[9, "Humidity"] = 130.0           # out of range      -> line 11
    raw.loc[11, "Maintenance_Cycles"] = 2.5  # not whole         -> line 13
    raw.loc[13, "Fault"] = "maybe"           # unknown label     -> line 15
    raw.loc[15, "Timestamp"] = "yesterday"   # not a date        -> line 17
    raw.loc[18, "Timestamp"] = raw.loc[17, "Timestamp"]  # duplicate -> line 20
    raw.loc[20, "Speed"] = -5.0              # negative speed    -> line 22


def test_bad_rows_are_quarantined_with_line_and_reason(tmp_path, clean_log):
    path = _write_kaggle_csv(tmp_path, clean_log, _corrupt)
    metrics, out, reports = _prepare(_kaggle_cfg(tmp_path, path))
    quarantined = pd.read_csv(reports / QUARANTINE_FILE)
    assert quarantined["source_row"].tolist() == [5, 7, 9, 11, 13, 15, 17, 20, 22]
    assert dict(zip(quarantined["source_row"], quarantined["column"])) == {
        5: "pressure_kN", 7: "temperature_C", 9: "humidity_pct", 11: "humidity_pct", 13: "maintenance_cycles",
        15: "fault", 17: "timestamp", 20: "timestamp", 22: "speed_rpm"}
    assert metrics["quarantined_rows"] == 9 and metrics["rows"] == len(clean_log) - 9
    assert metrics["quarantined_by_reason"] == {"duplicate_timestamp": 1, "not_a_number": 3, "not_a_timestamp": 1,
                                                "not_whole_number": 1, "out_of_range": 2, "unknown_label": 1}
    reasons = dict(zip(quarantined["source_row"], quarantined["reason_text"]))
    assert reasons[11] == "humidity_pct outside its plausible range [0, 100] (data.fault.valid_ranges)"
    assert len(pd.read_parquet(out / LOG_FILE)) + 9 == metrics["rows_read"] == metrics["rows_accepted"] + 9


def test_on_bad_row_error_stops_at_the_first_bad_row(tmp_path, clean_log):
    path = _write_kaggle_csv(tmp_path, clean_log, _corrupt)
    cfg = _kaggle_cfg(tmp_path, path, "data.fault.on_bad_row=error")
    with pytest.raises(DataValidationError, match=r"row 17, column 'Timestamp': not_a_timestamp: .*'yesterday'"):
        _prepare(cfg)


def test_unordered_timestamps_stop_the_stage_or_are_sorted(tmp_path, clean_log):
    def swap(raw):
        raw.loc[[10, 11], "Timestamp"] = raw.loc[[11, 10], "Timestamp"].to_numpy()

    path = _write_kaggle_csv(tmp_path, clean_log, swap)
    with pytest.raises(DataValidationError, match=r"row 13, column 'Timestamp': .*earlier than the row before"):
        _prepare(_kaggle_cfg(tmp_path, path))
    metrics, out, _ = _prepare(_kaggle_cfg(tmp_path, path, "data.fault.unordered=sort"))
    assert metrics["rows_reordered"] == 1 and pd.read_parquet(out / LOG_FILE)["timestamp"].is_monotonic_increasing


def test_unit_factors_convert_to_our_units(tmp_path, clean_log):
    def to_newton(raw):
        raw["Pressure"] = raw["Pressure"].astype(float) * 1000.0

    path = _write_kaggle_csv(tmp_path, clean_log, to_newton)
    _, out, _ = _prepare(_kaggle_cfg(tmp_path, path, "data.fault.unit_factors.pressure_kN=0.001"))
    assert np.allclose(pd.read_parquet(out / LOG_FILE)["pressure_kN"], clean_log["pressure_kN"])


def test_nothing_valid_left_is_an_error(tmp_path, clean_log):
    path = _write_kaggle_csv(tmp_path, clean_log, lambda raw: raw.__setitem__("Fault", "x"))
    with pytest.raises(DataValidationError, match="no valid rows left"):
        _prepare(_kaggle_cfg(tmp_path, path))


def test_real_press_time_series_is_refused_for_what_it_lacks(tmp_path):
    """The Zagar & Mihelic press log has force and speed but no room climate, vibration,
    maintenance or fault label: the loader reads it (';'-separated) and names what is missing."""
    path = shared_file("tablet_press_process", "Process_timeseries_code6.csv")
    cfg = make_cfg(tmp_path, ["data/fault=file", f"data.fault.path={path}", "data.fault.separator=';'",
                              "data.fault.columns.pressure_kN=main_comp", "data.fault.columns.speed_rpm=tbl_speed"])
    with pytest.raises(DataValidationError) as err:
        fault_loader.load(cfg.data.fault, Quarantine(path))
    message = str(err.value)
    assert "Process_timeseries_code6.csv" in message and "main_comp" not in message.split("the file has")[0]
    for ours in ("temperature_C", "vibration_mm_s", "humidity_pct", "maintenance_cycles", "fault"):
        assert f"(for {ours})" in message
