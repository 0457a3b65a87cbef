"""The prediction service's doors (issue 21, 26), each on the request that broke it: the loader's
limits travel with the model, numbers beyond physical limits and far-off dates are refused
naming the field, a chunked body is counted as it arrives, no reply echoes the body, a bearer
token is required, and the service refuses to start where it would be exposed or cannot bind.
Real HTTP on loopback (uvicorn in a thread, one app per module); the command itself: the slow
tests of test_service_command.py."""
from __future__ import annotations

import asyncio
import http.client
import json
import socket

import pandas as pd
import pytest

from pipeline.inventory import server
from pipeline.inventory.guards import BodyLimit
from pipeline.inventory.service import create_app
from tests.inventory.http_helpers import call, free_port, running
from tests.inventory.trained import TOKEN, trained

MARKER = "ECHO-ME-" + "x" * 40


@pytest.fixture(scope="module")
def it(tmp_path_factory):
    return trained(tmp_path_factory)


@pytest.fixture(scope="module")
def base(it):
    with running(create_app(it.model, it.settings())) as url:
        yield url


@pytest.fixture(scope="module")
def guarded(it):
    with running(create_app(it.model, it.settings(token=TOKEN))) as url:
        yield url


def one_series(it) -> pd.DataFrame:
    log = it.raw_log()
    return log[(log["chemical"] == log["chemical"].iloc[0]) & (log["location"] == log["location"].iloc[0])].copy()


def daily_series(it) -> list[dict]:
    from pathlib import Path

    daily = pd.read_parquet(Path(it.cfg.paths.data) / "inventory" / "daily.parquet")
    first = daily.iloc[0]
    part = daily[(daily.chemical == first.chemical) & (daily.location == first.location)]
    return [{"date": str(d.date()), "chemical": c, "location": loc, "used": float(u), "experiments": int(e)}
            for d, c, loc, u, e in zip(part.date, part.chemical, part.location, part.used, part.experiments)]


def test_a_row_the_loader_quarantines_is_refused_with_its_row_column_and_reason(it, base):
    log = one_series(it)
    i = log.index[log["reason"].str.startswith("Experiment")][3]
    log.loc[i, ["amount_taken", "unit"]] = ["1e9", "L"]
    status, body = call(f"{base}/forecast", {"rows": log.to_dict("records")})
    assert status == 422, body
    row = list(log.index).index(i) + 2
    assert body["rows"] == [{"row": row, "column": "amount_taken", "reason": "amount_implausible",
                             "reason_text": "amount above the plausible limit for one row (1e+06 ml for a volume) "
                                            "(data.inventory.plausible_max)"}]
    assert body["counts"] == {"amount_implausible": 1}
    assert it.model.checks.plausible_max == {k: float(v) for k, v in it.cfg.data.inventory.plausible_max.items()}


@pytest.mark.parametrize("change,field", [
    ({"stock_on_hand": [{"chemical": "?", "location": "?", "amount": -1e300}]}, ["body", "stock_on_hand", 0, "amount"]),
    ({"stock_on_hand": [{"chemical": "?", "location": "?", "amount": 1e300}]}, ["body", "stock_on_hand", 0, "amount"]),
    ({"days": 0}, ["body", "days"]),
])
def test_numbers_beyond_their_limits_are_refused_naming_the_field(it, base, change, field):
    status, body = call(f"{base}/forecast", {"rows": one_series(it).to_dict("records"), **change})
    assert status == 422 and [e["loc"] for e in body["errors"]] == [field], body


@pytest.mark.parametrize("key,value", [("used", 1e308), ("experiments", 10**20), ("purchased", -1.0),
                                       ("stock", -1e300)])
def test_a_series_value_beyond_its_physical_limit_is_a_422_not_a_500(it, base, key, value):
    series = daily_series(it)
    series[-3][key] = value
    status, body = call(f"{base}/forecast", {"series": series})
    assert status == 422 and body["errors"][0]["loc"] == ["body", "series", len(series) - 3, key], body


def test_series_dates_outside_the_models_calendar_are_refused(it, base):
    series = daily_series(it)
    series[0]["date"] = "1900-01-01"
    status, body = call(f"{base}/forecast", {"series": series})
    assert status == 422 and "calendar runs from" in body["detail"]


def test_as_of_must_lie_within_days_after_log_of_the_log(it, base):
    log = one_series(it)
    last = it.model.checks.day_one + pd.Timedelta(days=int(log["id"].astype(int).max()) - 1)
    allowed = int(it.cfg.serve.limits.days_after_log)
    for far in ("2100-01-01", "9999-12-31"):
        status, body = call(f"{base}/forecast", {"rows": log.to_dict("records"), "as_of": far})
        assert status == 422 and "serve.limits.days_after_log" in body["detail"], body
    status, body = call(f"{base}/forecast", {"rows": log.to_dict("records"),
                                             "as_of": str((last + pd.Timedelta(days=allowed)).date())})
    assert status == 200, body
    status, body = call(f"{base}/forecast/csv?as_of=9999-12-31", log.to_csv(index=False).encode(), "text/csv")
    assert status == 422 and "serve.limits.days_after_log" in body["detail"]


def test_no_reply_echoes_the_body(it, base):
    rows = one_series(it).to_dict("records")
    rows[0]["chemical"] = MARKER
    big = json.dumps({"rows": rows}).encode()
    status, body = call(f"{base}/forecast", big, "text/plain")
    assert status == 415 and len(json.dumps(body)) < 300
    for request in ({"rows": rows, "days": MARKER}, {"rows": MARKER}, {"series": [{"date": MARKER}]},
                    {"rows": rows}):  # the row is refused: its reason is listed, not its cells
        status, body = call(f"{base}/forecast", request)
        assert status == 422 and MARKER not in json.dumps(body) and len(json.dumps(body)) < 20_000, body
    # 3,000 unknown chemicals: the reply names a bounded sample (what a person needs to find the typo)
    unknown = [{**daily_series(it)[0], "chemical": f"{MARKER * 2}{i}"} for i in range(3000)]
    status, body = call(f"{base}/forecast", {"series": unknown})
    assert status == 422 and "and 2995 more" in body["detail"] and len(body["detail"]) < 1000, body
    status, body = call(f"{base}/forecast", b'{"rows": [' + MARKER.encode())
    assert status == 422 and MARKER not in json.dumps(body)


def test_a_422_lists_a_bounded_number_of_rows_and_counts_them_all(it):
    log = it.raw_log()
    log["unit"] = "bucket"
    with running(create_app(it.model, it.settings(limits=it.settings().limits.__class__(
            **{**it.settings().limits.__dict__, "max_error_rows": 7})))) as url:
        status, body = call(f"{url}/forecast/csv", log.to_csv(index=False).encode(), "text/csv")
    assert status == 422 and len(body["rows"]) == 7 and body["counts"] == {"unit_unknown": len(log)}


def _chunked(url: str, chunks: int, size: int, headers: dict | None = None) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    conn.putrequest("POST", "/forecast/csv")
    for k, v in {"content-type": "text/csv", "transfer-encoding": "chunked", **(headers or {})}.items():
        conn.putheader(k, v)
    conn.endheaders()
    try:
        for _ in range(chunks):
            conn.send(b"%x\r\n" % size + b"a" * size + b"\r\n")
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed while we were still sending
    reply = conn.getresponse()
    return reply.status, reply.read()


def test_a_chunked_body_over_the_limit_is_a_413_over_real_http(it, base):
    status, body = _chunked(base, 60, 1_000_000)  # 60 MB without Content-Length
    assert status == 413 and b"serve.max_body_mb" in body


def test_the_body_limit_stops_reading_at_the_limit():
    """In-process, so the bytes the middleware pulled are counted exactly: a 60 MB chunked body
    against a 20 MB limit is refused after 21 MB (the limit plus the chunk that crossed it)."""
    pulled, sent = 0, []

    async def receive():
        nonlocal pulled
        pulled += 1_000_000
        return {"type": "http.request", "body": b"a" * 1_000_000, "more_body": pulled < 60_000_000}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):  # never reached
        raise AssertionError("the app saw a body over the limit")

    asyncio.run(BodyLimit(app, 20_000_000)({"type": "http", "headers": []}, receive, send))
    assert sent[0]["status"] == 413 and pulled == 21_000_000


def test_a_bearer_token_is_required_and_checked(it, guarded):
    rows = one_series(it).to_dict("records")
    assert call(f"{guarded}/health")[0] == 401
    for wrong in ("Bearer nope", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN):
        assert _get(guarded, "/health", {"authorization": wrong})[0] == 401, wrong
    assert _get(guarded, "/health", {"authorization": f"Bearer {TOKEN}"})[0] == 200
    assert _get(guarded, "/openapi.json", {})[0] == 200  # the API's description is public
    status, _ = _post(guarded, "/forecast", json.dumps({"rows": rows}).encode(), {"authorization": f"Bearer {TOKEN}"})
    assert status == 200
    # refused before the body is read: a chunked body over the limit without a token is a 401, not a 413
    assert _chunked(guarded, 30, 1_000_000)[0] == 401


def _get(url, path, headers):
    return _post(url, path, None, headers, "GET")


def _post(url, path, body, headers, method="POST"):
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    conn.request(method, path, body=body, headers={"content-type": "application/json", **headers})
    reply = conn.getresponse()
    return reply.status, reply.read()


# --- starting: everything that can fail does so in one line before "serving" is printed

def test_without_a_token_it_starts_only_open_and_only_on_loopback():
    server.check_exposure("127.0.0.1", None, True, "T")      # --open on loopback: allowed
    server.check_exposure("0.0.0.0", "x" * 16, False, "T")  # a token anywhere: allowed
    with pytest.raises(ValueError, match="not a loopback address"):
        server.check_exposure("0.0.0.0", None, True, "T")
    with pytest.raises(ValueError, match=r"no bearer token .*\$T"):
        server.check_exposure("0.0.0.0", None, False, "T")
    with pytest.raises(ValueError, match="--open"):
        server.check_exposure("127.0.0.1", None, False, "T")
    assert server.is_loopback("localhost") and server.is_loopback("::1") and not server.is_loopback("0.0.0.0")


def test_the_token_comes_from_the_environment_or_a_file_and_must_be_long(tmp_path, monkeypatch):
    monkeypatch.delenv("T", raising=False)
    assert server.read_token({"token_env": "T", "token_file": None}) is None
    monkeypatch.setenv("T", "short")
    with pytest.raises(ValueError, match=r"\$T .*at least 16"):
        server.read_token({"token_env": "T", "token_file": None})
    monkeypatch.setenv("T", TOKEN)
    assert server.read_token({"token_env": "T", "token_file": None}) == TOKEN
    file = tmp_path / "token"
    file.write_text(f"{TOKEN}-from-file\n")
    file.chmod(0o600)
    assert server.read_token({"token_env": "T", "token_file": str(file)}) == f"{TOKEN}-from-file"
    with pytest.raises(ValueError, match="cannot read"):
        server.read_token({"token_env": "T", "token_file": str(tmp_path / "absent")})


def test_a_taken_or_impossible_port_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ValueError, match=f"cannot serve on 127.0.0.1:{port}: Address already in use"):
            server.bind("127.0.0.1", port)
    for bad in (0, 70000, -1):
        with pytest.raises(ValueError, match="allowed a whole number from 1 to 65535"):
            server.bind("127.0.0.1", bad)
    with pytest.raises(ValueError, match="cannot serve on 10.255.255.1"):
        server.bind("10.255.255.1", 8000)


def test_overrides_may_come_before_or_after_the_flags():
    """`serve --port 8001 serve.threads=1` as well as `serve serve.threads=1 --port 8001` (argparse's
    plain parse refused an override after a flag as an unrecognized argument)."""
    from pipeline.inventory.__main__ import parse_args

    for argv in (["serve", "--port", "8001", "serve.threads=1", "--open"],
                 ["serve", "serve.threads=1", "--port", "8001", "--open"]):
        args = parse_args(argv)
        assert args.command == "serve" and sorted(args.overrides) == \
            ["serve.auth.open=true", "serve.port=8001", "serve.threads=1"], argv


def test_a_bundle_without_the_loaders_limits_is_refused_at_start(it):
    """A version registered before bundles carried the limits would judge requests without them."""
    from pipeline.inventory.forecaster import ServedUsageForecaster

    old = {k: v for k, v in it.model.catalogue.items() if k not in ("plausible_max", "max_id")}
    with pytest.raises(ValueError, match=r"lacks \['plausible_max', 'max_id'\].*serve a newer version or retrain"):
        ServedUsageForecaster(it.model.name, "1", "models:/x/1", it.model.selection, old, it.model.lstm, it.model.linear)


def test_each_worker_gets_its_own_socket_on_the_port_and_the_port_stays_taken():
    """SO_REUSEPORT sockets, one per worker, so the kernel spreads a burst of connections over the
    workers; another process (another copy of the service included) still finds the port taken."""
    port = free_port()
    sockets = server.worker_sockets("127.0.0.1", port, 2, server.bind("127.0.0.1", port))
    try:
        assert [s.getsockname()[1] for s in sockets] == [port, port]
        for s in sockets:
            s.listen()
        with pytest.raises(ValueError, match="Address already in use"):
            server.bind("127.0.0.1", port)
    finally:
        for s in sockets:
            s.close()
