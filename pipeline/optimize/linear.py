"""Flat linear expressions for Pyomo: the affine maps every part of the model hands around.

Pyomo's generic expression trees for long sums are what made building the 24-hour model slow;
a LinearExpression over explicit coefficients and variables is built and handed to the solver
at once.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyomo.core.expr.numeric_expr import LinearExpression


@dataclass
class Affine:
    """coefs . variables + constant (e.g. a network's logit over its inputs and ReLU outputs)."""

    coefs: np.ndarray
    variables: list
    constant: float = 0.0

    def expr(self) -> LinearExpression:
        return lin(self.coefs, self.variables, self.constant)


def lin(coefs: Sequence[float], variables: Sequence, constant: float = 0.0) -> LinearExpression:
    """A flat linear expression; zero coefficients are left out."""
    pairs = [(float(c), v) for c, v in zip(coefs, variables) if c != 0]
    return LinearExpression(constant=float(constant), linear_coefs=[c for c, _ in pairs],
                            linear_vars=[v for _, v in pairs])
