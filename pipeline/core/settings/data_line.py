"""Schema of conf/data/line (options generated, workbook, press_10s): the line's data."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from pipeline.core.settings.schema import (Bad, Fraction, NonNegative, Ordered, Positive, PositiveInt, Section,
                                           Text, number, pair, whole)

Channels = Annotated[list[Text], Field(min_length=1)]


class Validation(Section):
    gap_factor: number(ge=1)
    stuck_seconds: Positive


class SpeedRule(Ordered):
    ORDER = (("stopped_below", "running_from", False),)
    channel: Text
    stopped_below: NonNegative
    running_from: Positive


class ForceRule(Section):
    channel: Text
    running_from: NonNegative


class States(Section):
    speed: SpeedRule
    force: ForceRule | None = None
    settle_s: NonNegative
    min_run_s: NonNegative
    abrupt_s: NonNegative


class Sheets(Section):
    feeders: Channels
    blenders: Text
    press: Text
    humidity: Text
    temperature: Text
    tablets: Text
    content: Text


class FeederColumns(Section):
    rpm: Text
    massflow: Text
    feed_factor: Text
    net_weight: Text


class Feeder(Section):
    n: PositiveInt
    role: Text
    setpoint_kg_h: Positive
    feed_factor_g_rev: Positive
    capacity_kg: Positive
    sheet: whole(0, 1)


class Refill(Ordered):
    ORDER = (("low_frac", "high_frac"),)
    low_frac: Fraction
    high_frac: Fraction
    duration_s: Positive
    overshoot: NonNegative
    recovery_tau_s: Positive
    ff_fill_gain: Fraction


class Dynamics(Section):
    flow_ar_tau_s: Positive
    flow_ar_std: NonNegative
    massflow_noise: NonNegative
    rpm_noise: NonNegative
    weight_noise_kg: NonNegative
    blender1_tau_s: Positive
    blender1_delay_s: NonNegative
    blender2_tau_s: Positive
    blender2_delay_s: NonNegative
    blender_noise: NonNegative
    blender_speeds_rpm: Annotated[list[NonNegative], Field(min_length=2, max_length=2)]
    press_delay_s: NonNegative
    main_force_kN: Positive
    force_flow_gain: float
    force_noise: NonNegative
    pre_force_ratio: NonNegative
    pre_height_mm: Positive
    height_noise_mm: NonNegative
    ejection_force_N: Positive
    ejection_lube_gain: float
    ejection_noise: NonNegative
    turret_rpm: Positive
    fill_shoe_rpm: NonNegative
    speed_noise: NonNegative
    restart_s: NonNegative
    fill_depth_mm: Positive
    humidity_pct: Annotated[list[float], Field(min_length=2, max_length=2)]     # mean, daily amplitude
    temperature_C: Annotated[list[float], Field(min_length=2, max_length=2)]    # mean, daily amplitude
    env_noise: NonNegative


class StationQuantity(Section):
    follows: Text
    scale: float
    noise: NonNegative


class StationSummary(Section):
    mean: Text
    spread: Text


class Press(Section):
    stations: whole(0, 1000)
    column: Text
    offset: NonNegative
    dtype: Literal["float32", "float64"]
    quantities: dict[str, StationQuantity]
    summary: StationSummary


class Quality(Section):
    tablets_every_s: Positive
    content_every_s: Positive
    weight_mg: Positive
    thickness_mm: Positive
    hardness_N: Positive
    noise: NonNegative


class FeederDrift(Section):
    weight: NonNegative
    feeders: Annotated[list[PositiveInt], Field(min_length=1)]
    duration_s: pair(Positive)
    magnitude: pair(NonNegative)


class BlockedFeeder(Section):
    weight: NonNegative
    feeders: Annotated[list[PositiveInt], Field(min_length=1)]
    duration_s: pair(Positive)
    residual_flow: Fraction


class PressStop(Section):
    weight: NonNegative
    duration_s: pair(Positive)
    precursor_s: NonNegative
    precursor_rise: NonNegative


class Events(Section):
    per_hour: NonNegative
    min_gap_s: NonNegative
    warmup_s: NonNegative
    feeder_drift: FeederDrift
    blocked_feeder: BlockedFeeder
    press_stop: PressStop


class Read(Section):
    sep: Annotated[str, Field(min_length=1)] | None = None
    chunk_rows: PositiveInt


def _columns_as_mapping(columns: Any) -> Any:
    """A list of columns keeps each under its own name: the mapping {c: c}."""
    return {c: c for c in columns} if isinstance(columns, list) and all(isinstance(c, str) for c in columns) else columns


class LayoutSheet(Section):
    name: Text
    timestamp: Text
    period_s: Positive
    segments: list[Text] | None = None
    columns: Annotated[dict[str, Text] | None, BeforeValidator(_columns_as_mapping)] = None  # file column -> channel


class DataLine(Section):
    source: Literal["generated", "workbook", "csv"]
    path: Text | Annotated[list[Text], Field(min_length=1)] | None = None   # a file, a glob or a list of either
    product: Text | None = None   # the segment column naming the product (null: one product)
    hours: number(gt=0, le=24 * 366) | None = None
    start: Text | None = None
    period_s: Positive | None = None
    chunk_seconds: whole(1, 86400) | None = None
    align_period_s: Positive
    ffill_limit_s: NonNegative
    validation: Validation
    targets: Channels
    states: States | None = None
    actuators: dict[str, dict[str, Literal[-1, 1]]] | None = None
    sheets: Sheets | None = None
    feeder_columns: FeederColumns | None = None
    feeders: Annotated[list[Feeder], Field(min_length=1)] | None = None
    refill: Refill | None = None
    dynamics: Dynamics | None = None
    press: Press | None = None
    quality: Quality | None = None
    events: Events | None = None
    read: Read | None = None
    layout: Annotated[list[LayoutSheet], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _source_has_its_keys(self):
        needed = ("hours", "start", "period_s", "chunk_seconds", "sheets", "feeder_columns", "feeders", "refill", "dynamics",
                  "press", "quality", "events") if self.source == "generated" else ("path", "read", "layout")
        for key in needed:
            if getattr(self, key) is None:
                raise Bad(key, None, f"required when source is {self.source}")
        if self.product is not None:
            segments = [s for sheet in self.layout or [] for s in sheet.segments or []]
            if self.product not in segments:
                raise Bad("product", self.product, f"allowed null or one of the layout's segment columns {segments}")
        if self.source == "csv" and len(self.layout) != 1:
            raise Bad("layout", f"{len(self.layout)} sheets", "allowed exactly one sheet for source csv")
        return self


