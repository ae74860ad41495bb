"""Where each number sits in the flat parameter vector (JAX-free).

``Slot`` names a block of the flat vector (``params[start:start+size]``), for energies and
networks alike. ``NetworkLayout`` is the one owner of a network model's layout::

    w[1..d][1..k], b[1..d], q[1..d], c        (d(k+2)+1 numbers)

9 numbers for PT1 (d = 2, k = 2), 13 for PT2 (d = 3). Node and input numbers are 1-based, as
in the language (``w[i][j]``); the indices returned are 0-based positions in the flat vector.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    """A named block of the flat parameter vector: ``params[start:start+size]``."""

    name: str
    shape: tuple[int, ...]
    start: int
    lower: float = float("-inf")
    upper: float = float("inf")

    @property
    def size(self) -> int:
        out = 1
        for s in self.shape:
            out *= s
        return out


@dataclass(frozen=True)
class NetworkLayout:
    """The flat layout of a network of ``width`` d nodes on ``inputs`` k dimensions."""

    width: int  # d
    inputs: int  # k

    @property
    def dim(self) -> int:
        """``d(k+2)+1``: how many numbers the model has."""
        return self.width * (self.inputs + 2) + 1

    # 0-based positions of the 1-based names
    def w(self, i: int, j: int) -> int:
        """Position of ``w[i][j]`` (node i = 1..d, input j = 1..k)."""
        return (i - 1) * self.inputs + (j - 1)

    def b(self, i: int) -> int:
        """Position of ``b[i]`` (node i = 1..d)."""
        return self.width * self.inputs + (i - 1)

    def q(self, i: int) -> int:
        """Position of ``q[i]`` (node i = 1..d)."""
        return self.width * self.inputs + self.width + (i - 1)

    @property
    def c(self) -> int:
        """Position of ``c`` (the last number)."""
        return self.dim - 1

    @property
    def slots(self) -> tuple[Slot, ...]:
        d, k = self.width, self.inputs
        return (Slot("w", (d, k), self.w(1, 1)), Slot("b", (d,), self.b(1)),
                Slot("q", (d,), self.q(1)), Slot("c", (), self.c))

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the numbers, in order: ``w[1][1]``, ..., ``b[1]``, ..., ``c``; the
        names of the sympy symbols the checker gives them."""
        d, k = self.width, self.inputs
        return (tuple(f"w[{i}][{j}]" for i in range(1, d + 1) for j in range(1, k + 1))
                + tuple(f"b[{i}]" for i in range(1, d + 1))
                + tuple(f"q[{i}]" for i in range(1, d + 1)) + ("c",))

    def split(self, params):
        """``(w [..., d, k], b [..., d], q [..., d], c [...])`` of an array ``[..., D]``, by
        slicing (numpy or JAX arrays alike)."""
        d, k = self.width, self.inputs
        w = params[..., : d * k].reshape(params.shape[:-1] + (d, k))
        return w, params[..., self.b(1): self.b(1) + d], params[..., self.q(1): self.q(1) + d], \
            params[..., self.c]

    def permutations(self):
        """``int32[d!, D]``: for each permutation of the nodes, the positions of the flat
        vector reordered (node i's ``w``, ``b``, ``q`` taken from node perm(i)); ``c`` stays.
        The first row is the identity."""
        import numpy as np

        d, k = self.width, self.inputs
        rows = []
        for perm in itertools.permutations(range(1, d + 1)):
            idx = list(range(self.dim))
            for i, j in enumerate(perm, start=1):
                for t in range(1, k + 1):
                    idx[self.w(i, t)] = self.w(j, t)
                idx[self.b(i)] = self.b(j)
                idx[self.q(i)] = self.q(j)
            rows.append(idx)
        return np.asarray(rows, np.int32)
