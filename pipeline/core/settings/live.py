"""Schema of conf/live (option opcua): live line monitoring and the simulated line server."""
from __future__ import annotations

from typing import Literal

from pipeline.core.settings.schema import NonNegative, Positive, PositiveInt, Section, Text

POLICY_SECURE, POLICY_NONE = "Basic256Sha256", "None"   # OPC UA security policies (pipeline/core/opcua_security.py)
MODES = ("SignAndEncrypt", "Sign")


class Security(Section):
    """OPC UA security of the line server, the monitor and the planner (docs/security.md)."""
    policy: Literal[POLICY_SECURE, POLICY_NONE]   # None: local tries only, set explicitly
    mode: Literal[MODES]
    pki: Text
    users_file: Text | None = None
    user: Text | None = None
    password_env: Text


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
    security: Security
    publish: Publish
    server: Server
