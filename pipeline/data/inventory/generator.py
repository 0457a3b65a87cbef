"""Generator of a laboratory chemical inventory log in the schema of the inventory study:
`id,amount_taken,unit,location,chemical,CAS,reason`.

Behaviour it imitates (knobs in conf/data/inventory/generated.yaml):
- Experiments (`Experiment_N`, numbered in order of start) start at random in the labs, at a
  Poisson rate that grows over time (the trend: a busier department), run for a few weeks
  and each use a handful of catalogue chemicals at a typical daily dose.
- A weekly rhythm: each experiment follows a weekly schedule (a few fixed working weekdays,
  drawn with weights that make weekends rare) and turns up on a scheduled day with high
  probability; each working day is one withdrawal row per chemical, with log-normal spread.
- Units of one physical kind per chemical but mixed scales: volumes in ml or L, masses in g
  or mg (the large/small unit is picked at random), as people write them in a paper log.
- Stock per chemical and lab: an `initial purchase` row buys whole packs when stock would
  fall below a few days of recent use, so the stock never goes negative.
- `id` is the day counter (day 1 = data.inventory.day_one); several rows share a day.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from tqdm import tqdm

from pipeline.contracts.inventory import LOG_COLUMNS, PURCHASE
from pipeline.contracts.inventory.catalogue import display_name
from pipeline.contracts.inventory.units import BASE_UNIT, MASS, VOLUME, from_base


def _unit_for(kind: str, amount: float, rng: np.random.Generator, large_share: float) -> str:
    """A plausible written unit for `amount` base units of `kind` (mixed scales on purpose)."""
    alternative = rng.random() < large_share
    if kind == VOLUME:
        return "L" if alternative else "ml"
    if kind == MASS:
        return "mg" if alternative or amount < 1.0 else "g"
    raise ValueError(f"unknown physical kind {kind!r}")


def _experiments(days: int, gcfg: DictConfig, chemicals: list[str], locations: list[str],
                 rng: np.random.Generator) -> list[dict]:
    """Start day, end day, lab and chemicals of every experiment over `days`."""
    out = []
    lo, hi = (int(v) for v in gcfg.duration_days)
    cmin, cmax = (int(v) for v in gcfg.chemicals_per_experiment)
    wmin, wmax = (int(v) for v in gcfg.working_days_per_week)
    weights = np.asarray(gcfg.weekday_weight, dtype=float)
    weights = weights / weights.sum()
    for day in range(1, days + 1):
        rate = float(gcfg.starts_per_week) / 7.0 * (1.0 + float(gcfg.trend_per_year) * (day - 1) / 365.0)
        for _ in range(rng.poisson(rate)):
            k = int(rng.integers(cmin, min(cmax, len(chemicals)) + 1))
            n_days = int(rng.integers(wmin, wmax + 1))
            out.append({"name": f"Experiment_{len(out) + 1}", "start": day,
                        "weekdays": set(rng.choice(7, size=n_days, replace=False, p=weights).tolist()),
                        "end": day + int(rng.integers(lo, hi + 1)) - 1,
                        "location": str(rng.choice(locations)),
                        "chemicals": list(rng.choice(chemicals, size=k, replace=False))})
    return out


def generate_log(icfg: DictConfig, seed: int, days: int | None = None) -> pd.DataFrame:
    """The raw log (strings and numbers exactly as a CSV would hold them)."""
    days = int(days if days is not None else icfg.days)
    if days < 1:
        raise ValueError(f"data.inventory.days must be >= 1, got {days}")
    gcfg, catalogue = icfg.generator, icfg.chemicals
    rng = np.random.default_rng(seed)
    keys, locations = list(catalogue.keys()), [str(x) for x in icfg.locations]
    experiments = _experiments(days, gcfg, keys, locations, rng)
    attendance = float(gcfg.attendance)
    day_one = pd.Timestamp(icfg.day_one)
    stock: dict[tuple[str, str], float] = {}
    recent: dict[tuple[str, str], float] = {}  # exponentially weighted daily use, base units
    rows: list[tuple] = []
    active: dict[int, list[dict]] = {}
    for exp in experiments:
        for d in range(exp["start"], min(exp["end"], days) + 1):
            active.setdefault(d, []).append(exp)
    for day in tqdm(range(1, days + 1), desc="inventory log", unit="day", leave=False):
        weekday = (day_one + pd.Timedelta(days=day - 1)).weekday()
        use: dict[tuple[str, str], list[tuple[float, str]]] = {}
        for exp in active.get(day, []):
            if weekday in exp["weekdays"] and rng.random() < attendance:
                for chem in exp["chemicals"]:
                    mean = float(catalogue[chem].use_per_experiment_day)
                    amount = mean * rng.lognormal(-0.5 * float(gcfg.dose_sd) ** 2, float(gcfg.dose_sd))
                    use.setdefault((chem, exp["location"]), []).append((amount, exp["name"]))
        for key in sorted(set(use) | set(recent)):
            chem, loc = key
            entry = catalogue[chem]
            today = sum(a for a, _ in use.get(key, []))
            recent[key] = 0.9 * recent.get(key, today) + 0.1 * today
            need = float(gcfg.reorder_cover_days) * max(recent[key], float(entry.use_per_experiment_day) * 0.5)
            have = stock.get(key, 0.0)
            if key in use and have - today < need:
                pack = float(entry.pack)
                packs = max(int(gcfg.order_packs_min), math.ceil((need + today - have) / pack))
                bought = packs * pack
                unit = "L" if entry.kind == VOLUME and bought >= 1000 else ("kg" if bought >= 1000 else BASE_UNIT[entry.kind])
                rows.append((day, from_base(bought, unit), unit, loc, display_name(chem, entry), entry.cas, PURCHASE))
                have += bought
            for amount, exp_name in use.get(key, []):
                unit = _unit_for(entry.kind, amount, rng, float(gcfg.large_unit_share))
                rows.append((day, round(from_base(amount, unit), 6), unit, loc, display_name(chem, entry), entry.cas,
                             exp_name))
            stock[key] = have - today
    return pd.DataFrame(rows, columns=LOG_COLUMNS)

