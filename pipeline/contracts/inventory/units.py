"""Units by physical kind and conversion to one base unit per kind (mass: g, volume: ml).

Across kinds (mass <-> volume) only with a density in g/ml, which comes from conf/ (the
chemical catalogue); without one the row cannot be converted and the caller quarantines it.
"""
from __future__ import annotations

MASS, VOLUME = "mass", "volume"
BASE_UNIT = {MASS: "g", VOLUME: "ml"}

# unit spelling -> (physical kind, factor to the kind's base unit). Physical facts, not knobs.
UNITS: dict[str, tuple[str, float]] = {
    "kg": (MASS, 1e3), "g": (MASS, 1.0), "mg": (MASS, 1e-3), "ug": (MASS, 1e-6), "µg": (MASS, 1e-6),
    "l": (VOLUME, 1e3), "L": (VOLUME, 1e3), "ml": (VOLUME, 1.0), "mL": (VOLUME, 1.0),
    "ul": (VOLUME, 1e-3), "uL": (VOLUME, 1e-3), "µl": (VOLUME, 1e-3), "µL": (VOLUME, 1e-3),
}


def unit_kind(unit: object) -> str | None:
    """'mass', 'volume', or None for a unit we do not know."""
    entry = UNITS.get(str(unit).strip()) if isinstance(unit, str) else None
    return entry[0] if entry else None


def to_base(amount: float, unit: str, kind: str, density_g_per_ml: float | None = None) -> float | None:
    """`amount` in `unit` expressed in the base unit of `kind`; None when it needs a density
    that is not given (or the unit is unknown)."""
    if unit not in UNITS:
        return None
    unit_kind_, factor = UNITS[unit]
    value = amount * factor  # now in g or ml
    if unit_kind_ == kind:
        return value
    if not density_g_per_ml:
        return None
    return value / density_g_per_ml if kind == VOLUME else value * density_g_per_ml


def from_base(value: float, unit: str) -> float:
    """A base-unit amount (g or ml) in `unit` of the same kind."""
    return value / UNITS[unit][1]
