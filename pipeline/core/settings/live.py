"""Schema of conf/live (option opcua): live line monitoring and the simulated line server."""
from __future__ import annotations

from pipeline.core.settings.schema import NonNegative, Positive, PositiveInt, Section, Text


class Publish(Section):
    endpoint: Text | None = None
    namespace: Text


class Server(Section):
    speed: NonNegative   # x real time; 0 = as fast as it can
    start: Text | None = None


class Live(Section):
    endpoint: Text
    namespace: Text
    node_id: Text
    nodes: dict[str, Text]
    model: Text
    out: Text
    publishing_interval_ms: Positive
    queue_size: PositiveInt
    client_queue: PositiveInt
    sample_period_s: Positive
    ffill_limit_s: NonNegative
    grace_s: NonNegative
    stale_after_s: Positive
    stuck_after_s: Positive
    server_silent_s: Positive
    connect_timeout_s: Positive
    request_timeout_s: Positive
    reconnect_max_delay_s: Positive
    publish: Publish
    server: Server
