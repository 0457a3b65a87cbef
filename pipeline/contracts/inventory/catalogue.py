"""The chemical catalogue and the limits a log is judged by: one record, written by whoever
judged the training rows (prepare_inventory, from data.inventory) and carried in the registered
forecaster's bundle, so the prediction service judges a request exactly as the stage judged the
rows the model learnt from.

`Catalogue.from_config` validates data.inventory (or the bundle's record) once: a bad entry is a
config error naming the key. `Catalogue.record()` is the plain JSON record the bundle stores;
`Catalogue.from_config(c.record()) == c`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from pipeline.contracts.inventory.cas import cas_problem
from pipeline.contracts.inventory.units import BASE_UNIT

POLICIES = ("quarantine", "count")  # what happens to an implausible amount or a duplicate row
# Every key of data.inventory the rules read, so a record without one is refused, never defaulted.
RECORD_KEYS = ("day_one", "chemicals", "locations", "plausible_max", "max_id", "on_implausible", "on_duplicate")


def display_name(key: str, entry: Mapping) -> str:
    """The chemical's name as a log holds it: its catalogue `name`, else its key."""
    return str(entry.get("name") or key)


@dataclass(frozen=True)
class Catalogue:
    """Chemicals keyed by lower-case name (name, CAS, kind, density), the allowed labs (None: any),
    day 1's date, the largest plausible amount of one row per tracked kind (base units), the
    largest day counter (`id`) a row may carry, and what happens to implausible amounts and exact
    duplicate rows (quarantine | count)."""
    chemicals: dict[str, dict]
    locations: frozenset[str] | None
    day_one: pd.Timestamp
    plausible_max: dict[str, float]
    max_id: int
    on_implausible: str = "quarantine"
    on_duplicate: str = "quarantine"

    @classmethod
    def from_config(cls, icfg: Mapping, where: str = "data.inventory") -> "Catalogue":
        """From data.inventory (a DictConfig) or the record a registered forecaster carries."""
        missing = [k for k in RECORD_KEYS if k not in icfg]
        if missing:
            raise ValueError(f"{where}: lacks {missing} (the inventory rules need every one of {list(RECORD_KEYS)})")
        chemicals = {}
        for key, entry in icfg["chemicals"].items():
            name = display_name(key, entry)
            chemicals[name.strip().lower()] = _chemical(f"{where}.chemicals.{key}", name, entry, chemicals)
        limits = {str(k): float(v) for k, v in (icfg["plausible_max"] or {}).items()}
        for kind, limit in limits.items():
            if kind not in BASE_UNIT or not (limit > 0 and np.isfinite(limit)):
                raise ValueError(f"{where}.plausible_max.{kind} = {limit!r}: allowed a kind of {sorted(BASE_UNIT)} "
                                 "with a finite number > 0")
        untracked = sorted(set(BASE_UNIT) - set(limits))
        if untracked:
            raise ValueError(f"{where}.plausible_max: no limit for {untracked} (one per physical kind)")
        max_id = icfg["max_id"]
        if isinstance(max_id, bool) or not isinstance(max_id, int) or max_id < 1:
            raise ValueError(f"{where}.max_id = {max_id!r}: allowed a whole number >= 1")
        policies = {k: str(icfg[k]) for k in ("on_implausible", "on_duplicate")}
        for k, v in policies.items():
            if v not in POLICIES:
                raise ValueError(f"{where}.{k} = {v!r}: allowed one of {', '.join(POLICIES)}")
        locations = icfg["locations"]
        return cls(chemicals, frozenset(str(x) for x in locations) if locations else None,
                   pd.Timestamp(str(icfg["day_one"])), limits, int(max_id), **policies)

    def record(self) -> dict:
        """The plain (JSON) record from_config reads back: what a registered model carries."""
        return {"day_one": str(self.day_one.date()),
                "chemicals": {e["name"]: {"name": e["name"], "cas": e["cas"], "kind": e["kind"],
                                          "density_g_per_ml": e["density"]} for e in self.chemicals.values()},
                "locations": sorted(self.locations) if self.locations is not None else None,
                "plausible_max": dict(self.plausible_max), "max_id": self.max_id,
                "on_implausible": self.on_implausible, "on_duplicate": self.on_duplicate}

    def day(self, when: date) -> int:
        """The day counter (`id`) of a date (any date Python holds: no pandas bounds)."""
        return (when - self.day_one.date()).days + 1


def _chemical(where: str, name: str, entry: Mapping, known: dict) -> dict:
    if entry["kind"] not in BASE_UNIT:
        raise ValueError(f"{where}.kind must be one of {sorted(BASE_UNIT)}, got {entry['kind']!r}")
    cas = entry.get("cas")
    if cas is not None and cas_problem(str(cas)):
        raise ValueError(f"{where}.cas {cas!r}: {cas_problem(str(cas)).sentence()}")
    density = entry.get("density_g_per_ml")
    if density is not None and not (float(density) > 0 and np.isfinite(float(density))):
        raise ValueError(f"{where}.density_g_per_ml must be a positive number or null, got {density!r}")
    if name.strip().lower() in known:
        raise ValueError(f"{where}: name {name!r} appears twice in the catalogue")
    return {"name": name, "cas": cas, "kind": str(entry["kind"]),
            "density": float(density) if density is not None else None}
