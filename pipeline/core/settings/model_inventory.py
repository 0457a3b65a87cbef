"""Schema of conf/model/inventory (option lstm): the chemical-usage forecaster and reorder advice."""
from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from pipeline.core.settings.schema import Bad, Count, Instantiable, NonNegative, PositiveInt, Section, number, whole
from pipeline.core.settings.training import Dropout, Split, Training


class Network(Instantiable):
    hidden_size: whole(1, 4096) | None = None
    num_layers: whole(1, 16) | None = None
    embedding_dim: whole(1, 1024) | None = None
    dropout: Dropout | None = None


class Baselines(Section):
    season_days: PositiveInt
    moving_average_days: PositiveInt
    linear_lags: PositiveInt
    linear_ridge: NonNegative


class Reorder(Section):
    lead_time_days: Count
    service_level: number(gt=0, lt=1)
    default_days: PositiveInt


class ModelInventory(Training):
    seq_len: whole(1, 3660)
    horizon: whole(1, 366)
    split: Split
    network: Network
    baselines: Baselines
    selection_metric: Literal["wape", "mae", "rmse"]
    reorder: Reorder

    @model_validator(mode="after")
    def _windows_fit(self):
        for key in ("season_days", "moving_average_days", "linear_lags"):
            if getattr(self.baselines, key) > self.seq_len:
                raise Bad(f"baselines.{key}", getattr(self.baselines, key),
                          f"allowed a whole number from 1 to seq_len = {self.seq_len}")
        if self.reorder.default_days > self.horizon:
            raise Bad("reorder.default_days", self.reorder.default_days,
                      f"allowed a whole number from 1 to horizon = {self.horizon}")
        return self
