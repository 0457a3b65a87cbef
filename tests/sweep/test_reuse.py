"""Reuse across multirun jobs: built once per process while only excluded keys change."""
from __future__ import annotations

from omegaconf import OmegaConf

from pipeline.sweep.reuse import reuse_key, reused


def test_same_key_when_only_excluded_costs_change(tmp_path):
    onnx = tmp_path / "net.onnx"
    onnx.write_bytes(b"weights-1")
    base = {"costs": {"maintenance_scale": 1.0, "machine_energy": {"alpha": 10.0}}, "optimize": {"horizon_hours": 3}}
    cfg = OmegaConf.create(base)
    scaled = OmegaConf.merge(cfg, {"costs": {"maintenance_scale": 0.5}})
    other_machine = OmegaConf.merge(cfg, {"costs": {"machine_energy": {"alpha": 11.0}}})
    exclude = ["costs.maintenance_scale"]

    key = reuse_key(cfg, exclude, [onnx])
    assert reuse_key(scaled, exclude, [onnx]) == key
    assert reuse_key(other_machine, exclude, [onnx]) != key  # enters the build: no reuse
    onnx.write_bytes(b"weights-2")
    assert reuse_key(cfg, exclude, [onnx]) != key  # a retrained network: no reuse


def test_built_once_per_key():
    builds = []

    def build():
        builds.append(1)
        return object()

    first, hit1 = reused("k1", build)
    second, hit2 = reused("k1", build)
    third, hit3 = reused("k2", build)
    assert first is second and (hit1, hit2, hit3) == (False, True, False) and len(builds) == 2
    assert third is not first
