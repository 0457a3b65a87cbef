"""The naive baseline: OMLT's own big-M formulation over all six inputs, interval bounds only."""
from __future__ import annotations

import numpy as np
import pyomo.environ as pe
from omegaconf import DictConfig

from pipeline.core.relu_bounds import interval_bounds
from pipeline.optimize.encodings.base import NetworkEncoding, free_box
from pipeline.optimize.instance import Instance
from pipeline.optimize.linear import Affine
from pipeline.optimize.network import FEATURES, FaultNetwork
from pipeline.optimize.plant import Press
from pipeline.optimize.sigmoid import build as build_sigmoid


class OmltBigMEncoding(NetworkEncoding):
    """OMLT's ReluBigMFormulation on the unfolded network (N a variable input, no bound
    tightening, binaries on every neuron): what a user of OMLT gets out of the box. OMLT's
    network definition is built once here; every hourly block builds its formulation from it."""

    name = "omlt_bigm"
    enumerates_maintenance = False

    def __init__(self, net: FaultNetwork, press: Press, inst: Instance, n_value: int | None, opts: DictConfig):
        from omlt import OffsetScaling
        from omlt.io import load_onnx_neural_network

        import onnx

        self.folded = net.fold({})
        box = {**free_box(inst, press), **{k: (v, v) for k, v in press.fixed}}
        self.lo = np.array([box[n][0] for n in FEATURES], float)
        self.hi = np.array([box[n][1] for n in FEATURES], float)
        self.interval = self.bounds = interval_bounds(self.folded.weights, self.folded.biases, self.lo, self.hi)
        cols = list(net.columns)  # OMLT reads the graph: its inputs in the graph's column order
        scaler = OffsetScaling(offset_inputs=list(net.offset[cols]), factor_inputs=list(net.factor[cols]),
                               offset_outputs=[0.0], factor_outputs=[1.0])
        # OMLT wants the bounds in the scaled space (shared/DESIGN.md), keyed by input position
        scaled = {i: ((self.lo[c] - net.offset[c]) / net.factor[c], (self.hi[c] - net.offset[c]) / net.factor[c])
                  for i, c in enumerate(cols)}
        self.netdef = load_onnx_neural_network(onnx.load(str(net.path)), scaler, scaled)
        self.sigmoid = build_sigmoid(*self.bounds.logit, float(opts.sigmoid_tolerance))
        self.fixed = press.fixed_inputs
        self.columns = net.columns
        self.opts = opts

    def add(self, blk, free: dict) -> Affine:
        from omlt import OmltBlock
        from omlt.neuralnet import ReluBigMFormulation

        blk.nn = OmltBlock()
        blk.nn.build_formulation(ReluBigMFormulation(self.netdef))
        keys = list(blk.nn.inputs.keys())
        values = [free.get(FEATURES[c], self.fixed.get(FEATURES[c])) for c in self.columns]
        blk.link = pe.Constraint(range(len(FEATURES)), rule=lambda _, i: blk.nn.inputs[keys[i]] == values[i])
        out = blk.nn.outputs[list(blk.nn.outputs.keys())[0]]
        return Affine(np.array([1.0]), [out], 0.0)
