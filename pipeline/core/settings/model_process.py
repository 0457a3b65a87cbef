"""Schema of conf/model/process (option lstm): the line's forecaster, golden profile and warning rule."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pipeline.core.settings.schema import (Bad, Count, Instantiable, NonNegative, Positive, PositiveInt, Section,
                                           number, whole)
from pipeline.core.settings.training import Dropout, Training


class ProcessSplit(Section):
    by: Literal["batch", "time"]
    test_batches: PositiveInt
    train: number(gt=0, lt=1)
    val: number(ge=0, lt=1)

    @model_validator(mode="after")
    def _room_for_a_test(self):
        if self.by == "time" and self.train + self.val >= 1:
            raise Bad("val", self.val, f"allowed below 1 - train = {1 - self.train:g} (the rest is the test split)")
        return self


class Network(Instantiable):
    hidden: whole(1, 4096) | None = None
    layers: whole(1, 16) | None = None
    dropout: Dropout | None = None


class Baselines(Section):
    moving_average: PositiveInt
    ar_lags: PositiveInt


class Select(Section):
    lstm_min_gain: number(ge=0, lt=1)
    bootstrap_block_s: Positive


class Golden(Section):
    k_sigma: Positive
    event_margin_s: NonNegative


class Warnings(Section):
    horizon: PositiveInt
    debounce: PositiveInt
    refractory_s: NonNegative
    incident_s: NonNegative
    actuator_z: Positive
    rearm_s: NonNegative
    rearm_sigma: NonNegative
    states: Annotated[list[Literal["running", "ramping"]], Field(min_length=1)]   # never stopped
    match_before_s: NonNegative
    match_after_s: NonNegative


class Figures(Section):
    events: Count
    window_s: Positive
    day_hours: Positive


class ModelProcess(Training):
    lookback: whole(1, 100_000)
    horizons: Annotated[list[PositiveInt], Field(min_length=1)]
    horizon: PositiveInt
    split: ProcessSplit
    stride: PositiveInt
    network: Network
    baselines: Baselines
    select: Select
    golden: Golden
    warnings: Warnings
    figures: Figures

    @model_validator(mode="after")
    def _horizons_and_lags_fit(self):
        for key, value in (("horizon", self.horizon), ("warnings.horizon", self.warnings.horizon)):
            if value not in self.horizons:
                raise Bad(key, value, f"allowed one of horizons {self.horizons}")
        for key, value in (("baselines.moving_average", self.baselines.moving_average),
                           ("baselines.ar_lags", self.baselines.ar_lags)):
            if value > self.lookback:
                raise Bad(key, value, f"allowed a whole number from 1 to lookback = {self.lookback}")
        return self
