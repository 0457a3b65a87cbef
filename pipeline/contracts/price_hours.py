"""Rows of a price file turned into hourly prices: the file's cadence, time-weighted hourly means,
partial hours and irregular stamps (used by pipeline/contracts/prices.py's reader).

A real-time market file has a row every few minutes (NYISO: 5-minute intervals, plus extra
stamps when its dispatch runs off schedule); the price an hour settles at is the time-weighted
mean of its intervals. Each row's price holds over its interval: from its stamp to the next
stamp or the next point of the file's cadence grid, whichever comes first (`stamp_marks=start`),
or from the previous stamp or cadence point up to its stamp (`stamp_marks=end`: files that
stamp each interval's end, whose day starts at 00:05). An hourly file is the case of one row per
hour: each hour keeps its row's price exactly.

- cadence: of the steps between consecutive stamps that divide an hour, the one covering the
  most time. A stamp on that grid (counted from the hour) is regular, any other irregular:
  irregular rows are kept, time-weighted, and counted.
- an hour is complete when it holds all 3600 s / cadence regular rows; the rows of any other
  hour form a partial hour, which the reader quarantines or refuses (data.prices.partial_hour).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

HOUR = pd.Timedelta(hours=1)
STAMP_MARKS = ("start", "end")
REPEATED = 3  # a step seen this often between rows is the file's own, not the gap around a stray stamp


@dataclass
class Hours:
    """Hourly prices from a file's rows and what was found on the way."""

    table: pd.DataFrame        # per complete hour: `hour` (its start), time-weighted `price`; index = its first row
    cadence: pd.Timedelta      # the file's step between rows
    irregular: pd.Series       # per row: True where the stamp is off the cadence grid
    partial: pd.Series         # per row: True where the row lies in a partial hour
    hour: pd.Series            # per row: the start of the hour its interval lies in
    expected: int              # regular rows in a complete hour
    marks: str                 # what a stamp marks: its interval's start or end

    @property
    def partial_hours(self) -> pd.Series:
        """Regular rows found per partial hour (indexed by hour start)."""
        regular = (~self.irregular)[self.partial]
        return regular.groupby(self.hour[self.partial], sort=False).sum()


def hour_start(stamps: pd.Series) -> pd.Series:
    """The start of each stamp's clock hour (wall time for zone-aware stamps, so the 25-hour day
    of a DST change keeps its two 01:00 hours apart and half-hour zones work)."""
    if stamps.dt.tz is None:
        return stamps.dt.floor("h")
    wall = stamps.dt.tz_localize(None)
    return stamps - (wall - wall.dt.floor("h"))


def hour_of(stamps: pd.Series, marks: str = "start") -> pd.Series:
    """The hour a row's interval lies in: its stamp's hour, or with stamps that mark interval ends
    the hour just before the stamp (16:00 ends the hour from 15:00)."""
    return hour_start(stamps if marks == "start" else stamps - pd.Timedelta(1, "ns"))


def cadence(stamps: pd.Series) -> pd.Timedelta:
    """The file's step between rows: of the steps between consecutive stamps that divide an hour,
    the one that covers the most time (count x length; the finer on a tie), so that the short steps
    around a stray stamp never outvote the file's own. An hour when no step is that short (an
    hourly file with gaps: the window names the missing hours). A file whose rows repeat a step
    that does not divide an hour (every 7 min) is refused."""
    steps = stamps.diff().dropna()
    steps = steps[(steps > pd.Timedelta(0)) & (steps <= HOUR)]
    counts = steps.value_counts()
    divides = counts[[HOUR % step == pd.Timedelta(0) for step in counts.index]]
    if divides.empty:
        if len(counts) and counts.max() >= REPEATED:
            step = pd.Timedelta(counts.idxmax())
            raise ValueError(f"rows every {_show(step)}: an hour is not a whole number of such intervals")
        return HOUR
    covered = pd.Series(divides.to_numpy() * divides.index.total_seconds().to_numpy(), index=divides.index)
    return pd.Timedelta(min(covered.index[covered == covered.max()]))


def interval_of(stamps: pd.Series, step: pd.Timedelta, marks: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(hour, seconds, regular) per row: the hour the row's interval lies in, the interval's
    length and whether the stamp is on the cadence grid."""
    hour = hour_of(stamps, marks)
    if marks == "start":
        into = stamps - hour
        grid_next = hour + (into // step + 1) * step
        following = stamps.shift(-1)
        end = grid_next.where(following.isna() | (grid_next <= following), following)
        seconds = (end - stamps).dt.total_seconds()
    else:
        into = stamps - hour
        grid_prev = hour + ((into - pd.Timedelta(1, "ns")) // step) * step
        previous = stamps.shift(1)
        start = grid_prev.where(previous.isna() | (grid_prev >= previous), previous)
        seconds = (stamps - start).dt.total_seconds()
    regular = (into % step) == pd.Timedelta(0)
    return hour, seconds, regular


def to_hours(stamps: pd.Series, prices: pd.Series, marks: str = "start") -> Hours:
    """Hourly time-weighted prices from rows with ascending, unique `stamps` (same index as
    `prices`). Raises ValueError when the cadence does not divide an hour."""
    if marks not in STAMP_MARKS:
        raise ValueError(f"data.prices.stamp_marks must be one of {list(STAMP_MARKS)}, got {marks!r}")
    step = cadence(stamps)
    expected = int(HOUR // step)
    hour, seconds, regular = interval_of(stamps, step, marks)
    frame = pd.DataFrame({"hour": hour, "seconds": seconds, "regular": regular, "price": prices})
    per_hour = frame.groupby("hour", sort=False)
    found = per_hour["regular"].transform("sum")
    partial = found != expected
    whole = frame[~partial]
    weight = whole["seconds"] / whole.groupby("hour", sort=False)["seconds"].transform("sum")
    grouped = whole.assign(weighted=whole["price"] * weight, row=whole.index).groupby("hour", sort=False)
    # one row per hour (an hourly file): its own price, bit for bit
    value = grouped["weighted"].sum().where(grouped.size() > 1, grouped["price"].first())
    table = pd.DataFrame({"hour": value.index, "price": value.to_numpy()}, index=grouped["row"].first().to_numpy())
    return Hours(table, step, ~regular, partial, hour, expected, marks)


def _show(step: pd.Timedelta) -> str:
    seconds = step.total_seconds()
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def describe_cadence(step: pd.Timedelta) -> str:
    """"5 min", "1 h": for messages."""
    return "1 h" if step == HOUR else _show(step)

