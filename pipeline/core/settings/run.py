"""Schema of conf/config.yaml's own keys: the global seed and where stages read and write."""
from __future__ import annotations

from pipeline.core.settings.schema import Section, Text, whole

Seed = whole(0, 2**32 - 1)  # numpy's and torch's seeds are 32-bit


class Paths(Section):
    data: Text
    models: Text
    reports: Text
