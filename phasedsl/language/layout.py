"""Where each parameter of a one-hidden-layer network sits in the flat parameter vector.

``f(x) = c + sum_i q_i act(<w_i, x> + b_i)`` with ``d`` hidden nodes and ``k`` inputs has
``D = d * k + 2 * d + 1`` parameters, laid out ``w[d, k]`` (row-major: node ``i``'s weights
are ``w[i, 0..k-1]``), then ``b[d]``, ``q[d]``, ``c``. Indices are 0-based. Plain Python and
numpy (no JAX): the checker, the lowering and the reports share it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NetworkLayout:
    """The parameter layout of a network of ``width`` (``d``) nodes on ``inputs`` (``k``)."""

    width: int
    inputs: int

    @property
    def dim(self) -> int:
        """``D = d * k + 2 * d + 1``."""
        return self.width * self.inputs + 2 * self.width + 1

    @property
    def b_start(self) -> int:
        """Index of ``b[0]`` (``w`` fills ``0 .. d*k - 1``)."""
        return self.width * self.inputs

    @property
    def q_start(self) -> int:
        """Index of ``q[0]``."""
        return self.b_start + self.width

    @property
    def c_index(self) -> int:
        """Index of ``c``, the last parameter."""
        return self.q_start + self.width

    def w(self, i: int, j: int) -> int:
        """Index of ``w[i, j]``: node ``i``'s weight on input ``j``."""
        return i * self.inputs + j

    def b(self, i: int) -> int:
        """Index of ``b[i]``."""
        return self.b_start + i

    def q(self, i: int) -> int:
        """Index of ``q[i]``."""
        return self.q_start + i

    def split(self, params):
        """``(w f[..., d, k], b f[..., d], q f[..., d], c f[...])`` sliced from ``params:
        f[..., D]`` (numpy or JAX arrays)."""
        d, k = self.width, self.inputs
        lead = params.shape[:-1]
        return (params[..., : d * k].reshape(lead + (d, k)),
                params[..., self.b_start: self.q_start],
                params[..., self.q_start: self.c_index],
                params[..., self.c_index])

    def permutations(self) -> np.ndarray:
        """``int32[d!, D]``: for each permutation ``perm`` of the nodes, the parameter indices
        reordered so that node ``i`` takes node ``perm[i]``'s ``w``, ``b`` and ``q`` (``c``
        stays); row 0 is the identity."""
        d, k = self.width, self.inputs
        rows = []
        for perm in itertools.permutations(range(d)):
            idx = list(range(self.dim))
            for i, j in enumerate(perm):
                for t in range(k):
                    idx[self.w(i, t)] = self.w(j, t)
                idx[self.b(i)] = self.b(j)
                idx[self.q(i)] = self.q(j)
            rows.append(idx)
        return np.asarray(rows, np.int32)
