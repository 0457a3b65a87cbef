"""Torch modules of the usage forecaster (what the ONNX files hold)."""
from __future__ import annotations

import torch
from torch import nn


class UsageLSTM(nn.Module):
    """Global LSTM over all series: a window of daily features -> the next `horizon` days
    (scaled usage, >= 0 by a softplus), with chemical and lab embeddings in the head."""

    def __init__(self, n_features: int, n_chemicals: int, n_locations: int, horizon: int,
                 hidden_size: int = 48, num_layers: int = 1, embedding_dim: int = 4, dropout: float = 0.0):
        super().__init__()
        self.chemical = nn.Embedding(n_chemicals, embedding_dim)
        self.location = nn.Embedding(n_locations, embedding_dim)
        self.lstm = nn.LSTM(n_features + 2 * embedding_dim, hidden_size, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Sequential(nn.Linear(hidden_size + 2 * embedding_dim, hidden_size), nn.ReLU(),
                                  nn.Linear(hidden_size, horizon), nn.Softplus())

    def forward(self, x: torch.Tensor, chemical: torch.Tensor, location: torch.Tensor) -> torch.Tensor:
        ident = torch.cat([self.chemical(chemical), self.location(location)], dim=-1)
        steps = ident.unsqueeze(1).expand(-1, x.shape[1], -1)
        out, _ = self.lstm(torch.cat([x, steps], dim=-1))
        return self.head(torch.cat([out[:, -1], ident], dim=-1))


class LinearBank(nn.Module):
    """The per-chemical linear models as one module: features [B, P], chemical [B] -> [B, H]."""

    def __init__(self, weights: torch.Tensor):
        super().__init__()
        self.register_buffer("weights", weights.float())

    def forward(self, features: torch.Tensor, chemical: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bp,bph->bh", features, self.weights[chemical])
