"""Schema of conf/tracking (option local): the MLflow store and the Model Registry names."""
from __future__ import annotations

from pipeline.core.settings.schema import Section, Text


class RegisteredModels(Section):
    fault: Text
    process: Text
    inventory: Text


class Registry(Section):
    alias: Text
    audit_experiment: Text   # <experiment_prefix>/<this>: one run per move of the alias
    models: RegisteredModels


class Tracking(Section):
    uri: Text | None = None
    experiment_prefix: Text
    registry: Registry
