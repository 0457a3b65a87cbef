"""The line data's contract (data/line/): written by pipeline/data/line, read by the forecaster
(pipeline/process) and its real-time replay.

  raw/<sheet>/part-NNNNN.parquet   every validated row, one file per chunk and sheet
  aligned.parquet                  TIMESTAMP, the segment columns (strings: product code, campaign,
                                   batch; none for generated data), every channel on a regular grid
                                   (float32) per batch: batches follow one another by first timestamp,
                                   no calendar time between them (time may step back between batches
                                   of different files)
  events.csv                       ground-truth disturbances and refills (EVENT_COLUMNS)
  layout.json                      LAYOUT_KEYS: channels per sheet, targets, actuators, grid period,
                                   the operating-state rule (`states`), the segment columns
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.core.validation import DataValidationError

TIMESTAMP = "TimeStamp"  # the time column of every sheet (the MSOM 2024 workbook's) and of aligned.parquet
RAW_DIR = "raw"
ALIGNED_FILE = "aligned.parquet"
EVENTS_FILE = "events.csv"
LAYOUT_FILE = "layout.json"
FILES = (ALIGNED_FILE, LAYOUT_FILE, EVENTS_FILE)  # what a reader needs
EVENT_COLUMNS = ["event_id", "kind", "unit", "start", "end", "start_s", "end_s", "magnitude", "scored"]
PRESS_STOP = "press_stop"  # events.csv kind of a press stop (the forecaster checks its unplanned stops against them)
# Keys of layout.json; `station_channels` is added only when the press has per-station channels,
# `product` (the segment column naming the product) only when data.line.product names one.
LAYOUT_KEYS = ("source", "align_period_s", "targets", "channels", "segments", "actuators", "states", "sheets",
               "has_events")


def batch_name(columns, values) -> str:
    """A batch's name from its segment columns and values: 'code 6, campaign 80, batch 369'."""
    return ", ".join(f"{c} {v}" for c, v in zip(columns, values))


def read_layout(path: str | Path) -> dict:
    """layout.json, with an error naming the file and the missing key(s)."""
    path = Path(path)
    layout = json.loads(path.read_text())
    missing = [k for k in LAYOUT_KEYS if k not in layout]
    if missing:
        raise DataValidationError(path, f"lacks key(s) {missing}: rerun prepare_line (python -m pipeline.data line)")
    return layout
