"""A registered inventory forecaster loaded for serving: what answering a request needs, prepared
once at start (ONNX sessions open, the catalogue and limits the stage judged the training rows
with, read back from the bundle and validated, series positions and scales looked up), so a
request pays only for its own rows.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.contracts.inventory import LINEAR_FILE, LSTM_FILE, SELECTION_FILE
from pipeline.core import registry
from pipeline.core.onnx_io import read_metadata, session
from pipeline.contracts.inventory.catalogue import Catalogue
from pipeline.inventory.bundle import CATALOGUE_FILE, EXTRA


@dataclass
class ServedUsageForecaster:
    """A registered inventory forecaster, loaded for serving (sessions opened once); the model
    it serves is trained as pipeline/inventory/lightning_module.UsageForecaster."""
    name: str
    version: str
    uri: str
    selection: dict
    catalogue: dict
    lstm: object
    linear: object
    checks: Catalogue = field(init=False)
    position: dict[tuple[str, str], int] = field(init=False)   # series key -> index in the selection
    scale: np.ndarray = field(init=False)                       # [series] as the models were trained

    def __post_init__(self) -> None:
        try:
            self.checks = Catalogue.from_config(self.catalogue, where=f"{self.uri} {CATALOGUE_FILE}")
        except ValueError as exc:
            raise ValueError(f"{exc}: a version registered before its bundle carried the loader's limits cannot "
                             "judge a request as the stage did; serve a newer version or retrain "
                             "(dvc repro train_inventory)") from None
        self.position = {tuple(k): i for i, k in enumerate(self.selection["keys"])}
        self.scale = np.asarray(self.selection["scale"], dtype=float)

    @property
    def seq_len(self) -> int:
        return int(self.selection["config"]["seq_len"])

    @property
    def horizon(self) -> int:
        return int(self.selection["config"]["horizon"])

    @property
    def chemicals(self) -> list[str]:
        return sorted({c for c, _ in self.selection["keys"]})

    @property
    def locations(self) -> list[str]:
        return sorted({loc for _, loc in self.selection["keys"]})

    @classmethod
    def from_folder(cls, folder: Path, name: str = "(files)", version: str = "-",
                    uri: str = "") -> "ServedUsageForecaster":
        """`folder` holds the three model files and the catalogue (a registered version's extra_files)."""
        missing = [n for n in (LSTM_FILE, LINEAR_FILE, SELECTION_FILE, CATALOGUE_FILE)
                   if not (folder / n).exists()]
        if missing:
            raise FileNotFoundError(f"{folder}: not an inventory forecaster bundle, lacks {missing}")
        read_metadata(folder / LSTM_FILE, required=["features", "horizon", "chemicals", "locations"])
        return cls(name, version, uri or str(folder), json.loads((folder / SELECTION_FILE).read_text()),
                   json.loads((folder / CATALOGUE_FILE).read_text()),
                   session(folder / LSTM_FILE), session(folder / LINEAR_FILE))

    @classmethod
    def load(cls, model_uri: str) -> "ServedUsageForecaster":
        got = registry.fetch(model_uri)
        return cls.from_folder(got.path / EXTRA, got.name, got.version, model_uri)
