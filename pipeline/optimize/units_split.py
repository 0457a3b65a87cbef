"""A demand shared by several parts (rooms, or room-days) bounded by its split over the parts.

Each part's value as a function of the units u it makes is bounded from above by cuts (B, l), each
valid for every schedule of the part: value + l u <= B (a Lagrangian bound at the price l >= 0 on
units). Where a part is a room of several count vectors, each vector has its own cuts and the
room's function is the largest of its vectors' (and of the bound of the vectors not looked at);
cuts of the whole room cap it. So

    F_r(u) = min(room cuts at u, max over vectors v of min over v's cuts (B - l u)),

nonincreasing in u (every l >= 0), and the optimum is at most

    max over u_1 + ... + u_R = D of sum_r F_r(u_r)

(a schedule with more than D units: lower some u_r down to a sum of D, F_r does not fall). With
one price l for every cut this is the Lagrange bound sum_r B_r - l D again; with each vector its
own prices (cuts at the units its room makes in the best split) it is never looser and tighter
where the rooms' vectors want different prices: the demand's averaging over one shared price is
what it removes. Units are whole, so u runs over 0..D.
"""
from __future__ import annotations

import numpy as np


def cut_values(cuts: list[tuple[float, float]], D: int) -> np.ndarray:
    """min over cuts (B, l) of B - l u, for u = 0..D (+inf without cuts)."""
    u = np.arange(D + 1, dtype=float)
    out = np.full(D + 1, np.inf)
    for B, lam in cuts:
        out = np.minimum(out, B - lam * u)
    return out


def max_plus(parts: list[np.ndarray], D: int) -> tuple[float, list[int]]:
    """max over whole u_r >= 0 with sum u_r = D of sum_r parts[r][u_r] (each of length D + 1),
    and a split that attains it."""
    total, back = parts[0], []
    for F in parts[1:]:
        # new[w] = max over a <= w of total[a] + F[w - a]
        new, arg = np.full(D + 1, -np.inf), np.zeros(D + 1, dtype=np.int64)
        for a in range(D + 1):
            cand = total[a] + F[: D + 1 - a]
            better = cand > new[a:]
            new[a:] = np.where(better, cand, new[a:])
            arg[a:] = np.where(better, a, arg[a:])
        total = new
        back.append(arg)
    split, w = [], D
    for arg in reversed(back):
        a = int(arg[w])
        split.append(w - a)
        w = a
    split.append(w)
    return float(total[D]), split[::-1]
