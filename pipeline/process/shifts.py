"""Level shifts: a batch whose target runs at another level, or with another spread, than the
batches the models learnt from (conf: model.process.shift).

Per batch and target, over running steps only (a stopped press reads zero force), against a
reference: the *other development batches of the same product*, or every other development
batch where the product has none (a test batch is never anyone's reference):
- level: the standardised difference of medians, (median of the batch - median of the
  reference) / (1.4826 * MAD of the reference's steps). The reference's scale pools its
  batches, so the ordinary batch-to-batch variation is part of it: a batch is flagged when it
  sits outside the range its product's batches cover (|level| > `level_sigma`), not for being a
  little off;
- spread: the batch's robust sigma (1.4826 * MAD around its own median) over the median of the
  reference batches' robust sigmas; flagged beyond `spread_ratio` or below its inverse.
Why an effect size and not a two-sample test: a batch has thousands of strongly autocorrelated
steps, so any test (Kolmogorov-Smirnov, t) rejects for differences nobody would act on and its
p-value says nothing about how far the batch is off. Medians and MADs, because a start's or a
sticking punch's excursions would move a mean and a standard deviation.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.process.control import MAD_TO_SIGMA
from pipeline.process.states import RUNNING

SHIFT_COLUMNS = ["batch", "product", "part", "target", "reference", "running_steps", "median", "reference_median",
                 "level_sigma", "spread_ratio", "level_shift", "spread_shift", "flagged"]
STATISTIC = ("level: (median - reference median) / (1.4826 MAD of the reference's running steps); spread: the "
             "batch's 1.4826 MAD over the median of the reference batches'; reference: the other development "
             "batches of the same product (all of them where the product has no other)")


def _sigma(x: np.ndarray) -> float:
    s = MAD_TO_SIGMA * float(np.median(np.abs(x - np.median(x))))
    return s if s > 0 else float(np.std(x))


def batch_shifts(values: np.ndarray, states: np.ndarray, batch: np.ndarray, names: list[str], products: list[str] | None,
                 dev: list[int], test: list[int], target_index: list[int], targets: list[str], level_sigma: float,
                 spread_ratio: float, min_steps: int) -> pd.DataFrame:
    """One row per batch and target (SHIFT_COLUMNS); `batch` is each step's batch number."""
    running = states == RUNNING
    products = products or ["all"] * len(names)
    rows = []
    for b in sorted(set(dev) | set(test)):
        others = [o for o in dev if o != b]
        same = [o for o in others if products[o] == products[b]]
        reference = same or others
        here = running & (batch == b)
        for j, target in zip(target_index, targets):
            x = values[here, j]
            x = x[np.isfinite(x)]
            refs = [values[running & (batch == o), j] for o in reference]
            refs = [r[np.isfinite(r)] for r in refs]
            refs = [r for r in refs if len(r) >= min_steps]
            row = {"batch": names[b], "product": products[b], "part": "test" if b in test else "development",
                   "target": target, "reference": "; ".join(names[o] for o in reference) if refs else "",
                   "running_steps": int(len(x))}
            if len(x) < min_steps or not refs:
                rows.append({**row, "median": float("nan"), "reference_median": float("nan"), "level_sigma": float("nan"),
                             "spread_ratio": float("nan"), "level_shift": False, "spread_shift": False, "flagged": False})
                continue
            pooled = np.concatenate(refs)
            level = (np.median(x) - np.median(pooled)) / max(_sigma(pooled), 1e-12)
            spread = _sigma(x) / max(float(np.median([_sigma(r) for r in refs])), 1e-12)
            level_shift = bool(abs(level) > level_sigma)
            spread_shift = bool(spread > spread_ratio or spread < 1.0 / spread_ratio)
            rows.append({**row, "median": float(np.median(x)), "reference_median": float(np.median(pooled)),
                         "level_sigma": float(level), "spread_ratio": float(spread), "level_shift": level_shift,
                         "spread_shift": spread_shift, "flagged": level_shift or spread_shift})
    return pd.DataFrame(rows, columns=SHIFT_COLUMNS)


def describe(row) -> str:
    """One sentence for a flagged row."""
    parts = []
    if row.level_shift:
        parts.append(f"level {row.level_sigma:+.1f} sigma (median {row.median:.4g} against {row.reference_median:.4g})")
    if row.spread_shift:
        parts.append(f"spread x{row.spread_ratio:.2f}")
    return f"{row.batch} ({row.part}): {row.target} {' and '.join(parts)}"


def shift_metrics(table: pd.DataFrame, level_sigma: float, spread_ratio: float) -> dict:
    """metrics.json's `shifts`: what was measured, the thresholds, the flagged batches by name
    and every batch's figures."""
    flagged = table[table.flagged.astype(bool)]
    by_batch: dict = {}
    for r in table.itertuples(index=False):
        by_batch.setdefault(r.batch, {})[r.target] = {
            "level_sigma": r.level_sigma, "spread_ratio": r.spread_ratio, "flagged": bool(r.flagged)}
    return {"statistic": STATISTIC, "level_sigma_threshold": level_sigma, "spread_ratio_threshold": spread_ratio,
            "batches_checked": int(table.batch.nunique()) if len(table) else 0,
            "flagged_batches": sorted(set(flagged.batch)), "flags": [describe(r) for r in flagged.itertuples(index=False)],
            "by_batch": by_batch}
