"""Evenly spread indices: which of ``count`` items to keep when at most ``limit`` fit (the
sweep values of ``--quick``, the draws and sweep values a figure shows)."""

from __future__ import annotations

import numpy as np

__all__ = ["thin_indices"]


def thin_indices(count: int, limit: int) -> list[int]:
    """At most ``limit`` distinct indices of ``range(count)``, increasing, evenly spread, both
    ends kept (all of them where ``count <= limit``)."""
    if count <= 0 or limit <= 0:
        return []
    return np.unique(np.round(np.linspace(0, count - 1, min(count, limit)))).astype(int).tolist()
