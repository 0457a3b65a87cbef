"""Baselines on the same chronological split and scaled inputs as the DNN (scikit-learn)."""
from __future__ import annotations

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig


def baseline_probabilities(baselines: DictConfig, x_train: np.ndarray, y_train: np.ndarray,
                           x_test: np.ndarray) -> dict[str, np.ndarray]:
    """Each configured classifier fitted on train; its fault probability on test."""
    out = {}
    for name, spec in baselines.items():
        model = instantiate(spec)
        model.fit(x_train, y_train)
        out[str(name)] = model.predict_proba(x_test)[:, 1]
    return out
