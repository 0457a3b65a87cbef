"""The linear regions of a folded network with two free inputs (T, H) over their box.

With the maintenance count fixed, each hourly copy of the network is one continuous
piecewise-linear function of (T, H). We split the box into convex polygons on which every
unstable neuron keeps its sign (layer by layer: a polygon is cut by each neuron's zero line,
which is a straight line inside a polygon where the earlier layers are linear). On each
polygon the logit is one affine function. The formulation then picks one polygon per hour
(convex-hull / disaggregated formulation), whose LP relaxation is the convex envelope of the
network over the box: far tighter than big-M, with one binary per region instead of one
per unstable neuron.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.core.relu_bounds import NeuronBounds
from pipeline.optimize.network import FoldedNetwork

EPS = 1e-9


@dataclass
class Region:
    vertices: np.ndarray   # [k, 2] convex polygon, counter-clockwise
    A: np.ndarray          # [m, 2] half-planes A v <= c describing the polygon
    c: np.ndarray
    grad: np.ndarray       # logit = grad . (T, H) + offset on this polygon
    offset: float


def _clip(poly: np.ndarray, a: np.ndarray, b: float) -> np.ndarray:
    """The part of convex polygon `poly` where a . v + b <= 0 (Sutherland-Hodgman, one edge)."""
    out = []
    n = len(poly)
    vals = poly @ a + b
    for i in range(n):
        p, q = poly[i], poly[(i + 1) % n]
        vp, vq = vals[i], vals[(i + 1) % n]
        if vp <= 0:
            out.append(p)
        if (vp < 0 < vq) or (vq < 0 < vp):
            out.append(p + (q - p) * (vp / (vp - vq)))
    return np.array(out) if out else np.zeros((0, 2))


def _area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _halfplanes(poly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges of a counter-clockwise polygon as A v <= c (outward normals)."""
    A, c = [], []
    for i in range(len(poly)):
        p, q = poly[i], poly[(i + 1) % len(poly)]
        edge = q - p
        length = np.hypot(*edge)
        if length < 1e-12:
            continue
        normal = np.array([edge[1], -edge[0]]) / length  # right of the edge = outside (CCW)
        A.append(normal)
        c.append(float(normal @ p))
    return np.array(A), np.array(c)


def linear_regions(net: FoldedNetwork, bounds: NeuronBounds, lo, hi, min_area: float = 1e-9) -> list[Region]:
    """All convex polygons of the box on which the network is affine, with that affine map."""
    if len(net.inputs) != 2:
        raise ValueError(f"linear_regions needs two free inputs, got {net.inputs}")
    box = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]], float)
    # a piece: polygon + affine map of the current layer's input (J: [2, n], k: [n])
    pieces = [(box, np.eye(2), np.zeros(2))]
    for layer in range(len(net.weights) - 1):
        w, b = net.weights[layer], net.biases[layer]
        L, U = bounds.lower[layer], bounds.upper[layer]
        new = []
        for poly, J, k in pieces:
            G, g = J @ w, k @ w + b  # pre-activations: v @ G + g on this polygon
            parts = [(poly, np.ones(w.shape[1], bool))]  # active mask per part
            for j in np.flatnonzero((L < 0) & (U > 0)):
                split = []
                for part, active in parts:
                    vals = part @ G[:, j] + g[j]
                    if vals.max() <= EPS:
                        a = active.copy(); a[j] = False
                        split.append((part, a))
                    elif vals.min() >= -EPS:
                        split.append((part, active))
                    else:
                        neg = _clip(part, G[:, j], g[j])
                        pos = _clip(part, -G[:, j], -g[j])
                        a = active.copy(); a[j] = False
                        if abs(_area(neg)) > min_area:
                            split.append((neg, a))
                        if abs(_area(pos)) > min_area:
                            split.append((pos, active))
                parts = split
            for part, active in parts:
                active = active & (U > 0)  # stable-inactive neurons are off everywhere
                new.append((part, G * active, g * active))
        pieces = new
    w, b = net.weights[-1], net.biases[-1]
    regions = []
    for poly, J, k in pieces:
        if _area(poly) < 0:
            poly = poly[::-1]
        A, c = _halfplanes(poly)
        regions.append(Region(poly, A, c, (J @ w)[:, 0], float((k @ w + b)[0])))
    return regions
