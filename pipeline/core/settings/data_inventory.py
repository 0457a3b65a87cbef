"""Schema of conf/data/inventory (options generated, file, shared_sample): the chemical inventory log."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pipeline.core.settings.schema import (Bad, Fraction, NonNegative, Positive, PositiveInt, Section, Text, pair,
                                           whole)


class Chemical(Section):
    name: Text | None = None                 # what the log's `chemical` column holds (default: the key)
    cas: Text | None = None
    kind: Literal["mass", "volume"]
    density_g_per_ml: Positive | None = None
    use_per_experiment_day: NonNegative | None = None   # generator only
    pack: Positive | None = None                        # generator only


class PlausibleMax(Section):
    mass: Positive
    volume: Positive


class Generator(Section):
    starts_per_week: NonNegative
    trend_per_year: float
    duration_days: pair(PositiveInt)
    chemicals_per_experiment: pair(PositiveInt)
    working_days_per_week: pair(whole(1, 7))
    weekday_weight: Annotated[list[NonNegative], Field(min_length=7, max_length=7)]
    attendance: Fraction
    dose_sd: NonNegative
    large_unit_share: Fraction
    reorder_cover_days: NonNegative
    order_packs_min: PositiveInt


class DataInventory(Section):
    source: Literal["generated", "file"]
    path: Text | None = None
    days: whole(60, 36_600) | None = None    # a forecaster needs weeks of history before its test part
    day_one: Text
    chemicals: Annotated[dict[str, Chemical], Field(min_length=1)]
    locations: Annotated[list[Text], Field(min_length=1)]
    plausible_max: PlausibleMax
    max_id: PositiveInt   # the largest day counter a row may carry (larger: quarantined, id_implausible)
    on_implausible: Literal["quarantine", "count"]
    on_duplicate: Literal["quarantine", "count"]
    generator: Generator | None = None

    @model_validator(mode="after")
    def _source_has_its_keys(self):
        needed = ("days", "generator") if self.source == "generated" else ("path",)
        for key in needed:
            if getattr(self, key) is None:
                raise Bad(key, None, f"required when source is {self.source}")
        if self.source == "generated":
            for key, chem in self.chemicals.items():
                for field in ("use_per_experiment_day", "pack"):
                    if getattr(chem, field) is None:
                        raise Bad(f"chemicals.{key}.{field}", None, "required when source is generated")
        return self
