"""Line data (stage prepare_line): generate the 1 Hz line or load a real file, validate it
chunk by chunk, write it once as partitioned Parquet and resample/align it for the model.

Writes the files of pipeline/contracts/line.py under data/line/ (the aligned grid has the
period data.line.align_period_s; events only for generated data) and
reports/data/line_quarantine.csv with every rejected row and its reason.
"""
from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from pipeline.contracts import quarantine as reasons
from pipeline.contracts.line import ALIGNED_FILE, EVENTS_FILE, LAYOUT_FILE, RAW_DIR, TIMESTAMP, batch_name
from pipeline.core.config import origin_root
from pipeline.core.io import ensure_dir, write_json
from pipeline.core.validation import DataValidationError, Quarantine
from pipeline.data.line.generator import LineSimulator
from pipeline.data.line.loaders import SheetSpec, expand_paths, iter_csv, iter_workbook, per_file, sheet_specs
from pipeline.data.line.stations import StationSummary
from pipeline.data.line.validation import Resampler, SheetValidator

SOURCES = ("generated", "workbook", "csv")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def generated_specs(line: DictConfig) -> dict[str, float]:
    """Sampling period of every generated sheet."""
    q = line.quality
    periods = {name: float(line.period_s) for name in [*line.sheets.feeders, line.sheets.blenders, line.sheets.press,
                                                       line.sheets.humidity, line.sheets.temperature]}
    periods[line.sheets.tablets] = float(q.tablets_every_s)
    periods[line.sheets.content] = float(q.content_every_s)
    return periods


def stream(cfg: DictConfig) -> tuple[Iterator[tuple[SheetSpec, pd.DataFrame]], str, int, LineSimulator | None]:
    """(sheet, chunk) pairs from the configured source, its name and an estimate of chunks.
    A real source may be several files (`data.line.path`: a list or a glob): read one after the
    other, each sheet of each file validated on its own (its spec names the file)."""
    line = cfg.data.line
    if line.source not in SOURCES:
        raise ValueError(f"data.line.source must be one of {SOURCES}, not {line.source!r}")
    if line.source == "generated":
        sim = LineSimulator(line, int(cfg.seed))
        periods = generated_specs(line)
        counters: dict[str, int] = {}

        def chunks():
            for sheets in sim.chunks(int(line.chunk_seconds)):
                for name, df in sheets.items():
                    start = counters.get(name, 0)
                    counters[name] = start + len(df)
                    yield SheetSpec(name, TIMESTAMP, periods[name], {}), df.set_axis(pd.RangeIndex(start, start + len(df)))

        n = -(-sim.total_s // int(line.chunk_seconds))
        return chunks(), "generated", n, sim
    configured = line.path if isinstance(line.path, str) or line.path is None else list(line.path)
    if not configured:
        raise ValueError(f"data.line.path is required for source '{line.source}' (conf/data/line/*.yaml)")
    paths = expand_paths(configured, origin_root())
    specs = sheet_specs(line.layout)
    rows = int(line.read.chunk_rows)
    several = len(paths) > 1
    if several and not any(s.segments for s in specs):
        raise ValueError(f"data.line.path names {len(paths)} files: the layout must name the columns that say "
                         "which batch a row belongs to (data.line.layout[].segments), so no batch mixes files")
    label = str(paths[0]) if not several else f"{len(paths)} files: " + ", ".join(p.name for p in paths)
    if line.source == "workbook":
        if several:
            raise ValueError("data.line.path: source 'workbook' reads one workbook; give one file")
        return iter_workbook(paths[0], specs, rows), label, 0, None
    if len(specs) != 1:
        raise ValueError("data.line.layout must hold exactly one sheet for source 'csv'")
    sep = str(line.read.sep)
    return (item for path in paths for item in iter_csv(path, per_file(specs[0], path, several), sep, rows)), label, 0, None


def align(resampled: dict[str, pd.DataFrame], periods: dict[str, float], line: DictConfig,
          segments: list[str] = (), files: dict[str, str] | None = None) -> pd.DataFrame:
    """Join the resampled sheets on one regular grid; low-rate sheets carried forward.

    With segment columns (campaign, batch: text), the grid is built per batch (a run of bins
    with the same segment values), from its first to its last bin, and the batches follow one
    another by their first timestamp: no calendar time between batches is held or counted (the
    time axis can step back where batches of different files overlap). Sheets are joined within
    their file (`files`: sheet -> file); every grid row names its batch."""
    frames = [(name, frame) for name, frame in resampled.items() if not frame.empty]
    if not frames:
        raise DataValidationError("data.line", "no valid rows in any sheet")
    step = float(line.align_period_s)
    limit = max(1, int(float(line.ffill_limit_s) // step))
    if not segments:
        start = min(f.index.min() for _, f in frames)
        end = max(f.index.max() for _, f in frames)
        grid = pd.date_range(start, end, freq=f"{int(step * 1000)}ms")
        return _joined(frames, grid, None, periods, step, limit, ()).reset_index()
    groups: dict[str, list] = {}
    for name, frame in frames:
        groups.setdefault((files or {}).get(name, ""), []).append((name, frame))
    pieces, owner = [], {}
    for file, members in groups.items():
        for piece in _batches(file, members, periods, step, limit, list(segments)):
            key = tuple(piece[list(segments)].iloc[0])
            if owner.setdefault(key, file) != file:
                raise DataValidationError(file, f"batch {dict(zip(segments, key))} is also in {owner[key]}: "
                                                "a batch must come from one file")
            pieces.append(piece)
    pieces.sort(key=lambda piece: piece.index[0])  # stable: a file's batches keep their order
    channels = [c for c in pieces[0].columns if c not in segments]
    for piece in pieces[1:]:
        if sorted(c for c in piece.columns if c not in segments) != sorted(channels):
            raise DataValidationError("data.line", f"the files' channels differ: {channels} and {list(piece.columns)}")
    out = pd.concat([piece[[*segments, *channels]] for piece in pieces])
    out.index.name = TIMESTAMP
    return out.reset_index()


def _joined(frames: list, grid: pd.DatetimeIndex, piece: np.ndarray | None, periods: dict[str, float],
            step: float, limit: int, segments: tuple) -> pd.DataFrame:
    """The sheets' channels reindexed on `grid` (float32), low-rate sheets carried forward
    within a batch (`piece`: batch number per grid row; None: one)."""
    out = pd.DataFrame(index=grid)
    for name, frame in frames:
        frame = frame.drop(columns=[c for c in segments if c in frame.columns]).reindex(grid)
        if periods[name] > step:
            frame = frame.ffill(limit=limit) if piece is None else frame.groupby(piece).ffill(limit=limit)
        clash = [c for c in frame.columns if c in out.columns]
        if clash:
            raise DataValidationError(name, f"channel(s) {clash} appear in more than one sheet")
        out = out.join(frame)
    out.index.name = TIMESTAMP
    return out.astype("float32")


def _batches(file: str, members: list, periods: dict[str, float], step: float, limit: int,
             segments: list[str]) -> list[pd.DataFrame]:
    """One file's batches, each on its own grid (first to last bin of its run of segment values)."""
    carriers = [frame for _, frame in members if all(c in frame.columns for c in segments)]
    if not carriers:
        raise DataValidationError(file or "data.line", f"no sheet holds the segment columns {segments}")
    labels = carriers[0][segments].sort_index()
    change = (labels != labels.shift()).any(axis=1).to_numpy()
    run = np.cumsum(change) - 1
    freq = f"{int(step * 1000)}ms"
    bounds = [(labels.index[run == r][0], labels.index[run == r][-1], labels[run == r].iloc[0]) for r in range(run[-1] + 1)]
    grids = [pd.date_range(a, b, freq=freq) for a, b, _ in bounds]
    grid = grids[0].append(grids[1:]) if len(grids) > 1 else grids[0]
    piece = np.repeat(np.arange(len(grids)), [len(g) for g in grids])
    joined = _joined(members, grid, piece, periods, step, limit, tuple(segments))
    out = []
    for k, (_, _, values) in enumerate(bounds):
        part = joined.iloc[piece == k]
        out.append(part.assign(**{c: str(values[c]) for c in segments})[[*segments, *part.columns]])
    return out


def named_segments(chunk: pd.DataFrame, spec: SheetSpec, quarantine: Quarantine) -> pd.DataFrame:
    """Rows naming their batch (segment columns as stripped text); rows without one are quarantined."""
    for column in spec.segments:
        text = chunk[column].astype("string").str.strip()
        bad = text.isna() | (text == "")
        if bad.any():
            rows = chunk[bad.to_numpy()].copy()
            rows.insert(0, "sheet", spec.name)
            quarantine.add(rows, reasons.SEGMENT_MISSING, column)
            chunk, text = chunk[~bad.to_numpy()], text[~bad.to_numpy()]
        chunk = chunk.assign(**{column: text.astype(str)})
    return chunk


def check_channels(line: DictConfig, channels: list[str]) -> None:
    for key in ("targets",):
        for name in line[key]:
            if name not in channels:
                raise KeyError(f"data.line.{key}: channel '{name}' not in the data (channels: {channels})")
    for target, names in (line.get("actuators") or {}).items():
        for name in [target, *names]:
            if name not in channels:
                raise KeyError(f"data.line.actuators['{target}']: channel '{name}' not in the data")
    states = line.get("states")
    for key in ("speed", "force"):
        if states and states.get(key) and states[key].channel not in channels:
            raise KeyError(f"data.line.states.{key}.channel: '{states[key].channel}' not in the data (channels: {channels})")


def prepare(cfg: DictConfig, out_dir: Path, reports_dir: Path) -> dict:
    """Generate or load, validate, write partitioned Parquet + aligned grid; return metrics."""
    t_start = time.perf_counter()
    line = cfg.data.line
    out_dir, reports_dir = Path(out_dir), Path(reports_dir)
    if (out_dir / RAW_DIR).exists():  # a direct call on a used folder; the stage writes a fresh one
        shutil.rmtree(out_dir / RAW_DIR)  # stale partitions of a longer earlier run must not survive
    ensure_dir(out_dir)
    chunks, source, n_chunks, sim = stream(cfg)
    quarantine = Quarantine(source)
    validators: dict[str, SheetValidator] = {}
    resamplers: dict[str, Resampler] = {}
    summaries: dict[str, StationSummary] = {}
    periods: dict[str, float] = {}
    files: dict[str, str] = {}
    parts: dict[str, int] = {}
    val = line.validation
    segments: list[str] = []
    rows_read = 0
    for spec, chunk in tqdm(chunks, desc="prepare_line", unit="chunk", total=n_chunks * 8 or None, mininterval=2):
        if spec.name not in validators:
            channels = [c for c in chunk.columns if c != spec.timestamp and c not in spec.segments]
            validators[spec.name] = SheetValidator(spec.name, source, spec.timestamp, channels, spec.period_s,
                                                   float(val.gap_factor), float(val.stuck_seconds), quarantine)
            resamplers[spec.name] = Resampler(TIMESTAMP, float(line.align_period_s), spec.segments)
            summaries[spec.name] = StationSummary(line, spec.name, channels, source)
            periods[spec.name], files[spec.name] = spec.period_s, spec.file
            segments += [c for c in spec.segments if c not in segments]
        rows_read += len(chunk)
        chunk = named_segments(chunk, spec, quarantine)
        clean = validators[spec.name].check(chunk)
        if clean.empty:
            continue
        if spec.segments:
            clean = clean.join(chunk.loc[clean.index, list(spec.segments)])
        k = parts.get(spec.name, 0)
        folder = ensure_dir(out_dir / RAW_DIR / slug(spec.name))
        table = pa.Table.from_pandas(clean.rename(columns={spec.timestamp: TIMESTAMP}), preserve_index=False)
        plain = summaries[spec.name].station_columns  # noisy floats: dictionary pages cost time and bytes
        pq.write_table(table, folder / f"part-{k:05d}.parquet", use_dictionary=[c for c in table.column_names if c not in plain])
        parts[spec.name] = k + 1
        resamplers[spec.name].add(summaries[spec.name](clean.rename(columns={spec.timestamp: TIMESTAMP})))
    if not validators:
        raise DataValidationError(source, "no rows read")
    for name, v in validators.items():
        if v.report.rows_out == 0:
            raise DataValidationError(source, f"sheet '{name}': every row was rejected (see the quarantine)")
    aligned = align({n: r.result() for n, r in resamplers.items()}, periods, line, segments, files)
    channels = [c for c in aligned.columns if c not in (TIMESTAMP, *segments)]
    check_channels(line, channels)
    aligned.to_parquet(out_dir / ALIGNED_FILE, index=False)
    events = sim.events_frame() if sim is not None else pd.DataFrame(columns=["kind", "start", "end", "scored"])
    events.to_csv(out_dir / EVENTS_FILE, index=False)
    layout = {"source": str(line.source), "align_period_s": float(line.align_period_s),
              "targets": list(line.targets), "channels": channels, "segments": segments,
              "actuators": OmegaConf.to_container(line.actuators) if line.get("actuators") else {},
              "states": OmegaConf.to_container(line.states) if line.get("states") else None,
              "sheets": {n: v.columns for n, v in validators.items()}, "has_events": sim is not None}
    product = line.get("product")
    if product:  # only then: the generated line keeps its files byte for byte (one of `segments`: the schema checked)
        layout["product"] = str(product)
    stations = {n: d for n, s in summaries.items() if (d := s.describe())}
    if stations:  # only then: the line without stations keeps its files byte for byte
        layout["station_channels"] = stations
    write_json(out_dir / LAYOUT_FILE, layout)
    quarantine.write(ensure_dir(reports_dir) / "line_quarantine.csv")
    result = metrics(validators, quarantine, aligned[[TIMESTAMP, *channels]], events, time.perf_counter() - t_start, source,
                     rows_read)
    if segments:
        result["segments"] = {c: aligned[c].nunique() for c in segments}
        result |= batch_spans(aligned, segments)
    if stations:
        result["station_channels"] = stations
    return result


def batch_spans(aligned: pd.DataFrame, segments: list[str]) -> dict:
    """`hours` as the sum of the batches' spans (first to last step of each; no calendar time
    between batches), the calendar span beside it, and each batch's span and steps."""
    seg = aligned[segments]
    change = (seg != seg.shift()).any(axis=1).to_numpy()
    batch = np.cumsum(change) - 1
    spans = {}
    for _, part in aligned.groupby(batch, sort=True):
        t = part[TIMESTAMP]
        spans[batch_name(segments, [part[c].iloc[0] for c in segments])] = {
            "start": str(t.iloc[0]), "end": str(t.iloc[-1]), "hours": (t.iloc[-1] - t.iloc[0]).total_seconds() / 3600.0,
            "steps": int(len(part))}
    t = aligned[TIMESTAMP]
    return {"hours": float(sum(v["hours"] for v in spans.values())),
            "calendar_hours": (t.max() - t.min()).total_seconds() / 3600.0, "batches": spans}


def metrics(validators: dict[str, SheetValidator], quarantine: Quarantine, aligned: pd.DataFrame,
            events: pd.DataFrame, seconds: float, source: str, rows_read: int | None = None) -> dict:
    sheets = {name: v.report.as_dict() for name, v in validators.items()}
    rows = sum(s["rows_out"] for s in sheets.values())
    rows_in = rows_read if rows_read is not None else sum(s["rows_in"] for s in sheets.values())
    points = sum(v.report.rows_out * len(v.columns) for v in validators.values())
    span = aligned[TIMESTAMP].iloc[-1] - aligned[TIMESTAMP].iloc[0]
    values = aligned.drop(columns=TIMESTAMP).to_numpy()
    by_kind = events["kind"].value_counts().to_dict() if len(events) else {}
    return {
        "source": source,
        "hours": span.total_seconds() / 3600.0,
        "rows": rows,
        "points": points,
        "aligned_rows": len(aligned),
        "aligned_missing_fraction": float(np.isnan(values).mean()) if values.size else 0.0,
        "gaps": sum(s["gaps"] for s in sheets.values()),
        "stuck_runs": sum(s["stuck_runs_total"] for s in sheets.values()),
        "events": {str(k): int(v) for k, v in by_kind.items()},
        "seconds": seconds,
        "sheets": sheets,
        **quarantine.metrics(rows_in, rows),
    }
