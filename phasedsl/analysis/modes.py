"""Sign modes of network posteriors: which sign pattern of the outgoing weights ``q`` holds
how much of the posterior, overall and per chain (or repeat).

A ReLU network's posterior has a mode per sign pattern of ``q`` (flipping a node's ``q``
changes its function, and no NUTS chain crosses between them), so a chain's phase masses
depend on the pattern it settled in. These shares make that visible.
"""

from __future__ import annotations

import numpy as np

from .mixing import Finding


def sign_patterns(q: np.ndarray, weights: np.ndarray | None = None) -> dict:
    """Shares of each sign pattern of ``q: f[G, S, d]`` (weights ``f[G, S]`` normalised per
    group, or equal). Patterns are strings like ``"+-"``, node order as in the model.

    Returns ``{"shares": {pattern: share}, "groups": [{pattern: share}, ...]}``; patterns
    with no mass are left out; ``shares`` averages the groups with equal weight.

    Linear in the width: only the patterns that occur are counted (a table of all 2^d
    patterns would need 8 PiB at d = 50).
    """
    q = np.asarray(q)
    g, s, _ = q.shape
    w = np.full((g, s), 1.0 / s) if weights is None else np.asarray(weights, float)
    groups = []
    for k in range(g):
        rows, which = np.unique(q[k] > 0, axis=0, return_inverse=True)
        shares = np.bincount(np.ravel(which), weights=w[k], minlength=len(rows))
        groups.append({_pattern(r): round(float(v), 6)
                       for r, v in zip(rows, shares) if v > 0})
    names = sorted({p for grp in groups for p in grp}, reverse=True)
    overall = {p: round(float(np.mean([grp.get(p, 0.0) for grp in groups])), 6) for p in names}
    return {"shares": overall, "groups": groups}


def _pattern(row) -> str:
    """A sign pattern as text: ``+`` for a positive ``q``, ``-`` else, node by node."""
    return "".join("+" if x else "-" for x in row)


def mode_finding(patterns: dict, label: str = "chain") -> Finding | None:
    """The main sign pattern of each group, when groups sit in different ones (else None)."""
    main = tuple(max(grp, key=grp.get) if grp else "" for grp in patterns["groups"])
    if len(set(main)) <= 1:
        return None
    return Finding("modes", "q", patterns=main, label=label)


def other_groups(params: np.ndarray, indicators: np.ndarray, weights: np.ndarray | None,
                 logdensity: np.ndarray, layout=None, top: int = 5,
                 width: float = 0.5) -> list[dict]:
    """Where the mass in no phase (``other``) sits: the draws in no phase grouped by a
    coarse key, the ``top`` heaviest groups with their share of the whole posterior and a
    representative point (the group's draw of highest log density).

    Networks (``layout``, a ``NetworkLayout``): the key is the sign pattern of ``q`` and each
    node's effective-weight norm ``|q_i w_i|`` rounded to ``width``; the representative is
    the effective weights ``u f[d, k]`` and ``b``. Energies: each parameter rounded to
    ``width``. ``params f[G, S, D]``, ``indicators bool[G, S, P]``, ``weights f[G, S]``
    (equal when None), ``logdensity f[G, S]``; groups are weighted equally.

    Returns ``[{"mass", "key", "point"}]``, heaviest first (plain Python values)."""
    params = np.asarray(params, float)
    g, s, _ = params.shape
    w = np.full((g, s), 1.0 / s) if weights is None else np.asarray(weights, float)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300) / g  # share of the whole
    outside = ~np.asarray(indicators, bool).any(axis=2)
    flat, wt, ld = params.reshape(g * s, -1), (w * outside).reshape(-1), \
        np.asarray(logdensity, float).reshape(-1)
    keep = wt > 0
    if not keep.any():
        return []
    flat, wt, ld = flat[keep], wt[keep], np.where(np.isfinite(ld[keep]), ld[keep], -np.inf)
    if layout is not None:
        wv, b, q, _ = layout.split(flat)
        u = q[:, :, None] * wv
        norms = np.round(np.linalg.norm(u, axis=2) / width) * width
        rows, which = np.unique(np.concatenate([q > 0, norms], axis=1), axis=0,
                                return_inverse=True)
        m = q.shape[1]
        names = [f"q = ({', '.join('+' if x else '-' for x in row[:m])}), "
                 f"|u| ~ ({', '.join(f'{n:g}' for n in row[m:])})" for row in rows]
    else:
        rows, which = np.unique(np.round(flat / width) * width, axis=0, return_inverse=True)
        names = ["(" + ", ".join(f"{x:g}" for x in row) + ")" for row in rows]
    which = which.reshape(-1)
    out = []
    mass = np.bincount(which, weights=wt, minlength=len(names))
    order = np.lexsort((ld, which))              # by group, the highest log density last
    last = np.flatnonzero(np.r_[which[order][1:] != which[order][:-1], True])
    for group, best in zip(which[order][last], order[last]):
        key = names[group]
        if layout is not None:
            wv, b, q, _ = layout.split(flat[best])
            point = {"u": np.round(q[:, None] * wv, 3).tolist(), "b": np.round(b, 3).tolist()}
        else:
            point = {"params": np.round(flat[best], 3).tolist()}
        out.append({"mass": float(mass[group]), "key": key, "point": point})
    out.sort(key=lambda d: -d["mass"])
    return out[:top]
