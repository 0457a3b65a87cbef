"""The corpus of bad inputs: every bad row quarantined with its reason and counted; whole-file
problems stop the stage with an error naming the file (and row/column where there is one)."""
import pandas as pd
import pytest

from pipeline.contracts.inventory import rules
from pipeline.contracts.inventory.catalogue import Catalogue
from pipeline.contracts.inventory.daily import daily_series
from pipeline.core.validation import DataValidationError, Quarantine
from pipeline.data.inventory import stage as inventory
from tests.conftest import make_cfg
from tests.data.inventory_corpus import BAD_ROWS, GOOD, GOOD_LAST, write_log


@pytest.fixture
def corpus_cfg(tmp_path):
    path = write_log(tmp_path / "bad_log.csv", [GOOD, *[row for row, _ in BAD_ROWS], GOOD_LAST])
    return make_cfg(tmp_path, ["data/inventory=file", f"data.inventory.path={path}"]), path


def test_each_bad_row_is_quarantined_with_its_reason(corpus_cfg, tmp_path):
    cfg, path = corpus_cfg
    metrics = inventory.prepare(cfg, tmp_path / "out", tmp_path / "reports")
    expected = pd.Series([reason for _, reason in BAD_ROWS]).value_counts().to_dict()
    assert metrics["quarantined_by_reason"] == expected
    assert metrics["quarantined_rows"] == len(BAD_ROWS)
    assert metrics["clean_rows"] == 2 and metrics["raw_rows"] == len(BAD_ROWS) + 2
    assert metrics["rows_accepted"] + metrics["quarantined_rows"] == metrics["rows_read"] == len(BAD_ROWS) + 2
    table = pd.read_csv(tmp_path / "reports" / "inventory_quarantine.csv")
    assert list(table["reason"]) == [reason for _, reason in BAD_ROWS]
    assert list(table["source_row"]) == list(range(3, 3 + len(BAD_ROWS)))  # header is row 1
    assert set(table["source_file"]) == {str(path)}
    assert table.loc[table["reason"] == "unit_unknown", "column"].eq("unit").all()
    assert table["reason_text"].str.len().gt(10).all()  # every code has its sentence beside it
    implausible = table.loc[table["reason"] == "amount_implausible", "reason_text"].iloc[0]
    assert implausible == ("amount above the plausible limit for one row (1e+06 ml for a volume) "
                           "(data.inventory.plausible_max)")


def test_duplicates_and_implausible_amounts_can_be_counted_instead(corpus_cfg, tmp_path):
    cfg, path = corpus_cfg
    cfg = make_cfg(tmp_path, ["data/inventory=file", f"data.inventory.path={path}",
                              "data.inventory.on_duplicate=count", "data.inventory.on_implausible=count"])
    metrics = inventory.prepare(cfg, tmp_path / "out", tmp_path / "reports")
    assert metrics["flagged_but_kept"] == {"amount_implausible": 2, "duplicate_record": 1}
    assert "duplicate_record" not in metrics["quarantined_by_reason"]
    assert metrics["clean_rows"] == 5 and metrics["rows_accepted"] + metrics["quarantined_rows"] == metrics["rows_read"]


def test_density_from_conf_rescues_a_cross_kind_row(tmp_path):
    row = (3, "11.9", "g", "Lab_1", "Hydrochloric acid", "7647-01-0", "Experiment_1")
    path = write_log(tmp_path / "log.csv", [row])
    cfg = make_cfg(tmp_path, ["data/inventory=file", f"data.inventory.path={path}",
                              "data.inventory.chemicals.hydrochloric_acid.density_g_per_ml=1.19"])
    q = Quarantine(path)
    clean = rules.clean_log(rules.read_log(path), Catalogue.from_config(cfg.data.inventory), q)
    assert q.total == 0 and clean["amount_base"].iloc[0] == pytest.approx(10.0)


def test_missing_column_is_an_error_naming_file_and_column(tmp_path):
    path = write_log(tmp_path / "log.csv", [GOOD[:6]], columns=["id", "amount_taken", "unit", "location", "chemical", "CAS"])
    with pytest.raises(DataValidationError, match=r"log\.csv.*reason"):
        rules.read_log(path)


def test_empty_file_and_missing_file_are_errors(tmp_path):
    with pytest.raises(DataValidationError, match="no data rows"):
        rules.read_log(write_log(tmp_path / "empty.csv", []))
    with pytest.raises(FileNotFoundError, match="data.inventory.path"):
        rules.read_log(tmp_path / "absent.csv")


def test_nothing_left_is_an_error_not_an_empty_output(tmp_path):
    path = write_log(tmp_path / "log.csv", [row for row, _ in BAD_ROWS[:3]])
    cfg = make_cfg(tmp_path, ["data/inventory=file", f"data.inventory.path={path}"])
    with pytest.raises(ValueError, match="no clean rows"):
        inventory.prepare(cfg, tmp_path / "out", tmp_path / "reports")


def test_bad_catalogue_entry_is_a_config_error(tmp_path):
    path = write_log(tmp_path / "log.csv", [GOOD])
    cfg = make_cfg(tmp_path, ["data/inventory=file", f"data.inventory.path={path}",
                              "data.inventory.chemicals.ethanol.cas=64-17-6"])
    with pytest.raises(ValueError, match=r"chemicals\.ethanol\.cas"):
        inventory.prepare(cfg, tmp_path / "out", tmp_path / "reports")


def test_a_file_whose_lines_end_with_a_delimiter_is_read_unshifted(tmp_path):
    """A spreadsheet export ends every line with a comma: pandas took the first column for the row
    index and shifted every value one column left (the loader fuzz found it)."""
    path = tmp_path / "trailing.csv"
    path.write_text(",".join(["id", "amount_taken", "unit", "location", "chemical", "CAS", "reason"]) + "\n"
                    + "".join(",".join(map(str, row)) + ",\n" for row in (GOOD, GOOD_LAST)))
    raw = rules.read_log(path)
    assert list(raw["id"]) == ["1", "9"] and list(raw["unit"]) == ["ml", "L"]
    cfg = make_cfg(tmp_path, ["data/inventory=file", f"data.inventory.path={path}"])
    q = Quarantine(path)
    assert len(rules.clean_log(raw, Catalogue.from_config(cfg.data.inventory), q)) == 2 and q.total == 0


def test_a_row_written_differently_but_read_alike_is_a_duplicate(tmp_path):
    """' 5' and '5.0' are the amount 5 to the loader (and a CSV reader drops leading spaces where a
    JSON client keeps them): duplicates are judged on what is read, so a file and a request agree."""
    again = (GOOD[0], f" {float(GOOD[1])}", f"{GOOD[2]} ", *GOOD[3:])
    path = write_log(tmp_path / "log.csv", [GOOD, again, GOOD_LAST])
    cfg = make_cfg(tmp_path, ["data/inventory=file", f"data.inventory.path={path}"])
    q = Quarantine(path)
    rules.clean_log(rules.read_log(path), Catalogue.from_config(cfg.data.inventory), q)
    assert dict(q.counts) == {"duplicate_record": 1}
