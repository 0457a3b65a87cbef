"""Torch modules of the usage forecaster (what the ONNX files hold)."""
from __future__ import annotations

import torch
from torch import nn


from pipeline.inventory.features import FEATURES, USAGE_FEATURES

LEVEL_FEATURES = len(USAGE_FEATURES)  # the first features are usage: divided by the window's level
PROFILE = FEATURES.index("season4")   # last week of the weekly profile goes straight to the head
assert FEATURES[:LEVEL_FEATURES] == USAGE_FEATURES
LEVEL_FLOOR = 0.05  # in series-scale units: keeps idle windows from dividing by ~0


class UsageLSTM(nn.Module):
    """Global LSTM over all series: a window of daily features -> the next `horizon` days
    (scaled usage, >= 0 by a softplus), with chemical and lab embeddings in the head.

    Each window is divided by its own level (mean use over the window) and the output
    multiplied back: the trend makes later usage larger than anything seen in training, and a
    level-free network extrapolates to it where a fixed scale would not.

    The output is a correction to the four-week weekday profile (`season4` of the same
    weekday as each target day), with the last layer starting at zero: training starts from
    that strong baseline and only moves away from it where the data say so."""

    def __init__(self, n_features: int, n_chemicals: int, n_locations: int, horizon: int,
                 hidden_size: int = 48, num_layers: int = 1, embedding_dim: int = 4, dropout: float = 0.0,
                 season: int = 7):
        super().__init__()
        self.chemical = nn.Embedding(n_chemicals, embedding_dim)
        self.location = nn.Embedding(n_locations, embedding_dim)
        self.lstm = nn.LSTM(n_features + 2 * embedding_dim, hidden_size, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Sequential(nn.Linear(hidden_size + 2 * embedding_dim + 7, hidden_size), nn.ReLU(),
                                  nn.Linear(hidden_size, horizon))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)
        self.season = season
        self.horizon = horizon

    def _profile_index(self, seq_len: int) -> list[int]:
        """Window position of the same weekday as target day t+h in the last season."""
        return [seq_len - 1 + h - -(-h // self.season) * self.season for h in range(1, self.horizon + 1)]

    def forward(self, x: torch.Tensor, chemical: torch.Tensor, location: torch.Tensor) -> torch.Tensor:
        level = x[:, :, 0].mean(dim=1, keepdim=True) + LEVEL_FLOOR  # [B, 1]
        x = torch.cat([x[:, :, :LEVEL_FEATURES] / level.unsqueeze(-1), x[:, :, LEVEL_FEATURES:]], dim=-1)
        ident = torch.cat([self.chemical(chemical), self.location(location)], dim=-1)
        steps = ident.unsqueeze(1).expand(-1, x.shape[1], -1)
        out, _ = self.lstm(torch.cat([x, steps], dim=-1))
        profile = x[:, self._profile_index(x.shape[1]), PROFILE]
        correction = self.head(torch.cat([out[:, -1], ident, x[:, -7:, PROFILE]], dim=-1))
        return torch.relu(profile + correction) * level


class LinearBank(nn.Module):
    """The per-chemical linear models as one module: features [B, P], chemical [B] -> [B, H]."""

    def __init__(self, weights: torch.Tensor):
        super().__init__()
        self.register_buffer("weights", weights.float())

    def forward(self, features: torch.Tensor, chemical: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bp,bph->bh", features, self.weights[chemical])
