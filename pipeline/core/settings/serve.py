"""Schema of conf/serve (option inventory): the inventory prediction service."""
from __future__ import annotations

from pipeline.core.settings.schema import Section, Text, number, whole

MAX_BODY_MB = 1024


class Serve(Section):
    model: Text
    host: Text
    port: whole(1, 65535)
    max_body_mb: number(gt=0, le=MAX_BODY_MB)
