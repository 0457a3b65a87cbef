"""The recent-best forecaster: per window, target and horizon, the forecast of the baseline whose
forecasts over the window's last `history` realised origins were closest to what happened.

Why: the real press's batches differ in kind, not only in level. In some the ejection force
drifts (a level-free AR forecasts them best), in others it is noise around a level (a moving
average does): over the 13 real batches, any one fixed baseline is 10-38 % worse than the best
one on some batch. Which kind a batch is shows in its recent past, but only over tens of
minutes: judged over the 6 minutes an LSTM window holds, the choice is noisy (2-4 % worse than
the best in the median); over the last 30 minutes it is within 2 % of the best on every batch
(an offline leave-one-batch-out check while choosing `baselines.recent_s`; the stage's own
figures: docs/process.md, reports/bench/process_batches.json). It is deterministic, has
nothing to train, and runs in the ONNX graph (`RecentBestModule`) from the raw window, as the
replay and the live monitor feed it.

Only origins where the press was producing at the origin and at the step forecast count
(speed and force at or above their `running_from`, step by step, without the settle time, so
numpy and the graph tell them alike): a stop would otherwise favour persistence, the one
baseline that follows a fall to zero. A window without such an origin takes the fallback
baseline (the one cross-validation chose among the fixed baselines).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pipeline.process.baselines import LinearFilter
from pipeline.process.states import StateRule

NAME = "recent_best"


def producing(values: np.ndarray, channels: list[str], rule: StateRule | None) -> np.ndarray:
    """[steps] bool: the press producing at the step (no settle time; all True without a rule)."""
    if rule is None:
        return np.ones(len(values), dtype=bool)
    ok = values[:, channels.index(rule.speed)] >= rule.running_from
    if rule.force:
        ok &= values[:, channels.index(rule.force)] >= rule.force_from
    return ok


def span(used: int, horizons: list[int], history: int) -> int:
    """Steps a window must hold for `history` realised origins at the farthest horizon."""
    return used + max(horizons) + history - 1


class RecentBest:
    """numpy: forecasts [windows, horizons, targets] for windows ending at `ends` (the window
    of each must hold span() steps of one batch: the caller's window_ends sees to it)."""

    def __init__(self, candidates: list[LinearFilter], horizons: list[int], history: int, used: int,
                 fallback: np.ndarray):
        self.candidates, self.horizons, self.history, self.used = candidates, list(horizons), int(history), int(used)
        self.fallback = np.asarray(fallback)  # [horizons, targets] index into candidates

    def predict(self, y: np.ndarray, ends: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """y: [steps, targets] raw targets; ok: [steps] producing mask."""
        n, T = y.shape
        steps = np.arange(self.used - 1, n)
        out = np.empty((len(ends), len(self.horizons), T))
        for k, h in enumerate(self.horizons):
            valid = np.zeros(n, dtype=bool)
            valid[steps[steps + h < n]] = True
            origin = np.flatnonzero(valid)
            mask = ok[origin] & ok[origin + h]
            scores, now = [], []
            for f in self.candidates:
                fc = _filter_at(f, y, origin, k, self.used)
                err = np.abs(fc - y[origin + h])                 # [origins, targets]
                err = np.where(mask[:, None] & np.isfinite(err), err, 0.0)
                csum = np.zeros((n + 1, T))
                csum[origin + 1] = err
                csum = np.cumsum(csum, axis=0)                   # csum[s] = sum of err at origins < s
                last = ends - h + 1                              # origins ends-h-K+1 .. ends-h
                scores.append(csum[last] - csum[last - self.history])
                now.append(_filter_at(f, y, ends, k, self.used))
            count = np.zeros(n + 1)
            count[origin + 1] = mask
            count = np.cumsum(count)
            seen = (count[ends - h + 1] - count[ends - h + 1 - self.history]) > 0
            pick = np.argmin(np.stack(scores), axis=0)           # [windows, targets]; ties: the first candidate
            pick = np.where(seen[:, None], pick, self.fallback[k][None, :])
            out[:, k, :] = np.take_along_axis(np.stack(now, axis=-1), pick[..., None], axis=-1)[..., 0]
        return out


def _filter_at(f: LinearFilter, y: np.ndarray, origins: np.ndarray, k: int, used: int) -> np.ndarray:
    """[origins, targets] forecast of filter `f` at horizon row k from the `used` steps up to each origin."""
    w = y[origins[:, None] - np.arange(used)[::-1][None, :]]     # [origins, used, targets]
    return np.einsum("nlt,tl->nt", w, f.weights[k][:, -used:]) + f.bias[k][None, :]


class RecentBestModule(nn.Module):
    """The same forecaster in the graph: raw window [batch, span, channels] in, [batch, horizons,
    targets] out. The candidates' forecasts at every origin of the window come from one conv1d
    per target; the producing mask from the raw speed and force channels."""

    def __init__(self, candidates: list[LinearFilter], horizons: list[int], history: int, used: int,
                 fallback: np.ndarray, target_index: list[int], channels: list[str], rule: StateRule | None):
        super().__init__()
        self.horizons, self.history, self.used = [int(h) for h in horizons], int(history), int(used)
        w = np.stack([f.weights[..., -used:] for f in candidates])      # [C, H, T, used]
        b = np.stack([f.bias for f in candidates])                       # [C, H, T]
        self.register_buffer("weight", torch.as_tensor(w, dtype=torch.float32))
        self.register_buffer("bias", torch.as_tensor(b, dtype=torch.float32))
        self.register_buffer("fallback", torch.as_tensor(np.asarray(fallback), dtype=torch.long))  # [H, T]
        self.target_index = [int(i) for i in target_index]
        self.i_speed = channels.index(rule.speed) if rule else None
        self.speed_from = float(rule.running_from) if rule else 0.0
        self.i_force = channels.index(rule.force) if rule and rule.force else None
        self.force_from = float(rule.force_from) if rule else 0.0

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        B, L, _ = window.shape
        C, H, T, U = self.weight.shape
        if self.i_speed is None:
            ok = torch.ones(B, L, dtype=window.dtype, device=window.device)
        else:
            ok = (window[..., self.i_speed] >= self.speed_from).to(window.dtype)
            if self.i_force is not None:
                ok = ok * (window[..., self.i_force] >= self.force_from).to(window.dtype)
        out = []
        for k, h in enumerate(self.horizons):
            per_target = []
            for j, ch in enumerate(self.target_index):
                y = window[:, :, ch]                                                   # [B, L]
                kernel = self.weight[:, k, j, :].unsqueeze(1)                           # [C, 1, U]
                fc = torch.nn.functional.conv1d(y.unsqueeze(1), kernel) + self.bias[:, k, j].view(1, C, 1)  # [B, C, L-U+1]
                # origin o (step) sits at conv position o - U + 1; origins L-1-h-K+1 .. L-1-h, truths o + h
                first = L - h - self.history
                past = fc[:, :, first - U + 1: L - h - U + 1]                            # [B, C, K]
                truth = y[:, first + h: L].unsqueeze(1)                                  # [B, 1, K]
                mask = (ok[:, first: L - h] * ok[:, first + h: L]).unsqueeze(1)          # [B, 1, K]
                score = ((past - truth).abs() * mask).sum(dim=-1)                        # [B, C]
                pick = torch.argmin(score, dim=1)                                        # ties: the first
                pick = torch.where(mask.sum(dim=(1, 2)) > 0, pick, self.fallback[k, j].expand(B))
                out_now = fc[:, :, -1]                                                   # [B, C]
                per_target.append(torch.gather(out_now, 1, pick.unsqueeze(1)).squeeze(1))
            out.append(torch.stack(per_target, dim=-1))
        return torch.stack(out, dim=1)
