"""The encoding interface and its registry."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from omegaconf import DictConfig

from pipeline.core.relu_bounds import NeuronBounds, interval_bounds, tighten
from pipeline.core.settings.optimize import NETWORK_ENCODINGS
from pipeline.optimize.instance import Instance
from pipeline.optimize.linear import Affine
from pipeline.optimize.network import N_INPUT, FaultNetwork, FoldedNetwork
from pipeline.optimize.plant import Press
from pipeline.optimize.sigmoid import SigmoidPWL
from pipeline.optimize.sigmoid import build as build_sigmoid

# name (one of NETWORK_ENCODINGS, the names conf/optimize may choose) -> the class registered under it
ENCODINGS: dict[str, type["NetworkEncoding"]] = {}


def free_box(inst: Instance, press: Press) -> dict[str, tuple[float, float]]:
    """The optimiser's box of a press's free network inputs (T_t, H_t and the maintenance count N)."""
    return {"temperature_C": inst.temperature_box, "humidity_pct": inst.humidity_box,
            N_INPUT: (press.required_maintenance, press.max_maintenance)}


class NetworkEncoding(ABC):
    """What all hourly copies of one press's network for one maintenance count N share, and how
    one copy is added to a block. `n_value` None means N is a free input of the copies."""

    name: ClassVar[str]
    enumerates_maintenance: ClassVar[bool] = True  # can the model fix N per sub-model?

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name not in NETWORK_ENCODINGS:
            raise TypeError(f"{cls.__name__}.name {cls.name!r} is not one of {NETWORK_ENCODINGS} "
                            "(pipeline/core/settings/optimize.py): add it there so conf/ may choose it")
        ENCODINGS[cls.name] = cls

    def __init__(self, net: FaultNetwork, press: Press, inst: Instance, n_value: int | None, opts: DictConfig):
        fixed = press.fixed_inputs
        if n_value is not None:
            fixed[N_INPUT] = n_value
        self.folded: FoldedNetwork = net.fold(fixed)
        box = free_box(inst, press)
        self.lo = np.array([box[n][0] for n in self.folded.inputs], float)
        self.hi = np.array([box[n][1] for n in self.folded.inputs], float)
        self.interval = interval_bounds(self.folded.weights, self.folded.biases, self.lo, self.hi)
        mode = str(opts.bound_tightening)
        if mode == "interval":
            self.bounds = self.interval
        else:
            self.bounds = tighten(self.folded.weights, self.folded.biases, self.lo, self.hi, exact=mode == "milp")
        self.refine_logit_bounds(self.bounds)
        self.sigmoid: SigmoidPWL = build_sigmoid(*self.bounds.logit, float(opts.sigmoid_tolerance))
        self.opts = opts

    def refine_logit_bounds(self, bounds: NeuronBounds) -> None:
        """A subclass that knows the logit's exact range narrows bounds.lower/upper[-1] here."""

    @property
    def probability_range(self) -> tuple[float, float]:
        """[p_min, p_max] of the PWL sigmoid over the logit's range."""
        lo, hi = self.sigmoid(np.array([self.sigmoid.lower, self.sigmoid.upper]))
        return max(float(lo), 0.0), float(hi)

    @abstractmethod
    def add(self, blk, free: dict) -> Affine:
        """Add one copy of the network to Pyomo block `blk`; `free` maps each free input name to
        its variable. Returns the logit as an affine map of variables."""

    def stats(self) -> dict:
        return {"interval": self.interval.count_unstable(), "tightened": self.bounds.count_unstable(),
                "logit_lower": self.bounds.logit[0], "logit_upper": self.bounds.logit[1],
                "sigmoid_tangents": len(self.sigmoid.tangents),
                "sigmoid_chord_pieces": max(len(self.sigmoid.chords) - 1, 0),
                "sigmoid_error_bound": self.sigmoid.error_bound, "linear_regions": None}


def encoding_class(name: str) -> type[NetworkEncoding]:
    """The registered encoding `name` (optimize.formulation.network_encoding, checked against
    NETWORK_ENCODINGS when the config loads)."""
    return ENCODINGS[name]
