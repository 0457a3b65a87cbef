"""The inventory prediction service: the registered champion's numbers for a raw log or a daily
series, identical to the stage's own forecast, and clear 4xx answers to bad input. In-process
over real HTTP on a loopback port (uvicorn in a thread); the slow test starts the command.
The doors (token, body limit, bounded requests, no echo): test_service_doors.py."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.inventory.service import create_app
from tests.inventory.http_helpers import call, running
from tests.inventory.trained import trained as trained_once


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    it = trained_once(tmp_path_factory)
    return it.cfg, it.metrics


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return trained_once(tmp_path_factory).model


class Client:
    def __init__(self, base: str):
        self.base = base

    def post(self, path: str, json: dict | None = None, content: str | bytes | None = None, headers=None):
        body = json if json is not None else (content.encode() if isinstance(content, str) else content)
        status, data = call(self.base + path, body, (headers or {}).get("content-type", "application/json"))
        return Reply(status, data)

    def get(self, path: str):
        return Reply(*call(self.base + path))


class Reply:
    def __init__(self, status: int, data: dict):
        self.status_code, self._data = status, data
        self.text = str(data)

    def json(self) -> dict:
        return self._data


@pytest.fixture(scope="module")
def client(tmp_path_factory, model):
    with running(create_app(model, trained_once(tmp_path_factory).settings())) as base:
        yield Client(base)


def raw_log(cfg) -> pd.DataFrame:
    return pd.read_csv(Path(cfg.paths.data) / "inventory" / "log.csv", dtype=str, keep_default_na=False)


def stage_forecast(cfg) -> pd.DataFrame:
    return pd.read_csv(Path(cfg.paths.reports) / "inventory" / "forecast_next_days.csv")


def test_stage_registers_its_bundle_and_says_whether_it_is_champion(trained):
    cfg, metrics = trained
    reg = metrics["registry"]
    assert reg["name"] == cfg.tracking.registry.models.inventory
    assert reg["is_champion"] == reg["beats_baselines"]
    assert ("does NOT beat" in reg["statement"]) != reg["beats_baselines"]
    written = json.loads((Path(cfg.paths.reports) / "inventory" / "metrics.json").read_text())
    assert written["registry"]["version"] == reg["version"]


def test_raw_log_gives_the_stages_forecast_exactly(trained, model, client):
    cfg, _ = trained
    selection = model.selection
    rows = raw_log(cfg).to_dict("records")
    days = int(cfg.model.inventory.reorder.default_days)
    reply = client.post("/forecast", json={"rows": rows, "days": days, "as_of": selection["last_date"]})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["model"]["version"] == model.version and body["as_of"] == selection["last_date"]
    got = pd.DataFrame([{"chemical": s["chemical"], "location": s["location"], "date": f["date"],
                         "forecast": f["amount"]} for s in body["series"] for f in s["forecast"]])
    want = stage_forecast(cfg)[["chemical", "location", "date", "forecast"]]
    pd.testing.assert_frame_equal(got.sort_values(["chemical", "location", "date"]).reset_index(drop=True),
                                  want.sort_values(["chemical", "location", "date"]).reset_index(drop=True),
                                  check_exact=True)
    table = pd.read_csv(Path(cfg.paths.reports) / "inventory" / "reorder.csv")
    answered = pd.DataFrame(body["series"]).set_index(["chemical", "location"])
    for _, row in table.iterrows():
        mine = answered.loc[(row["chemical"], row["location"])]
        assert mine["reorder_point"] == row["reorder_point"] and bool(mine["reorder_now"]) == bool(row["reorder_now"])


def test_csv_body_and_daily_series_give_the_same_numbers(trained, model, client):
    cfg, _ = trained
    log = raw_log(cfg)
    as_of = model.selection["last_date"]
    one = log[(log["chemical"] == log["chemical"].iloc[0]) & (log["location"] == log["location"].iloc[0])]
    by_json = client.post("/forecast", json={"rows": one.to_dict("records"), "as_of": as_of}).json()
    by_csv = client.post(f"/forecast/csv?as_of={as_of}", content=one.to_csv(index=False),
                         headers={"content-type": "text/csv"}).json()
    assert by_csv["series"] == by_json["series"] and len(by_json["series"]) == 1
    daily = pd.read_parquet(Path(cfg.paths.data) / "inventory" / "daily.parquet")
    key = (by_json["series"][0]["chemical"], by_json["series"][0]["location"])
    part = daily[(daily.chemical == key[0]) & (daily.location == key[1])]
    series = [{"date": str(d.date()), "chemical": key[0], "location": key[1], "used": u, "experiments": int(e),
               "purchased": p} for d, u, e, p in zip(part.date, part.used, part.experiments, part.purchased)]
    by_series = client.post("/forecast", json={"series": series}).json()
    assert by_series["series"][0]["forecast"] == by_json["series"][0]["forecast"]
    assert by_series["series"][0]["stock_on_hand"] == pytest.approx(by_json["series"][0]["stock_on_hand"])


def test_bad_input_is_refused_with_row_column_and_reason(trained, model, client):
    cfg, _ = trained
    rows = raw_log(cfg).to_dict("records")
    rows[3] = {**rows[3], "unit": "bucket"}
    rows[5] = {**rows[5], "CAS": "64-17-6"}
    reply = client.post("/forecast", json={"rows": rows})
    assert reply.status_code == 422
    bad = {(r["row"], r["column"]) for r in reply.json()["rows"]}
    assert {(5, "unit"), (7, "CAS")} <= bad and "row(s) fail" in reply.json()["detail"]

    missing = [{k: v for k, v in r.items() if k != "CAS"} for r in raw_log(cfg).to_dict("records")[:5]]
    reply = client.post("/forecast", json={"rows": missing})
    assert reply.status_code == 422 and "missing column(s) ['CAS']" in reply.json()["detail"]

    short = raw_log(cfg)
    short = short[short["id"].astype(int) > short["id"].astype(int).max() - 10]
    reply = client.post("/forecast", json={"rows": short.to_dict("records")})
    assert reply.status_code == 422 and "day(s) of history" in reply.json()["detail"]

    assert client.post("/forecast", json={}).status_code == 422  # neither rows nor series
    assert client.post("/forecast", json={"series": [{"date": "2020-01-02", "chemical": "Ethanol",
                                                      "location": "Lab_1", "used": -1, "experiments": 0}]}).status_code == 422
    reply = client.post("/forecast", json={"rows": raw_log(cfg).to_dict("records"), "days": model.horizon + 1})
    assert reply.status_code == 422 and "horizon" in reply.json()["detail"]
    reply = client.post("/forecast/csv", content=b"\x00\xff garbage", headers={"content-type": "text/csv"})
    assert reply.status_code == 422
    assert client.get("/health").json()["version"] == model.version


def test_a_body_over_the_limit_is_refused_before_it_is_read(tmp_path_factory, trained, model):
    rows = raw_log(trained[0]).to_dict("records")
    with running(create_app(model, trained_once(tmp_path_factory).settings(max_body_bytes=1000))) as base:
        status, body = call(base + "/forecast", {"rows": rows})
        assert status == 413 and "serve.max_body_mb" in body["detail"]
        assert call(base + "/health")[0] == 200
