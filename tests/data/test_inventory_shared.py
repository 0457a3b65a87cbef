"""The public sample log in ../shared/data (skips when the folder is absent)."""
import pandas as pd

from pipeline.data.inventory import stage as inventory
from tests.conftest import make_cfg, shared_file


def test_shared_sample_is_cleaned_and_counted(tmp_path):
    path = shared_file("chemical_inventory", "chemical_inventory_usage.csv")
    cfg = make_cfg(tmp_path, ["data/inventory=shared_sample", f"data.inventory.path={path}"])
    metrics = inventory.prepare(cfg, tmp_path / "out", tmp_path / "reports")
    raw = pd.read_csv(path)
    assert metrics["raw_rows"] == len(raw) == metrics["clean_rows"] + metrics["quarantined_rows"]
    # The catalogue tracks Chemical_A..D by volume with no density: every g/mg row is quarantined.
    mass_rows = int(raw["unit"].isin(["g", "mg"]).sum())
    assert metrics["quarantined_by_reason"] == {"mass_without_density": mass_rows}
    # No CAS binds the anonymised names, so none is verified; the file uses four per chemical.
    assert metrics["rows_cas_unverified"] == metrics["clean_rows"]
    assert metrics["max_cas_numbers_per_chemical"] == 4
    daily = pd.read_parquet(tmp_path / "out" / "daily.parquet")
    assert daily["day"].max() == raw["id"].max() and metrics["series"] == 12
    assert set(daily["base_unit"]) == {"ml"}
