"""Schema of conf/replan (option opcua): live re-planning (pipeline/optimize/live) and the scripted
press server that feeds it (pipeline/data/press_opcua.py). The scripted events are judged in full
against the plan they play on (pipeline/data/press/events.py: presses, times of the day); here
their kinds and the scenario's name."""
from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from pipeline.core.settings.schema import Bad, NonNegative, Positive, Section, Text, number, whole

EVENT_KINDS = ("drift", "stop", "maintenance", "price_spike")
SECONDS_PER_HOUR = 3600


class PlantNodes(Section):
    """One press's signals."""
    pressure_kN: Text
    speed_rpm: Text
    vibration_mm_s: Text
    running: Text
    units: Text
    maintenances: Text


class Nodes(PlantNodes):
    """The single press's signals and the line's own (prices, clock, lockstep ack)."""
    prices: Text
    clock: Text
    ack: Text


class Publish(Section):
    endpoint: Text
    namespace: Text


class Triggers(Section):
    probability_change: number(gt=0, lt=1)
    price_change: Positive
    smoothing_s: Positive
    debounce_s: NonNegative


class Solve(Section):
    time_limit_s: Positive
    plant_time_limit_s: Positive


class Noise(Section):
    pressure_kN: NonNegative
    speed_rpm: NonNegative
    vibration_mm_s: NonNegative


class Line(Section):
    scenario: Text
    speed: NonNegative              # 0 = lockstep
    tick_s: whole(1, SECONDS_PER_HOUR)
    ack_timeout_s: Positive
    start: Text | None = None
    noise: Noise

    @model_validator(mode="after")
    def _tick_divides_an_hour(self):
        if SECONDS_PER_HOUR % self.tick_s:
            raise Bad("tick_s", self.tick_s, "allowed a whole number of seconds > 0 that divides 3600")
        return self


class Event(Section):
    model_config = Section.model_config | {"extra": "allow"}   # each kind's fields: events.py
    event: Literal[EVENT_KINDS]


class Replan(Section):
    plan: Text
    out: Text
    endpoint: Text
    namespace: Text
    nodes: Nodes
    plant_nodes: PlantNodes
    publish: Publish
    triggers: Triggers
    solve: Solve
    publishing_interval_ms: Positive
    connect_timeout_s: NonNegative
    request_timeout_s: Positive
    reconnect_max_delay_s: Positive
    grace_s: NonNegative
    stale_after_s: Positive
    shortfall_usd_per_unit: NonNegative
    line: Line
    scenarios: dict[str, list[Event]]

    @model_validator(mode="after")
    def _scenario_is_scripted(self):
        if self.line.scenario not in self.scenarios:
            raise Bad("line.scenario", self.line.scenario, f"allowed one of the scenarios {', '.join(self.scenarios)}")
        return self
