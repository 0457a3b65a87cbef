"""A seeded tablet-press sensor log whose true failure probability is known.

What it imitates: a rotary tablet press logged every `interval_minutes` (10 min by default).
- Compression force, turret speed and vibration run at their setpoints (62 kN, 758 rpm,
  0.3 mm/s: the study's case values) with slow drifts (tooling wear, powder lots; an AR(1)
  process that decorrelates over `drift_hours`) plus interval-to-interval sensor noise.
- The room's temperature and humidity setpoints are changed every hour, as the optimiser
  does; the generator draws them uniformly over a range wider than the optimiser's box
  (18-30 C, 30-65 %RH) so that box is covered densely. Room air scatters around the setpoint.
- Maintenance actions happen at whole hours; each day has its own intensity (some days the
  crew is busy, some days idle) and no more than `max_per_day` actions fall in any 24 h.
  `maintenance_cycles` is the number of actions in the preceding 24 h (0..6): the
  optimiser's daily maintenance count N.
- A fault in an interval is a Bernoulli draw with probability sigmoid(score); `score` is
  the smooth nonlinear function in conf/data/fault/generated.yaml (`truth`): a quadratic
  bowl around the best temperature, rising with humidity, worse when hot and humid
  together, falling with maintenance with diminishing returns, rising with vibration and
  with pressure and speed deviations. The probability is saved beside the log
  (truth.parquet) so that later stages can compute the Bayes limit.
Same seed and config, same bytes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy.signal import lfilter

from pipeline.contracts.fault_log import FEATURES, LABEL, TIMESTAMP, TRUE_PROB, typed


def true_logit(df: pd.DataFrame, truth: DictConfig) -> np.ndarray:
    """The generator's failure log-odds for each row of `df` (columns named as FEATURES)."""
    t = truth
    z_t = (df["temperature_C"].to_numpy(float) - t.temperature_opt) / t.temperature_scale
    h = (df["humidity_pct"].to_numpy(float) - t.humidity_ref) / t.humidity_scale
    n = df["maintenance_cycles"].to_numpy(float)
    v = (df["vibration_mm_s"].to_numpy(float) - t.vibration_ref) / t.vibration_scale
    p = (df["pressure_kN"].to_numpy(float) - t.pressure_ref) / t.pressure_scale
    s = (df["speed_rpm"].to_numpy(float) - t.speed_ref) / t.speed_scale
    return (t.intercept + t.temperature_quad * z_t**2 + t.humidity_lin * h
            + t.heat_humidity * np.logaddexp(0.0, z_t) * h
            - t.maintenance_gain * (1.0 - np.exp(-n / t.maintenance_scale))
            + t.vibration_lin * v + t.pressure_quad * p**2 + t.speed_quad * s**2)


def true_probability(df: pd.DataFrame, truth: DictConfig) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-true_logit(df, truth)))


def _ar1(rng: np.random.Generator, n: int, sd: float, phi: float) -> np.ndarray:
    """Stationary AR(1) with marginal standard deviation `sd`, started in its stationary law."""
    eps = rng.standard_normal(n)
    first = rng.standard_normal() * sd
    return lfilter([sd * np.sqrt(1.0 - phi**2)], [1.0, -phi], eps, zi=[phi * first])[0]


def _drifting(rng, n: int, spec: DictConfig, phi: float) -> np.ndarray:
    return spec.mean + _ar1(rng, n, spec.drift_sd, phi) + spec.noise_sd * rng.standard_normal(n)


def _maintenance_counts(rng, n_hours: int, spec: DictConfig) -> np.ndarray:
    """Actions in the 24 h ending with each hour (that hour included), never above max_per_day."""
    rate = rng.uniform(0.0, spec.hourly_rate_max, size=n_hours // 24 + 1)
    draws = rng.uniform(size=n_hours)
    done = np.zeros(n_hours, dtype=np.int64)
    counts = np.zeros(n_hours, dtype=np.int64)
    window = 0
    for hour in range(n_hours):
        if hour >= 24:
            window -= done[hour - 24]
        if draws[hour] < rate[hour // 24] and window < spec.max_per_day:
            done[hour] = 1
            window += 1
        counts[hour] = window
    return counts


def generate(fault_cfg: DictConfig, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(log, truth): the sensor log in the contract's columns and its true probabilities."""
    n = int(fault_cfg.n_rows)
    if n < 1:
        raise ValueError(f"data.fault.n_rows must be >= 1, got {n}")
    proc = fault_cfg.process
    rng = np.random.default_rng(int(seed))
    step = pd.Timedelta(minutes=float(fault_cfg.interval_minutes))
    times = pd.date_range(pd.Timestamp(fault_cfg.start), periods=n, freq=step)
    hour = np.asarray((times - times[0]) // pd.Timedelta(hours=1), dtype=np.int64)
    n_hours = int(hour[-1]) + 1
    phi = float(np.exp(-float(fault_cfg.interval_minutes) / (60.0 * proc.drift_hours)))

    temp_set = rng.uniform(proc.temperature_C.setpoint_low, proc.temperature_C.setpoint_high, n_hours)
    hum_set = rng.uniform(proc.humidity_pct.setpoint_low, proc.humidity_pct.setpoint_high, n_hours)
    df = pd.DataFrame({TIMESTAMP: times})
    df["pressure_kN"] = _drifting(rng, n, proc.pressure_kN, phi)
    df["temperature_C"] = temp_set[hour] + proc.temperature_C.noise_sd * rng.standard_normal(n)
    df["speed_rpm"] = _drifting(rng, n, proc.speed_rpm, phi)
    df["vibration_mm_s"] = np.maximum(_drifting(rng, n, proc.vibration_mm_s, phi), proc.vibration_mm_s.floor)
    df["humidity_pct"] = np.clip(hum_set[hour] + proc.humidity_pct.noise_sd * rng.standard_normal(n), 0.0, 100.0)
    df["maintenance_cycles"] = _maintenance_counts(rng, n_hours, proc.maintenance)[hour]
    prob = true_probability(df, fault_cfg.truth)
    df[LABEL] = (rng.uniform(size=n) < prob).astype(np.int64)
    log = typed(df[[TIMESTAMP, *FEATURES, LABEL]])
    truth = pd.DataFrame({TIMESTAMP: log[TIMESTAMP], TRUE_PROB: prob})
    return log, truth
