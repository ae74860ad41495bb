"""The flat parameter vector of a network model: ``w[1..d][1..k], b[1..d], q[1..d], c``
(``d(k+2)+1`` numbers). The one owner of that index arithmetic; JAX-free."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NetworkLayout:
    """``width`` nodes ``d``, ``inputs`` ``k``. Indices are 0-based offsets into ``f[D]``."""

    width: int
    inputs: int

    @property
    def dim(self) -> int:
        return self.width * (self.inputs + 2) + 1

    def split(self, params):
        """``(w f[..., d, k], b f[..., d], q f[..., d], c f[...])`` of ``params f[..., D]``."""
        d, k = self.width, self.inputs
        lead = params.shape[:-1]
        return (params[..., : d * k].reshape(lead + (d, k)), params[..., d * k: d * k + d],
                params[..., d * k + d: d * k + 2 * d], params[..., d * k + 2 * d])

    def permutations(self) -> np.ndarray:
        """``int32[d!, D]``: for each permutation of the nodes, the parameter vector's indices
        reordered (node i's ``w``, ``b``, ``q`` taken from node perm(i))."""
        d, k = self.width, self.inputs
        rows = []
        for perm in itertools.permutations(range(d)):
            idx = list(range(self.dim))
            for i, j in enumerate(perm):
                for t in range(k):
                    idx[i * k + t] = j * k + t
                idx[d * k + i] = d * k + j
                idx[d * k + d + i] = d * k + d + j
            rows.append(idx)
        return np.asarray(rows, np.int32)
