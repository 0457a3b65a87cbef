"""The one chronological split every model uses (conf: `model.<name>.split: {train, val}`).

Fractions of the time axis (rows, steps or days): the test part is the most recent
1 - train - val of it, validation the val share just before, training everything older; no
future ever reaches the past. Part sizes are counted from the recent end (test first, then
validation, each rounded and at least one), so the held-out period is the same share whatever
the training part's rounding.
"""
from __future__ import annotations

from collections.abc import Mapping

SPLITS = ("train", "val", "test")


def split_points(n: int, split: Mapping, where: str) -> tuple[int, int]:
    """First index of the validation part and of the test part of `n` ordered items; `where`
    names the config key in errors (e.g. 'model.fault.split')."""
    train, val = float(split["train"]), float(split["val"])
    if not (0 < train and 0 < val and train + val < 1):
        raise ValueError(f"{where}: need 0 < train, 0 < val, train + val < 1; got {train}, {val}")
    n_test = max(1, round(n * (1.0 - train - val)))
    n_val = max(1, round(n * val))
    val_start, test_start = n - n_test - n_val, n - n_test
    if val_start < 1:
        raise ValueError(f"{where} {dict(split)} leaves an empty training part for {n} items")
    return val_start, test_start


def split_slices(n: int, split: Mapping, where: str) -> dict[str, slice]:
    """{'train': slice, 'val': slice, 'test': slice} over `n` ordered items."""
    val_start, test_start = split_points(n, split, where)
    return dict(zip(SPLITS, (slice(0, val_start), slice(val_start, test_start), slice(test_start, n))))
