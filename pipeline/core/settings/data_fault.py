"""Schema of conf/data/fault (options generated, file, kaggle): the tablet-press fault log."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pipeline.core.settings.schema import (Bad, Fraction, NonNegative, Ordered, Positive, Section, Text, number,
                                           pair, whole)


class Signal(Section):
    mean: NonNegative
    drift_sd: NonNegative
    noise_sd: NonNegative
    floor: NonNegative | None = None


class Setpoints(Ordered):
    ORDER = (("setpoint_low", "setpoint_high"),)
    setpoint_low: float
    setpoint_high: float
    noise_sd: NonNegative


class HumiditySetpoints(Setpoints):
    setpoint_low: number(ge=0, le=100)
    setpoint_high: number(ge=0, le=100)


class Maintenance(Section):
    hourly_rate_max: Fraction
    max_per_day: whole(0, 24)


class Process(Section):
    drift_hours: Positive
    pressure_kN: Signal
    speed_rpm: Signal
    vibration_mm_s: Signal
    temperature_C: Setpoints
    humidity_pct: HumiditySetpoints
    maintenance: Maintenance


class Truth(Section):
    """The generator's true failure log-odds (conf/data/fault/generated.yaml writes the formula)."""
    intercept: float
    temperature_opt: float
    temperature_scale: Positive
    temperature_quad: float
    humidity_ref: float
    humidity_scale: Positive
    humidity_lin: float
    heat_humidity: float
    maintenance_gain: float
    maintenance_scale: Positive
    vibration_ref: float
    vibration_scale: Positive
    vibration_lin: float
    pressure_ref: float
    pressure_scale: Positive
    pressure_quad: float
    speed_ref: float
    speed_scale: Positive
    speed_quad: float


class Columns(Section):
    """Our column -> the file's column."""
    timestamp: Text
    pressure_kN: Text
    temperature_C: Text
    speed_rpm: Text
    vibration_mm_s: Text
    humidity_pct: Text
    maintenance_cycles: Text
    fault: Text


class UnitFactors(Section):
    pressure_kN: Positive
    temperature_C: Positive
    speed_rpm: Positive
    vibration_mm_s: Positive
    humidity_pct: Positive
    maintenance_cycles: Positive


class ValidRanges(Section):
    pressure_kN: pair(float)
    temperature_C: pair(float)
    speed_rpm: pair(float)
    vibration_mm_s: pair(float)
    humidity_pct: pair(float)
    maintenance_cycles: pair(float)


class DataFault(Section):
    source: Literal["generated", "file"]
    path: Text | None = None
    # generated
    n_rows: whole(500, 5_000_000) | None = None     # fewer rows leave a test split with a handful of faults
    start: Text | None = None
    interval_minutes: number(gt=0, le=1440) | None = None
    process: Process | None = None
    truth: Truth | None = None
    # a file (file, kaggle)
    separator: Annotated[str, Field(min_length=1, max_length=1)] | None = None
    timestamp_format: Text | None = None
    columns: Columns | None = None
    unit_factors: UnitFactors | None = None
    fault_labels: dict[str, Literal[0, 1]] | None = None
    valid_ranges: ValidRanges | None = None
    on_bad_row: Literal["quarantine", "error"] | None = None
    unordered: Literal["error", "sort"] | None = None

    @model_validator(mode="after")
    def _source_has_its_keys(self):
        needed = ("n_rows", "start", "interval_minutes", "process", "truth") if self.source == "generated" else \
            ("path", "columns", "unit_factors", "fault_labels", "valid_ranges", "on_bad_row", "unordered")
        for key in needed:
            if getattr(self, key) is None:
                raise Bad(key, None, f"required when source is {self.source}")
        return self

