"""Min-max scaling fitted on the training split and carried in the ONNX metadata:
x_scaled = (x_raw - offset) / factor, offset = train min, factor = train max - train min."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MinMaxScaling:
    offset: np.ndarray
    factor: np.ndarray

    @classmethod
    def fit(cls, raw: np.ndarray) -> "MinMaxScaling":
        low, high = raw.min(axis=0), raw.max(axis=0)
        span = high - low
        # a constant column (e.g. a real log without maintenance) would divide by zero
        return cls(offset=low.astype(np.float64), factor=np.where(span > 0, span, 1.0).astype(np.float64))

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return ((np.asarray(raw, dtype=np.float64) - self.offset) / self.factor).astype(np.float32)

    def metadata(self) -> dict:
        return {"kind": "minmax", "offset": self.offset.tolist(), "factor": self.factor.tolist()}
