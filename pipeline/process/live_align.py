"""Live samples onto the model's grid, as prepare_line aligns a recording, one sample at a time.

Each tag delivers (line time, value) samples at its own rate, in order per tag but not across
tags (an OPC UA publish packs notifications item by item). A grid step k covers line time
[k*P, (k+1)*P) and its value per channel is the mean of the channel's samples in it, as
prepare_line's Resampler takes it. A slow channel (its period above P: tablet tests, NIR)
carries its last step's value forward for at most `ffill_limit_s`, as prepare_line's align
does; a fast channel without samples in a step is missing (NaN) there, so no forecast is made
from a window holding it (as the offline replay skips incomplete windows).

A step is closed, and its row handed on, as soon as every fast tag that is alive has
delivered the sample of its last slot in the step (no waiting for the next step), or once any
tag is `grace_s` past the step's end (a tag went quiet: the others carry on without it).

After a silence longer than `max_empty_steps` (a stopped line, a server restarted later in the
run) only that many missing steps are emitted, enough to empty the model's window.

Tag health in line time: a tag without a sample for `stale_after_s` while others deliver is
`stale`; a tag repeating one value for `stuck_after_s` is `stuck`; both are flagged once and
cleared (`resumed`) when the tag moves again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pipeline.core.validation import shown

@dataclass
class Step:
    start_s: float           # line time (epoch seconds) of the step's start: the row's timestamp
    row: np.ndarray          # [channels] float32, NaN where missing
    closed_by_wall: float    # wall-clock arrival (epoch s) of the sample that completed the step


@dataclass
class Flag:
    line_s: float
    channel: str
    flag: str                # missing | stale | stuck | resumed
    detail: str


@dataclass
class _Tag:
    period_s: float
    slow: bool
    last_s: float = -math.inf          # line time of the newest sample
    last_value: float = math.nan
    same_since_s: float = math.nan     # line time the current value first appeared
    state: str = "ok"                  # ok | stale | stuck | missing
    refused: int = 0                   # samples that were not numbers or not finite


@dataclass
class _Acc:
    total: np.ndarray
    count: np.ndarray
    last_wall: float = 0.0


@dataclass
class Aligner:
    channels: list[str]
    period_s: float
    tag_periods_s: list[float]          # expected sample period per channel
    ffill_limit_s: float
    grace_s: float
    stale_after_s: float
    stuck_after_s: float
    max_empty_steps: int = 1000         # after a longer silence, only this many missing steps are emitted
    tags: list[_Tag] = field(init=False)
    open: dict[int, _Acc] = field(init=False, default_factory=dict)
    next_k: int | None = field(init=False, default=None)
    carry: list[tuple[int, float] | None] = field(init=False)
    newest_s: float = field(init=False, default=-math.inf)
    first_s: float = field(init=False, default=math.inf)
    flags: list[Flag] = field(init=False, default_factory=list)

    def __post_init__(self):
        self.tags = [_Tag(p, p > self.period_s) for p in self.tag_periods_s]
        self.carry = [None] * len(self.channels)
        self.limit_steps = max(1, int(self.ffill_limit_s // self.period_s))

    def mark_missing(self, i: int, detail: str) -> None:
        self.tags[i].state = "missing"
        self.flags.append(Flag(self.newest_s, self.channels[i], "missing", detail))

    def add(self, i: int, line_s: float, value: object, wall_s: float) -> list[Step]:
        """One sample of channel i as the server sent it; returns the steps it completed (oldest
        first). A NaN (a variable's value before its first write) is no sample; one no newer than
        the tag's last (a server's replay after a reconnect) was counted already; text, a list or an
        infinity is refused (flagged once per channel, then counted) and changes nothing."""
        tag = self.tags[i]
        why = _not_a_sample(value)
        if why is not None:
            tag.refused += 1
            if tag.refused == 1:
                self.flags.append(Flag(line_s, self.channels[i], "refused", f"{why}; later refusals counted"))
            return []
        value = float(value)
        if math.isnan(value) or line_s <= tag.last_s:
            return []
        k = math.floor(line_s / self.period_s)
        self._health(i, line_s, value)
        self.newest_s = max(self.newest_s, line_s)
        self.first_s = min(self.first_s, line_s)
        if self.next_k is None and not tag.slow:
            # the first step is whole only if this sample opens it (a monitor joining mid-step skips it)
            self.next_k = k if math.isclose(line_s, k * self.period_s) else k + 1
        if self.next_k is None or k < self.next_k:
            if tag.slow:  # a slow tag's value from before the first step (its current value) carries into it
                self.carry[i] = (k, value)
            return self._close()
        acc = self.open.get(k)
        if acc is None:
            acc = self.open[k] = _Acc(np.zeros(len(self.channels)), np.zeros(len(self.channels)))
        acc.total[i] += value
        acc.count[i] += 1
        acc.last_wall = max(acc.last_wall, wall_s)
        return self._close()

    def _health(self, i: int, line_s: float, value: float) -> None:
        tag = self.tags[i]
        if tag.state in ("stale", "missing", "stuck") and value != tag.last_value:
            self.flags.append(Flag(line_s, self.channels[i], "resumed", f"was {tag.state}"))
            tag.state = "ok"
        if value != tag.last_value:
            tag.same_since_s = line_s
        elif tag.state == "ok" and line_s - tag.same_since_s >= self.stuck_after_s:
            tag.state = "stuck"
            self.flags.append(Flag(line_s, self.channels[i], "stuck",
                                   f"value {value:.6g} unchanged for {line_s - tag.same_since_s:.0f} s"))
        tag.last_s, tag.last_value = line_s, value

    def check_stale(self) -> None:
        """Flag tags silent for stale_after_s of line time while the line goes on."""
        for i, tag in enumerate(self.tags):
            silent = self.newest_s - max(tag.last_s, self.first_s)
            if tag.state in ("ok", "stuck") and silent >= max(self.stale_after_s, 2 * tag.period_s):
                tag.state = "stale"
                since = "never delivered" if not math.isfinite(tag.last_s) else f"no sample for {silent:.0f} s"
                self.flags.append(Flag(self.newest_s, self.channels[i], "stale", since))

    def _complete(self, k: int) -> bool:
        end = (k + 1) * self.period_s
        if self.newest_s >= end + self.grace_s:
            return True
        live = [t for t in self.tags if not t.slow and t.state not in ("stale", "missing")]
        return bool(live) and all(t.last_s >= end - t.period_s - 1e-9 for t in live)

    def _close(self) -> list[Step]:
        steps = []
        newest_k = math.floor(self.newest_s / self.period_s)
        if self.next_k is not None and newest_k - self.next_k > self.max_empty_steps:
            # the line was silent (stopped, server down): a window of missing steps, not every one of them
            skipped = newest_k - self.max_empty_steps - self.next_k
            self.flags.append(Flag(self.newest_s, "*", "gap", f"{skipped * self.period_s:.0f} s without data skipped"))
            for k in [k for k in self.open if k < newest_k - self.max_empty_steps]:
                del self.open[k]
            self.next_k = newest_k - self.max_empty_steps
        while self.next_k is not None and self._complete(self.next_k):
            steps.append(self._emit(self.next_k))
            self.next_k += 1
        return steps

    def _emit(self, k: int) -> Step:
        acc = self.open.pop(k, None)
        row = np.full(len(self.channels), np.nan)
        if acc is not None:
            have = acc.count > 0
            row[have] = acc.total[have] / acc.count[have]
        for i, tag in enumerate(self.tags):
            if not tag.slow:
                continue
            if np.isfinite(row[i]):
                self.carry[i] = (k, row[i])
            elif self.carry[i] is not None and k - self.carry[i][0] <= self.limit_steps:
                row[i] = self.carry[i][1]
        return Step(k * self.period_s, row.astype(np.float32), acc.last_wall if acc else math.nan)


def _not_a_sample(value: object) -> str | None:
    """Why a channel's value is no number the aligner can average (None: it is one, or NaN)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return f"{shown(value)} is not a number"
    if math.isinf(value):
        return f"{value} is not a finite number"
    return None
