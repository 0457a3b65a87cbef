"""`python -m pipeline.inventory` (stage train_inventory),
`python -m pipeline.inventory forecast --days 14` (next days per chemical and reorder advice) and
`python -m pipeline.inventory serve` (HTTP service of the registered champion, conf/serve; server.py);
each takes Hydra overrides of params.yaml after the command (`serve serve.port=8001`)."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from pipeline.core.cli import run_stage, stage_parser
from pipeline.core.config import load_params
from pipeline.core.settings import data_inventory, model_inventory, run, serve, tracking, trainer
from pipeline.core.staging import staged

COMMANDS = ("train", "forecast", "serve")
# The sections each command reads, checked as it loads them.
SETTINGS = {
    "train": {"seed": run.Seed, "paths": run.Paths, "tracking": tracking.Tracking, "trainer": trainer.Trainer,
              "data.inventory": data_inventory.DataInventory, "model.inventory": model_inventory.ModelInventory},
    "forecast": {"paths": run.Paths, "model.inventory": model_inventory.ModelInventory},
    "serve": {"tracking": tracking.Tracking, "serve": serve.Serve},
}


def forecast(cfg, days: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reorder table and daily forecast from the newest data with the trained models;
    also written to reports/inventory/reorder_latest.csv and forecast_latest.csv (not the
    stage's reorder.csv, which DVC tracks as an output of train_inventory)."""
    from pipeline.inventory import reorder  # here, not at the top: `serve` need not load torch
    from pipeline.inventory.features import build_series
    from pipeline.inventory.train import load_daily

    r = cfg.model.inventory.reorder
    models_dir = Path(cfg.paths.models)
    selection = reorder.load_selection(models_dir)
    c = selection["config"]
    daily = load_daily(cfg)
    keys = [list(k) for k in daily[["chemical", "location"]].drop_duplicates().sort_values(["chemical", "location"]).itertuples(index=False)]
    if keys != selection["keys"]:
        raise ValueError("data/inventory/daily.parquet holds other series than the trained models: rerun training")
    data = build_series(daily, c["split"], scale=selection["scale"])
    future = reorder.predict_future(data, selection, models_dir)
    table, daily = reorder.reorder_table(data, future, selection, int(days or r.default_days),
                                         int(r.lead_time_days), float(r.service_level))
    out = Path(cfg.paths.reports) / "inventory"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "reorder_latest.csv", index=False)
    daily.to_csv(out / "forecast_latest.csv", index=False)
    return table, daily


def parse_args(argv: list[str] | None = None):
    parser = stage_parser(__doc__.splitlines()[0], overrides=False)
    parser.add_argument("words", nargs="*", metavar="[command] overrides",
                        help=f"{' | '.join(COMMANDS)} (default train), then Hydra overrides")
    parser.add_argument("--days", default=None, help="days to forecast (default: model.inventory.reorder.default_days)")
    parser.add_argument("--model", default=None, help="serve: models:/<name>@<alias> or models:/<name>/<version> (default: serve.model)")
    parser.add_argument("--host", default=None, help="serve: address to bind (default: serve.host, loopback)")
    parser.add_argument("--port", default=None, help="serve: port (default: serve.port)")
    parser.add_argument("--workers", default=None, help="serve: worker processes (default: serve.workers)")
    parser.add_argument("--open", action="store_true", default=None,
                        help="serve: without a bearer token, on loopback only (default: serve.auth.open)")
    args = parser.parse_intermixed_args(argv)  # overrides before or after the flags
    words = args.words
    args.command = words[0] if words and words[0] in COMMANDS else "train"
    args.overrides = words[1:] if words and words[0] in COMMANDS else list(words)
    # the flags are overrides by another name: checked by the same schema
    flags = {"serve.model": args.model, "serve.host": args.host, "serve.port": args.port,
             "serve.workers": args.workers, "serve.auth.open": "true" if args.open else None,
             "model.inventory.reorder.default_days": args.days}
    args.overrides += [f"{key}={value}" for key, value in flags.items() if value is not None]
    return args


def main() -> None:
    args = parse_args()
    command = args.command
    cfg = load_params(args.params, SETTINGS[command], args.overrides)
    if command == "serve":
        import mlflow

        from pipeline.core.tracking import tracking_uri
        from pipeline.inventory.server import serve

        mlflow.set_tracking_uri(tracking_uri(cfg))
        s = cfg.serve
        serve(s, str(s.model), str(s.host), int(s.port), int(s.workers), bool(s.auth.open))
        return
    if command == "forecast":
        table, daily = forecast(cfg, None)
        wide = daily.pivot_table(index="date", columns=["chemical", "location"], values="forecast")
        with pd.option_context("display.width", 200, "display.max_columns", 50, "display.float_format", "{:.1f}".format):
            print(wide.T.to_string())
            print()
            print(table.drop(columns=["note"]).to_string(index=False))
        return
    from pipeline.inventory.train import run

    # written aside and moved in at the end (reports/inventory/ also holds the forecast's files: merged)
    with staged(cfg, "train_inventory", ("models", "reports")) as work:
        metrics = run(work)
    print(f"train_inventory: selected mean WAPE {metrics['selected_mean_wape']:.3f} vs seasonal naive "
          f"{metrics['naive_mean_wape']:.3f} ({100 * metrics['improvement_vs_naive']:+.1f}%), "
          f"{metrics['chemicals_beating_naive']}/{metrics['chemicals']} chemicals beat naive, "
          f"{metrics['chemicals_with_skill']}/{metrics['chemicals']} with skill over a zero forecast")
    for line in metrics["statements"]:
        print("  " + line)
    print(f"train_inventory: {metrics['registry']['statement']}")


if __name__ == "__main__":
    from pipeline.core.cli import take_debug_flag
    from pipeline.core.registry import ModelNotFound

    serving = parse_args(take_debug_flag(sys.argv[1:])).command == "serve"
    run_stage("inventory service" if serving else "inventory", main, expected=(ModelNotFound,))
