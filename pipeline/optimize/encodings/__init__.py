"""How the fault network's hourly copies enter the MILP: one interface, several encodings.

`optimize.formulation.network_encoding` names one of ENCODINGS (as OMLT's formulations and
gurobi-machinelearning's predictor constraints are chosen): each class prepares what all
hourly copies of one maintenance count N share (folded layers, neuron bounds, the sigmoid's
pieces) and adds one copy to a Pyomo block, returning the logit as an affine map.
"""
from __future__ import annotations

from pipeline.optimize.encodings.base import ENCODINGS, NetworkEncoding, encoding_class
from pipeline.optimize.encodings.bigm import BigMEncoding
from pipeline.optimize.encodings.omlt_bigm import OmltBigMEncoding
from pipeline.optimize.encodings.region_hull import RegionHullEncoding

__all__ = ["ENCODINGS", "NetworkEncoding", "encoding_class", "BigMEncoding", "OmltBigMEncoding",
           "RegionHullEncoding"]
