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
    """
    q = np.asarray(q)
    g, s, _ = q.shape
    w = np.full((g, s), 1.0 / s) if weights is None else np.asarray(weights, float)
    codes = (q > 0).astype(np.int64) @ (1 << np.arange(q.shape[2]))[::-1]
    groups = []
    for k in range(g):
        shares = np.bincount(codes[k], weights=w[k], minlength=1 << q.shape[2])
        groups.append({_code_name(c, q.shape[2]): round(float(v), 6)
                       for c, v in enumerate(shares) if v > 0})
    names = sorted({p for grp in groups for p in grp}, reverse=True)
    overall = {p: round(float(np.mean([grp.get(p, 0.0) for grp in groups])), 6) for p in names}
    return {"shares": overall, "groups": groups}


def _code_name(code: int, d: int) -> str:
    return "".join("+" if (code >> (d - 1 - i)) & 1 else "-" for i in range(d))


def mode_finding(patterns: dict, label: str = "chain") -> Finding | None:
    """The main sign pattern of each group, when groups sit in different ones (else None)."""
    main = tuple(max(grp, key=grp.get) if grp else "" for grp in patterns["groups"])
    if len(set(main)) <= 1:
        return None
    return Finding("modes", "q", patterns=main, label=label)
