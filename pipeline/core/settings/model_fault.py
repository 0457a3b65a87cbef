"""Schema of conf/model/fault (option dnn): the failure-probability network and its training."""
from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from pipeline.core.settings.schema import Bad, Fraction, Instantiable, NonNegative, Section, pair, whole
from pipeline.core.settings.training import Dropout, NonEmptyWidths, Scheduler, Split, Training


class Network(Instantiable):
    n_inputs: whole(1, 1000) | None = None
    hidden: NonEmptyWidths | None = None
    activation: Instantiable | None = None
    dropout: Dropout | None = None


class Threshold(Section):
    rule: Literal["fixed", "f1", "cost"]
    fixed: Fraction
    revenue: NonNegative
    penalty: NonNegative


class MilpAware(Section):
    enabled: bool
    stability_weight: NonNegative
    l1_weight: NonNegative
    prune_below: NonNegative


class StabilityBox(Section):
    """The optimiser's input box (read from conf/optimize): fixed values or [low, high]."""
    pressure_kN: float
    speed_rpm: float
    vibration_mm_s: float
    temperature_C: pair(float)
    humidity_pct: pair(float)
    maintenance_cycles: pair(float)


class ModelFault(Training):
    split: Split
    network: Network
    scheduler: Scheduler | None = None
    threshold: Threshold
    class_weighting: Literal["none", "balanced"]
    calibration_bins: whole(2, 1000)
    milp_aware: MilpAware
    stability_box: StabilityBox
    baselines: dict[str, Instantiable]

    @model_validator(mode="after")
    def _rule_cost_needs_money(self):
        if self.threshold.rule == "cost" and self.threshold.revenue + self.threshold.penalty <= 0:
            raise Bad("threshold.revenue", self.threshold.revenue, "allowed revenue + penalty > 0 with rule cost")
        return self
