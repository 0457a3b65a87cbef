"""The failure-probability network: a plain MLP that outputs a logit (no sigmoid in the graph,
so OMLT's big-M ReLU formulation accepts the exported ONNX model)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class FaultMLP(nn.Module):
    """n_inputs -> hidden[0] -> ... -> 1, `activation` after each hidden layer."""

    def __init__(self, n_inputs: int, hidden: Sequence[int], activation: nn.Module, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        width = int(n_inputs)
        for size in hidden:
            layers += [nn.Linear(width, int(size)), type(activation)()]
            if dropout > 0:
                layers.append(nn.Dropout(float(dropout)))
            width = int(size)
        layers.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def linear_layers(self) -> list[nn.Linear]:
        return [m for m in self.layers if isinstance(m, nn.Linear)]
