"""How a line channel is named on OPC UA: written by the line's server (pipeline/data/line_opcua.py),
read by the live monitor (pipeline/process/live.py). Both take conf/live/opcua.yaml's `live` section."""
from __future__ import annotations

from omegaconf import DictConfig


def node_id(live: DictConfig, channel: str) -> str:
    """The configured string node id of `channel` (without its namespace index): `live.nodes[channel]`
    where given, else `live.node_id` with `{channel}` filled in."""
    nodes = live.get("nodes") or {}
    return str(nodes[channel]) if channel in nodes else str(live.node_id).format(channel=channel)
