"""The generated inventory log, the cleaning and the daily series on it."""
import pandas as pd
import pytest

from pipeline.contracts.inventory import LOG_COLUMNS as COLUMNS, PURCHASE
from pipeline.contracts.inventory import rules
from pipeline.contracts.inventory.cas import cas_problem
from pipeline.contracts.inventory.catalogue import Catalogue
from pipeline.contracts.inventory.daily import daily_series
from pipeline.contracts.inventory.units import UNITS
from pipeline.core.validation import Quarantine
from pipeline.data.inventory import stage as inventory
from pipeline.data.inventory.generator import generate_log
from tests.conftest import make_cfg
from tests.data.inventory_corpus import write_log


@pytest.fixture(scope="module")
def log_and_cfg(tmp_path_factory):
    cfg = make_cfg(tmp_path_factory.mktemp("inv"))
    return generate_log(cfg.data.inventory, int(cfg.seed)), cfg


def test_schema_and_real_cas(log_and_cfg):
    log, cfg = log_and_cfg
    assert list(log.columns) == COLUMNS
    assert all(cas_problem(c) is None for c in log["CAS"].unique())
    catalogue = {v.name: v.cas for v in cfg.data.inventory.chemicals.values()}
    assert all(catalogue[ch] == cas for ch, cas in log[["chemical", "CAS"]].drop_duplicates().itertuples(index=False))


def test_mixed_scales_of_one_kind_per_chemical(log_and_cfg):
    log, cfg = log_and_cfg
    kind_of = {v.name: v.kind for v in cfg.data.inventory.chemicals.values()}
    for chem, units in log.groupby("chemical")["unit"].unique().items():
        assert {UNITS[u][0] for u in units} == {kind_of[chem]}
    assert {"L", "ml"} <= set(log["unit"]) and {"g", "mg"} <= set(log["unit"])


def test_purchases_and_experiments(log_and_cfg):
    log, _ = log_and_cfg
    assert (log["reason"] == PURCHASE).sum() > 0
    assert log.loc[log["reason"] != PURCHASE, "reason"].str.match(r"^Experiment_\d+$").all()


def test_seeded(log_and_cfg):
    log, cfg = log_and_cfg
    again = generate_log(cfg.data.inventory, int(cfg.seed))
    pd.testing.assert_frame_equal(log, again)
    assert not generate_log(cfg.data.inventory, int(cfg.seed) + 1).equals(log)


def test_weekly_rhythm_and_trend(tmp_path):
    cfg = make_cfg(tmp_path, ["data.inventory.days=730"])
    clean = rules.clean_log(generate_log(cfg.data.inventory, 0).astype(str), Catalogue.from_config(cfg.data.inventory), Quarantine("g"))
    use = clean[~clean["is_purchase"]]
    weekend = use["date"].dt.weekday >= 5
    assert weekend.mean() < 0.1  # 2 of 7 days, but labs rarely work then
    rows_per_year = use.groupby(use["day"] > 365).size()
    assert rows_per_year[True] > 1.2 * rows_per_year[False]  # busier later (trend_per_year)


def test_clean_generated_log_has_no_quarantine_and_nonnegative_stock(log_and_cfg):
    log, cfg = log_and_cfg
    q = Quarantine("generated")
    clean = rules.clean_log(log.astype(str), Catalogue.from_config(cfg.data.inventory), q)
    assert q.total == 0 and len(clean) == len(log)
    daily = daily_series(clean, cfg.data.inventory.day_one, int(cfg.data.inventory.days))
    assert (daily["stock"] >= -1e-6).all()
    assert set(daily["base_unit"]) <= {"g", "ml"}


def test_units_are_converted_not_summed(tmp_path):
    cfg = make_cfg(tmp_path)
    rows = [(1, "1.5", "L", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"),
            (1, "250", "ml", "Lab_1", "Ethanol", "64-17-5", "Experiment_2"),
            (3, "500", "mg", "Lab_1", "Sodium chloride", "7647-14-5", "Experiment_1"),
            (3, "2", "g", "Lab_1", "Sodium chloride", "7647-14-5", "Experiment_1"),
            (2, "78.9", "g", "Lab_1", "Ethanol", "64-17-5", "Experiment_1"),  # -> 100 ml by density
            (1, "2.5", "L", "Lab_1", "Ethanol", "64-17-5", "initial purchase")]
    raw = rules.read_log(write_log(tmp_path / "log.csv", rows))
    clean = rules.clean_log(raw, Catalogue.from_config(cfg.data.inventory), Quarantine("t"))
    daily = daily_series(clean, "2020-01-02", 4).set_index(["chemical", "day"])
    assert daily.loc[("Ethanol", 1), "used"] == pytest.approx(1750.0)
    assert daily.loc[("Ethanol", 2), "used"] == pytest.approx(100.0)
    assert daily.loc[("Ethanol", 4), "used"] == 0.0  # zero on a day without use
    assert daily.loc[("Ethanol", 1), "experiments"] == 2
    assert daily.loc[("Ethanol", 4), "stock"] == pytest.approx(2500 - 1850)
    assert daily.loc[("Sodium chloride", 3), "used"] == pytest.approx(2.5)
    assert daily.loc[("Ethanol", 2), "date"] == pd.Timestamp("2020-01-03")
    assert clean["converted_across_kind"].sum() == 1
    short = daily_series(clean, "2020-01-02", 2)  # rows after the last day are left out
    assert short["day"].max() == 2 and short.loc[short["chemical"] == "Sodium chloride", "used"].sum() == 0.0


def test_prepare_writes_outputs_and_metrics(tiny_cfg, tmp_path):
    metrics = inventory.prepare(tiny_cfg, tmp_path / "data", tmp_path / "reports")
    for name in ("log.csv", "clean.parquet", "daily.parquet"):
        assert (tmp_path / "data" / name).exists()
    assert (tmp_path / "reports" / "inventory_quarantine.csv").exists()
    assert metrics["quarantined_rows"] == 0 and metrics["raw_rows"] == metrics["clean_rows"] > 0
    assert metrics["days"] == tiny_cfg.data.inventory.days
