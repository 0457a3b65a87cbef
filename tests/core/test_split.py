"""The one chronological split of every model (pipeline/core/split.py)."""
from __future__ import annotations

import pytest

from pipeline.core.split import split_points, split_slices


@pytest.mark.parametrize("n, train, val, expected", [
    (20000, 0.7, 0.15, (14000, 17000)),   # fault log rows
    (34560, 0.6, 0.15, (20736, 25920)),   # line steps (48 h on the 5-s grid)
    (730, 0.7, 0.1, (511, 584)),          # inventory days
    (150, 0.65, 0.15, (98, 120)),         # inventory days, tiny configuration
])
def test_parts_are_counted_from_the_recent_end(n, train, val, expected):
    assert split_points(n, {"train": train, "val": val}, "model.x.split") == expected


def test_slices_cover_every_item_once_in_time_order():
    parts = split_slices(101, {"train": 0.6, "val": 0.2}, "model.x.split")
    assert [(s.start, s.stop) for s in parts.values()] == [(0, 61), (61, 81), (81, 101)]


@pytest.mark.parametrize("split, message", [
    ({"train": 0.8, "val": 0.2}, r"model\.x\.split: need 0 < train, 0 < val, train \+ val < 1"),
    ({"train": 0.0, "val": 0.2}, "need 0 < train"),
])
def test_a_split_without_a_test_part_is_refused_naming_the_key(split, message):
    with pytest.raises(ValueError, match=message):
        split_points(100, split, "model.x.split")


def test_too_few_items_for_three_parts_is_refused():
    with pytest.raises(ValueError, match="empty training part for 2 items"):
        split_points(2, {"train": 0.5, "val": 0.25}, "model.x.split")
