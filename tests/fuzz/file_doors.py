"""What every generated attack on a file door asserts, and the corruptions it draws from.

`attack(call)` runs one case: the door either answers or refuses with one of the expected errors
of pipeline/core/cli.py in one line (never a traceback: any other exception fails the test, and
hypothesis shrinks it to the smallest file that does it), within MAX_SECONDS and MAX_PEAK_BYTES
of Python allocations (tracemalloc: numpy and pandas report theirs). Tracing allocations triples
a case's time, so memory is measured on every third case under the `ci` profile and on every
case under `long`. `cases(n)`: a test's budget, n under `ci`, scaled up with the loaded profile's.

`corrupt_table(draw, header, rows)` applies a few of the corruptions a real file has: wrong types,
NaN/inf, huge numbers, formula cells, empty cells; duplicated, shuffled and dropped rows;
duplicated, missing and renamed columns; and `encode(draw, text)` odd separators, quoting and
encodings. `attack_stage(kind, base, data)` runs a prepare stage on such a file. Used by
tests/fuzz/test_prices_*.py, test_fault_*.py and test_line_*.py.
"""
from __future__ import annotations

import importlib
import itertools
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import event, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from pipeline.core import cli
from pipeline.core.io import neutralise_cell

MAX_SECONDS = 10.0           # per case, generous for a loaded CI machine (a case takes 0.02-0.3 s)
MAX_PEAK_BYTES = 300 * 2**20  # per case; the files are at most a few hundred rows
CI_CASES = 50                # max_examples of the ci profile (tests/hypothesis_profiles.py)
_cases = itertools.count()


def cases(n: int) -> int:
    """`n` cases under the ci profile, as many times more as the loaded profile has (long: 400x)."""
    return max(1, round(n * settings.default.max_examples / CI_CASES))

BAD_CELLS = ["", "nan", "NaN", "inf", "-inf", "1e308", "-1e308", "1e999", "abc", "=cmd|' /C calc'!A0", "0x1F",
             "1,5", " 7 ", "\u221e", "None", "null", "TRUE", "-0", "+5", "1e-320", "12345678901234567890123",
             "\t", "\"", "'", ";", "\\N", "\u00e9t\u00e9", "\x00"]
BAD_STAMPS = ["", "yesterday", "2021-02-30 00:00:00", "99999-01-01 00:00:00", "2021-01-01T00:00:00+25:00",
              "1e9", "0", "2021-13-01", "01/02/2021 25:00", "NaT", "2021-07-01 00:00:00 PST"]


@dataclass
class Outcome:
    result: Any
    error: BaseException | None
    seconds: float
    peak_bytes: int


def attack(call: Callable[[], Any]) -> Outcome:
    """Run one case and check its outcome: an answer, or an expected error in one line; bounded."""
    traced = settings.default.max_examples > CI_CASES or next(_cases) % 3 == 0
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    error = result = None
    try:
        result = call()
    except cli.EXPECTED as exc:  # anything else propagates: a traceback is a failure
        error = exc
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        if traced:
            tracemalloc.stop()
    if error is not None:
        message = cli.message(error)
        assert message.strip() and "\n" not in message, f"not one line: {message!r}"
        assert "Traceback" not in message
    assert seconds < MAX_SECONDS, f"{seconds:.1f} s for one case"
    assert peak < MAX_PEAK_BYTES, f"{peak / 2**20:.0f} MiB for one case"
    return Outcome(result, error, seconds, peak)


def composed(folder: Path, kind: str, option: str) -> dict:
    """conf/ composed (tiny) with data/<kind>=<option>, as a plain dict to merge each case's path
    into: composing costs about a second, so a test module does it once."""
    from tests.conftest import make_cfg

    return OmegaConf.to_container(make_cfg(folder, [f"data/{kind}={option}", f"data.{kind}.path=/placeholder.csv"]))


def attack_stage(kind: str, base: dict, data: bytes, options: dict | None = None,
                 then: Callable[[Path, dict], None] | None = None) -> Outcome:
    """Run stage prepare_<kind> on a file holding `data` (config `base` with data.<kind>.path set
    and `options` merged in), as attack() does. When it answers: rows read = accepted +
    quarantined, no live formula in its quarantine file, and `then(out_dir, metrics)`."""
    prepare = importlib.import_module(f"pipeline.data.{kind}").prepare
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "input.csv"
        path.write_bytes(data)
        cfg = OmegaConf.merge(base, {"data": {kind: {"path": str(path), **(options or {})}}})
        outcome = attack(lambda: prepare(cfg, folder / "out", folder / "rep"))
        event("answered" if outcome.error is None else f"refused: {str(outcome.error).split(': ', 1)[-1][:50]}")
        if outcome.error is None:
            metrics = outcome.result
            assert metrics["rows_accepted"] + metrics["quarantined_rows"] == metrics["rows_read"]
            cells = pd.read_csv(folder / "rep" / f"{kind}_quarantine.csv", dtype=str,
                                keep_default_na=False).to_numpy().ravel()
            assert all(neutralise_cell(c) == c for c in cells), "a live formula in the quarantine file"
            if then is not None:
                then(folder / "out", metrics)
    return outcome


def corrupt_table(draw, header: list[str], rows: list[list[str]], stamp_column: int = 0,
                  max_changes: int = 3) -> tuple[list[str], list[list[str]]]:
    """`header` and `rows` with up to `max_changes` corruptions drawn from those of real files
    (none in about a third of the cases, so that clean files reach the end of the stage too)."""
    header, rows = list(header), [list(r) for r in rows]
    changes = draw(st.lists(st.sampled_from(CHANGES), max_size=max_changes) | st.just([]), label="changes")
    for kind in changes:
        if not rows or not header:
            break
        i = draw(st.integers(0, len(rows) - 1), label="row")
        j = draw(st.integers(0, len(header) - 1), label="column")
        row = rows[i]
        if kind == "cell" and j < len(row):
            row[j] = draw(st.sampled_from(BAD_CELLS) | st.floats().map(repr) | st.text(max_size=12))
        elif kind == "stamp" and stamp_column < len(row):
            row[stamp_column] = draw(st.sampled_from(BAD_STAMPS) | st.text(max_size=20))
        elif kind == "huge" and j < len(row):
            row[j] = draw(st.sampled_from(["1e300", "-1e300", "9" * 400, "1e15", "-1e15"]))
        elif kind == "duplicate_row":
            rows.insert(i, list(row))
        elif kind == "swap_rows":
            k = draw(st.integers(0, len(rows) - 1))
            rows[i], rows[k] = rows[k], rows[i]
        elif kind == "shuffle":
            rows = draw(st.permutations(rows))
        elif kind == "drop_row":
            del rows[i]
        elif kind == "duplicate_column":
            header.append(header[j])
            for r in rows:
                r.append(r[j] if j < len(r) else "")
        elif kind == "drop_column" and len(header) > 1:
            del header[j]
            for r in rows:
                del r[j:j + 1]
        elif kind == "rename_column":
            header[j] = draw(st.sampled_from(["", " " + header[j], header[j].upper(), "=x", "Unnamed: 0"]))
        elif kind == "short_row":
            rows[i] = row[: draw(st.integers(0, max(0, len(row) - 1)))]
        elif kind == "long_row":
            rows[i] = row + ["extra"] * draw(st.integers(1, 3))
    return header, rows


CHANGES = ["cell", "stamp", "huge", "duplicate_row", "swap_rows", "shuffle", "drop_row", "duplicate_column",
           "drop_column", "rename_column", "short_row", "long_row"]


def encode(draw, header: list[str], rows: list[list[str]], separator: str) -> bytes:
    """The table as the bytes of a file: usually as configured, sometimes with another separator,
    quoting, line ends, a byte-order mark, another encoding or a stretch of random bytes."""
    sep = draw(st.sampled_from([separator] * 12 + [";", "\t", "|", ","]), label="separator")
    quote = draw(st.booleans(), label="quote")
    cell = (lambda v: '"' + v.replace('"', '""') + '"') if quote else (lambda v: v)
    end = draw(st.sampled_from(["\n"] * 4 + ["\r\n", "\r"]), label="line end")
    text = end.join(sep.join(cell(v) for v in r) for r in [header, *rows]) + end
    encoding = draw(st.sampled_from(["utf-8"] * 12 + ["utf-8-sig", "utf-16", "latin-1", "cp1252"]), label="encoding")
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 19), label="noise") == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at:]
    return data
