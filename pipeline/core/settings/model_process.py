"""Schema of conf/model/process (option lstm): the line's forecaster, golden profile and warning rule."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pipeline.core.settings.schema import (Bad, Count, Text, Instantiable, NonNegative, Positive, PositiveInt, Section,
                                           number, whole)
from pipeline.core.settings.training import Dropout, Training

CV_SCHEMES = ("leave_one_out", "rolling")   # folds over development batches (pipeline/process/selection.py)
AR_LEVELS = ("window", "fitted")            # the linear AR baseline's level (pipeline/process/baselines.py)
CONTEXTS = ("global", "window")             # what the LSTM sees (pipeline/process/model.py)


class ProcessSplit(Section):
    by: Literal["batch", "time"]
    test_batches: PositiveInt
    test_names: Annotated[list[Text | int], Field(min_length=1)] | None = None   # batch names or numbers
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
    context: Literal[CONTEXTS] | None = None
    level_steps: PositiveInt | None = None   # at most lookback (ModelProcess checks)


class Baselines(Section):
    moving_average: PositiveInt
    ar_lags: PositiveInt
    ar_level: Literal[AR_LEVELS]
    recent_s: NonNegative   # 0: no recent-best forecaster


class Select(Section):
    lstm_min_gain: number(ge=0, lt=1)
    cv: Literal[CV_SCHEMES]
    lstm_folds: PositiveInt
    early_stop_share: number(gt=0, lt=1)
    time_blocks: whole(2)
    bootstrap_block_s: Positive


class Shift(Section):
    level_sigma: Positive
    spread_ratio: number(gt=1)
    min_running_steps: PositiveInt


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
    shift: Shift
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
        if self.network.level_steps is not None and self.network.level_steps > self.lookback:
            raise Bad("network.level_steps", self.network.level_steps,
                      f"allowed a whole number from 1 to lookback = {self.lookback}")
        return self
