"""Schema of conf/data/prices (options caiso_2021_mean_day, caiso, csv): hourly electricity prices."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.core.settings.schema import Bad, Positive, Scalar, Section, Text

HOURS_OF_DAY = 24
STAMP_MARKS = ("start", "end")            # which end of its interval a row's stamp marks
PARTIAL_HOUR = ("quarantine", "error")    # what an hour missing some of its rows gets


class RowFilter(Section):
    column: Text
    equals: Scalar


class DataPrices(Section):
    source: Literal["profile", "caiso", "csv"]
    path: Text | None = None
    start: Text
    profile_usd_per_mwh: Annotated[list[float], Field(min_length=HOURS_OF_DAY, max_length=HOURS_OF_DAY)] | None = None
    timezone: Text | None = None
    file_timezone: Text | None = None   # the file's plain timestamps' zone where it differs from `timezone`
    stamp_marks: Literal[STAMP_MARKS] = "start"
    partial_hour: Literal[PARTIAL_HOUR] = "quarantine"
    timestamp_column: Text | None = None
    price_column: Text | None = None
    separator: Annotated[str, Field(min_length=1, max_length=1)] | None = None
    filter: RowFilter | None = None
    to_usd_per_mwh: Positive | None = None

    @field_validator("timezone", "file_timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        from zoneinfo import ZoneInfo

        if name is not None:
            try:
                ZoneInfo(name)
            except (ValueError, LookupError, OSError):
                raise Bad("", name, "allowed an IANA time zone name (e.g. America/Los_Angeles, Europe/Berlin, "
                                    "UTC) or null") from None
        return name

    @model_validator(mode="after")
    def _source_has_its_keys(self):
        needed = {"profile": ("profile_usd_per_mwh",), "caiso": ("path",),
                  "csv": ("path", "timestamp_column", "price_column", "separator", "to_usd_per_mwh")}[self.source]
        for key in needed:
            if getattr(self, key) is None:
                raise Bad(key, None, f"required when source is {self.source}")
        return self
