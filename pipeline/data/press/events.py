"""The scripted events of a press day (conf/replan `scenarios`), read and checked.

Times are "HH:MM" of the plan's day, kept as seconds since its first hour. Every problem is one
line naming `replan.scenarios.<name>[i].<key>` and what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.contracts.press_signals import MEASURED
from pipeline.core.settings.replan import EVENT_KINDS

KINDS = EVENT_KINDS
FIELDS = {"drift": ("press", "signal", "start", "end", "to"), "stop": ("press", "start", "end"),
          "maintenance": ("press", "at"), "price_spike": ("announce", "hours", "factor")}


@dataclass(frozen=True)
class Event:
    kind: str
    press: int | None = None
    start_s: float = 0.0          # drift/stop: start; maintenance: when; price_spike: when announced
    end_s: float = 0.0            # drift: end of the ramp; stop: restart
    signal: str | None = None     # drift: which measured input
    to: float = 0.0               # drift: the value reached at end_s
    hours: tuple[int, int] = (0, -1)  # price_spike: first and last hour of the day it applies to
    factor: float = 1.0           # price_spike: multiplies those hours' prices


def clock_seconds(text, where: str) -> float:
    """"HH:MM" (or "HH:MM:SS") of the day -> seconds since its first hour."""
    parts = str(text).split(":")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or not 0 <= numbers[0] <= 24 or not all(0 <= n < 60 for n in numbers[1:]):
        raise ValueError(f"{where} = {text!r}: allowed a time of the day as \"HH:MM\" (00:00-24:00)")
    seconds = numbers[0] * 3600 + numbers[1] * 60 + (numbers[2] if len(numbers) == 3 else 0)
    if seconds > 24 * 3600:
        raise ValueError(f"{where} = {text!r}: allowed a time of the day as \"HH:MM\" (00:00-24:00)")
    return float(seconds)


def _number(value, where: str, low: float | None = None, whole: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) != float("inf")
    ok = ok and (not whole or float(value) == int(value)) and (low is None or value >= low)
    if not ok:
        kind = "a whole number" if whole else "a finite number"
        raise ValueError(f"{where} = {value!r}: allowed {kind}" + (f" >= {low:g}" if low is not None else ""))
    return float(value)


def parse_events(scenario: str, items, presses: int, hours: int) -> list[Event]:
    """The scenario's events, checked against the plant (`presses`) and the day (`hours`)."""
    events = []
    for i, item in enumerate(items or []):
        base = f"replan.scenarios.{scenario}[{i}]"
        kind = item.get("event") if hasattr(item, "get") else None
        if kind not in KINDS:
            raise ValueError(f"{base}.event = {kind!r}: allowed one of {', '.join(KINDS)}")
        missing = [k for k in FIELDS[kind] if item.get(k) is None]
        if missing:
            raise ValueError(f"{base}: a {kind} event needs {', '.join(FIELDS[kind])} (missing {', '.join(missing)})")
        press = None
        if "press" in FIELDS[kind]:
            press = int(_number(item["press"], f"{base}.press", 0, whole=True))
            if press >= presses:
                raise ValueError(f"{base}.press = {press}: the plan has {presses} press(es), 0..{presses - 1}")
        if kind == "drift":
            if item["signal"] not in MEASURED:
                raise ValueError(f"{base}.signal = {item['signal']!r}: allowed one of {', '.join(MEASURED)}")
            start, end = clock_seconds(item["start"], f"{base}.start"), clock_seconds(item["end"], f"{base}.end")
            if end < start:
                raise ValueError(f"{base}: end {item['end']} before start {item['start']}")
            events.append(Event(kind, press, start, end, str(item["signal"]), _number(item["to"], f"{base}.to", 0)))
        elif kind == "stop":
            start, end = clock_seconds(item["start"], f"{base}.start"), clock_seconds(item["end"], f"{base}.end")
            if end <= start:
                raise ValueError(f"{base}: end {item['end']} must come after start {item['start']}")
            events.append(Event(kind, press, start, end))
        elif kind == "maintenance":
            events.append(Event(kind, press, clock_seconds(item["at"], f"{base}.at")))
        else:
            span = list(item["hours"])
            if len(span) != 2 or not all(isinstance(h, int) and 0 <= h < hours for h in span) or span[0] > span[1]:
                raise ValueError(f"{base}.hours = {span!r}: allowed [first, last] hours of the day, 0 <= first <= last "
                                 f"<= {hours - 1}")
            events.append(Event(kind, None, clock_seconds(item["announce"], f"{base}.announce"),
                                hours=(span[0], span[1]), factor=_number(item["factor"], f"{base}.factor", 0)))
    return events
