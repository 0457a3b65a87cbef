"""Benchmark: the inventory service under the requests of issue 21's findings, as a newcomer would
send them to the running service (`python -m pipeline.inventory serve`, as configured: bearer
token, serve.workers): per request the status, seconds, reply size, the bytes the service's
processes read (so "refused before 25 MB are read" is measured at the server, not guessed from
the client) and the peak resident memory of each of its processes while it answered (target:
< 1 GB for any single request). The largest bodies the limit lets through are here too, accepted
and refused, since they bound what one request can cost.

    python benchmarks/inventory_service_attacks.py [--model models:/<name>/<version>]

Serves the registered champion of the repository's MLflow store (run `dvc repro` first). Writes
reports/bench/inventory_service_attacks.json.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.config import load_params, repo_root
from pipeline.core.io import write_json
from pipeline.core.tracking import tracking_uri

from service_launch import Sent, Watch, send_body, running

TOKEN = "attack-benchmark-token-0123456789"
MB = 1_000_000


def pieces(body: bytes, size: int = MB) -> list[bytes]:
    return [body[i:i + size] for i in range(0, len(body), size)] or [b""]


def unique_copies(log: pd.DataFrame, max_bytes: int) -> pd.DataFrame:
    """The log repeated, each copy's amounts nudged by a few parts per billion so no row repeats another,
    cut to the most rows whose CSV stays within `max_bytes`: a valid log as large as the limit allows."""
    per_row = len(log.to_csv(index=False).encode()) / len(log)
    parts = []
    for k in range(int(max_bytes / per_row / len(log)) + 1):
        part = log.copy()
        if k:
            part["amount_taken"] = [f"{float(t) * (1 + k * 1e-9):.12g}" for t in part["amount_taken"]]
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    lines = np.cumsum([len(line) + 1 for line in out.to_csv(index=False).encode().split(b"\n")[1:-1]])
    header = len(",".join(out.columns)) + 1
    return out.head(int(np.searchsorted(lines, max_bytes - header, side="right")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="models:/... (default: serve.model, the champion)")
    args = parser.parse_args()
    root = repo_root()
    cfg = load_params()
    os.environ.setdefault("MLFLOW_TRACKING_URI", tracking_uri(cfg))
    limit = int(float(cfg.serve.max_body_mb) * MB)
    log = pd.read_csv(Path(cfg.paths.data) / "inventory" / "log.csv", dtype=str, keep_default_na=False)
    chem, loc = log["chemical"].iloc[0], log["location"].iloc[0]
    one = log[(log.chemical == chem) & (log.location == loc)].copy()
    daily = pd.read_parquet(Path(cfg.paths.data) / "inventory" / "daily.parquet")
    part = daily[(daily.chemical == chem) & (daily.location == loc)]
    series = [{"date": str(d.date()), "chemical": chem, "location": loc, "used": float(u), "experiments": int(e)}
              for d, u, e in zip(part.date, part.used, part.experiments)]
    implausible = one.copy()
    implausible.loc[implausible.index[implausible["reason"].str.startswith("Experiment")][5],
                    ["amount_taken", "unit"]] = ["1e9", "L"]
    big = unique_copies(log, limit - 1000)
    big_bad = unique_copies(log.assign(unit="bucket"), limit - 1000)
    big_json = json.dumps({"rows": big.to_dict("records")}).encode()
    json_rows = big.head(int(len(big) * limit / len(big_json)))
    while len(json.dumps({"rows": json_rows.to_dict("records")}).encode()) > limit - 1000:
        json_rows = json_rows.head(int(len(json_rows) * 0.99))

    def js(payload: dict) -> tuple[str, str, bytes, str]:
        return "POST", "/forecast", json.dumps(payload).encode(), "application/json"

    attacks = {
        "1e9 L in one row (one series, JSON rows)": js({"rows": implausible.to_dict("records")}),
        "stock_on_hand = -1e300": js({"rows": one.to_dict("records"),
                                      "stock_on_hand": [{"chemical": chem, "location": loc, "amount": -1e300}]}),
        "series used = 1e308": js({"series": [*series[:-3], {**series[-3], "used": 1e308}, *series[-2:]]}),
        "series experiments = 1e20": js({"series": [*series[:-3], {**series[-3], "experiments": 10**20}, *series[-2:]]}),
        "as_of = 2100-01-01": js({"rows": one.to_dict("records"), "as_of": "2100-01-01"}),
        "as_of = 9999-12-31 (CSV)": ("POST", "/forecast/csv?as_of=9999-12-31", one.to_csv(index=False).encode(), "text/csv"),
        "15 MB of JSON rows sent as text/plain": ("POST", "/forecast", big_json[:15 * MB], "text/plain"),
        "100,000 unknown chemicals (series)": js({"series": [{**series[0], "chemical": f"Unknown_{i}"}
                                                              for i in range(100_000)]}),
        f"largest accepted CSV ({len(big)} rows, just under the limit)": ("POST", "/forecast/csv", big.to_csv(index=False).encode(), "text/csv"),
        f"largest accepted JSON ({len(json_rows)} rows, just under the limit)": js({"rows": json_rows.to_dict("records")}),
        f"largest refused CSV ({len(big_bad)} rows, every one with unit 'bucket', just under the limit)": ("POST", "/forecast/csv", big_bad.to_csv(index=False).encode(), "text/csv"),
        "60 MB with Content-Length": ("POST", "/forecast/csv", b"a" * (60 * MB), "text/csv"),
    }
    results: dict[str, dict] = {}
    load_before = os.getloadavg()
    with running("service", root, ["--model", args.model] if args.model else [], TOKEN) as service:
        resting = {p.pid: p.memory_info().rss for p in service.tree()}

        def record(name: str, send) -> None:
            with Watch(service) as watch:
                sent = send()
            results[name] = {"status": sent.status, "seconds": round(sent.ms / 1000, 3), "bytes_sent": sent.bytes_sent,
                             "bytes_acknowledged_by_service_host": sent.bytes_acked, "reply_bytes": len(sent.reply),
                             "peak_rss_gb_per_process": sorted(round(v / 1e9, 3) for v in watch.peak.values()),
                             "reply_start": sent.reply[:160].decode(errors="replace")}
            took = f"{sent.bytes_acked / MB:.1f}" if sent.bytes_acked >= 0 else "n/a"
            print(f"{name}: HTTP {sent.status} in {sent.ms / 1000:.2f} s, host took {took} MB of "
                  f"{sent.bytes_sent / MB:.1f} MB sent, reply {len(sent.reply)} B, peak {watch.max_gb():.2f} GB", flush=True)

        auth = service.headers
        for name, (method, path, body, kind) in attacks.items():
            record(name, lambda: send_body(service.port, path, {"content-type": kind, **auth}, pieces(body),
                                           length=len(body)))
        filler = b"6,1.0,L,Lab_3,Acetone,67-64-1,Experiment_1\n" * 24_000
        head = b"id,amount_taken,unit,location,chemical,CAS,reason\n"
        chunks = [head + filler] + [filler] * (60 * MB // len(filler))
        record("60 MB chunked (no Content-Length)", lambda: send_body(service.port, "/forecast/csv",
                                                                       {"content-type": "text/csv", **auth}, chunks,
                                                                       chunked=True))
        record("no bearer token", lambda: send_body(service.port, "/forecast", {"content-type": "application/json"},
                                                    [b'{"rows": []}'], length=12))
        answered, lock = [], threading.Lock()
        body = json.dumps({"rows": one.to_dict("records")}).encode()

        def client() -> None:
            status = send_body(service.port, "/forecast", {"content-type": "application/json", **auth}, [body],
                               length=len(body)).status
            with lock:
                answered.append(status)

        def concurrent() -> Sent:
            t0 = time.perf_counter()
            threads = [threading.Thread(target=client) for _ in range(200)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return Sent(200 if answered == [200] * 200 else 0, json.dumps(sorted(set(answered))).encode(),
                        (time.perf_counter() - t0) * 1000, 200 * len(body), -1)

        record("200 concurrent one-chemical requests", concurrent)
    load_after = os.getloadavg()
    peak = max(max(r["peak_rss_gb_per_process"], default=0) for r in results.values())
    out = {"service": "python -m pipeline.inventory serve (as configured: conf/serve/inventory.yaml)",
           "max_body_bytes": limit, "resting_rss_gb_per_process": sorted(round(v / 1e9, 3) for v in resting.values()),
           "attacks": results, "peak_rss_gb_any_process_any_request": peak, "target_peak_rss_gb": 1.0,
           "server_errors": sorted(n for n, r in results.items() if (r["status"] or 0) >= 500),
           "cores": os.cpu_count(),
           "load_average_1_5_15min": {"before": [round(x, 2) for x in load_before],
                                      "after": [round(x, 2) for x in load_after]},
           "command": "python benchmarks/inventory_service_attacks.py" + (f" --model {args.model}" if args.model else "")}
    write_json(root / "reports" / "bench" / "inventory_service_attacks.json", out)
    print(f"peak RSS of any process for any request: {peak:.2f} GB; 5xx: {out['server_errors'] or 'none'}; "
          f"wrote reports/bench/inventory_service_attacks.json (load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after)")


if __name__ == "__main__":
    main()
