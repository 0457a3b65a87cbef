"""Hypothesis profiles for the generated attacks on every door.

`ci` (the default): a fixed seed (derandomize) and a small case budget, so CI is repeatable and
the whole fuzz suite stays under a minute. `long`: many cases and no deadline, for a run of hours
before a release: `pytest tests -k fuzz --hypothesis-profile=long` (or HYPOTHESIS_PROFILE=long).
A test that needs its own budget says so with `@settings(max_examples=...)` on top of the profile.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def register_profiles() -> None:
    common = dict(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                  print_blob=True)
    settings.register_profile("ci", max_examples=50, derandomize=True, deadline=None, **common)
    settings.register_profile("long", max_examples=20_000, derandomize=False, deadline=None, **common)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
