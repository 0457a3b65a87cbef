"""One tiny trained and registered inventory forecaster per test session, shared by the service
tests (tests/inventory/test_service*.py) and the generated attacks (tests/fuzz/test_inventory_*.py,
test_service_*.py): preparing the tiny log and training on it costs seconds, once."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from pipeline.data import inventory as data_inventory
from pipeline.inventory.forecaster import ServedUsageForecaster
from pipeline.inventory.service import ServiceSettings
from tests.conftest import make_cfg

TOKEN = "test-token-0123456789abcdef"


@dataclass(frozen=True)
class Trained:
    cfg: DictConfig
    metrics: dict
    model: ServedUsageForecaster

    def raw_log(self) -> pd.DataFrame:
        return pd.read_csv(Path(self.cfg.paths.data) / "inventory" / "log.csv", dtype=str, keep_default_na=False)

    def settings(self, token: str | None = None, **change) -> ServiceSettings:
        """conf/serve's settings for an app of this model (a field changed where asked)."""
        base = ServiceSettings.from_config(self.cfg.serve, token)
        return ServiceSettings(**{**base.__dict__, **change})


_ONCE: dict[str, Trained] = {}


def trained(tmp_path_factory) -> Trained:
    """The session's tiny forecaster (prepared, trained and registered on first use)."""
    if "it" not in _ONCE:
        from pipeline.inventory.train import run  # torch and Lightning: only when a test needs the model

        cfg = make_cfg(tmp_path_factory.mktemp("inventory_trained"))
        data_inventory.prepare(cfg, Path(cfg.paths.data) / "inventory", Path(cfg.paths.reports) / "data")
        metrics = run(cfg)
        reg = metrics["registry"]
        _ONCE["it"] = Trained(cfg, metrics, ServedUsageForecaster.load(f"models:/{reg['name']}/{reg['version']}"))
    return _ONCE["it"]
