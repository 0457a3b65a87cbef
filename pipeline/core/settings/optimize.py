"""Schema of conf/optimize (option schedule): the schedule MILP, and the names of its formulation
choices (pipeline/optimize registers one class per network encoding under these names)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from pipeline.core.settings.schema import (Bad, Fraction, NonNegative, Ordered, Positive, PositiveInt, Section, Text,
                                           number, whole)

NETWORK_ENCODINGS = ("bigm", "regions", "omlt_bigm")
BOUND_TIGHTENING = ("interval", "lp", "milp")
ROOM_TEMPERATURE = ("shared", "priced")  # a room of different presses: its bound (decompose.py)
DECOMPOSITION = ("auto", "none")
PARALLEL = ("none", "joblib", "ray")   # where the decomposition's day problems run
HOURS_OF_DAY = 24
LONGEST_HORIZON = 8784   # a leap year: the most optimize.max_horizon_hours may allow


class FixedInputs(Section):
    pressure_kN: NonNegative
    speed_rpm: NonNegative
    vibration_mm_s: NonNegative


class Box(Ordered):
    ORDER = (("min", "max"),)
    min: float
    max: float


class HumidityBox(Box):
    ORDER = (("min", "max"), ("min", "initial", False), ("initial", "max", False))
    min: number(ge=0, le=100)
    max: number(ge=0, le=100)
    initial: number(ge=0, le=100)


class Production(Section):
    max_per_hour: whole(1, 100_000)
    maintenance_hours: Fraction
    demand_per_day: NonNegative
    demand_scope: Literal["day", "horizon"]


class Maintenance(Ordered):
    ORDER = (("required_per_day", "max_per_day", False),)
    required_per_day: whole(0, HOURS_OF_DAY)
    max_per_day: whole(0, HOURS_OF_DAY)


class Formulation(Section):
    network_encoding: Literal[NETWORK_ENCODINGS]
    enumerate_maintenance_count: bool
    bound_tightening: Literal[BOUND_TIGHTENING]
    stable_neurons_without_binaries: bool
    one_sided_output: bool
    sigmoid_tolerance: number(gt=0, lt=1)
    hour_value_cuts: bool
    hour_value_strips: whole(1, 10_000)
    room_temperature: Literal[ROOM_TEMPERATURE]
    room_demand_price: bool
    demand_split: bool
    demand_split_cells: whole(2, 65536)


class Search(Section):
    lp_bounds: bool
    prune: bool
    start: bool
    polish: bool
    day_dp: bool
    dp_cells: whole(2, 65536)
    heuristics_with_incumbent: bool


class Verification(Section):
    probability_slack: Positive
    objective_rel_tol: Positive


class Optimize(Section):
    horizon_hours: PositiveInt
    max_horizon_hours: whole(1, LONGEST_HORIZON)
    # the rooms and presses (conf/optimize/plant): a file format of its own, read and checked key by
    # key by pipeline/optimize/plant.py (one line naming room, press and key; its flat-key ranges
    # are this schema's); plant_file replaces it
    plant: dict[str, Any] | None = None
    plant_file: Text | None = None
    presses: whole(1, 1000)
    network_file: Text
    training_range_tolerance: NonNegative
    max_abs_weight: Positive   # a network's weights and biases beyond +-this are refused (NaN and inf always)
    prices_file: Text
    fixed_inputs: FixedInputs
    temperature_C: Box
    humidity_pct: HumidityBox
    outside_temperature_C: Annotated[list[float], Field(min_length=HOURS_OF_DAY, max_length=HOURS_OF_DAY)]
    production: Production
    maintenance: Maintenance
    decomposition: Literal[DECOMPOSITION]
    parallel: Literal[PARALLEL]
    workers: whole(1, 256)
    ray_address: Text | None = None
    formulation: Formulation
    search: Search
    verification: Verification

    @model_validator(mode="after")
    def _horizon_at_most_its_maximum(self):
        if self.horizon_hours > self.max_horizon_hours:
            raise Bad("horizon_hours", self.horizon_hours,
                      f"allowed a whole number from 1 to optimize.max_horizon_hours = {self.max_horizon_hours}")
        return self


