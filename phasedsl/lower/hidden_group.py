"""The group ``symmetric`` takes in a tensor spec: every permutation of each hidden layer's
units (``language.hidden_units``), as index tables, and its action on the parameters.

An element is one permutation per layer; ``group_tables`` lists them all (the identity first),
and ``permute`` applies one to the parameters' shaped blocks: each ``(parameter, axis)`` a
layer lists is reordered along that axis by the layer's permutation, ``W'[i, :] =
W[perm[i], :]`` for rows; parameters no layer lists are unchanged.
"""

from __future__ import annotations

import functools
import itertools

import jax.numpy as jnp
import numpy as np

__all__ = ["group_tables", "permute"]


@functools.lru_cache(maxsize=8)
def group_tables(hidden) -> tuple[np.ndarray, ...]:
    """One ``int32[G, size]`` per layer of ``hidden`` (a ``HiddenUnits``): row g is layer l's
    permutation in the g-th element of the group, ``G = prod(size!)`` (the checker bounds
    it); element 0 is the identity."""
    perms = [np.array(list(itertools.permutations(range(layer.size))), np.int32)
             for layer in hidden.layers]
    which = np.indices([len(p) for p in perms]).reshape(len(perms), -1)  # int[L, G]
    return tuple(p[w] for p, w in zip(perms, which))


def permute(values: dict, hidden, rows) -> dict:
    """``values`` (name -> shaped array) with every axis a layer lists reordered by that
    layer's permutation ``rows[l]: int[size]`` (one row of each ``group_tables`` table)."""
    out = dict(values)
    for layer, perm in zip(hidden.layers, rows):
        for name, axis in layer.axes:
            out[name] = jnp.take(out[name], perm, axis=axis)
    return out
