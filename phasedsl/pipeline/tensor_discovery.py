"""The compiled pieces ``discover`` needs for a tensor spec (``checked.kind == "tensor"``):
the model's predictions on a fixed probe set of inputs (to merge flow ends that are one
function, ``analysis.tensor_basins.same_function``), the end-to-end map of a model linear in
``x`` (its Jacobian in ``x``), and with them the words and ``phase`` condition of a basin.

The model is the compiled spec's own forward function (``Compiled.forward``: the Gaussian
mean, or a classifier's logits), not a second evaluator. The probes are the first
``PROBES`` data rows that count at the sweep value (``mask`` 1): deterministic, and the
inputs the likelihood itself weighs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..analysis.tensor_basins import (column_used, describe_tensor, features, fit_condition,
                                      same_function, signature)
from ..analysis.records import plain
from ..language import ast

__all__ = ["PROBES", "KindPhase", "TensorBasins", "kind_groups", "kind_words",
           "linear_map_text"]

PROBES = 256  # inputs on which two ends' predictions are compared


def _source_text(expr, source: str) -> str | None:
    """The text of ``expr`` in ``source`` by its span (``None`` for text from elsewhere)."""
    s = expr.span
    if s.origin or s.line <= 0:
        return None
    lines = source.splitlines()
    if s.line == s.end_line:
        return lines[s.line - 1][s.column - 1: s.end_column - 1]
    part = [lines[s.line - 1][s.column - 1:]] + lines[s.line: s.end_line - 1]
    return " ".join(part + [lines[s.end_line - 1][: s.end_column - 1]])


def linear_map_text(model, source: str | None) -> str | None:
    """The end-to-end map of a model written ``M @ x`` (``W2 @ W1 @ x``, read ``(W2 @ W1)
    @ x``): the text of ``M`` in the spec; ``None`` for any other form."""
    if source is None:
        return None
    if (isinstance(model, ast.Binary) and model.op == "@" and isinstance(model.right, ast.Name)
            and model.right.id == "x"):
        return _source_text(model.left, source)
    return None


def _index_name(checked) -> str:
    """An index variable for ``count`` that no name of the spec takes."""
    taken = {str(s) for s in checked.symbols} | set(checked.lets) | set(checked.phase_names)
    taken |= {name for name, _ in checked.tensor.params}
    return next(v for v in ("i", "j", "k", "idx", "col") if v not in taken)


class TensorBasins:
    """A tensor spec's model, compiled once: ``outputs`` and ``jacobians`` of many parameter
    vectors, and what ``discover`` reports of a basin (``describe``, ``condition``)."""

    def __init__(self, compiled, source: str | None):
        import jax
        import jax.numpy as jnp

        checked = compiled.checked
        tm = checked.tensor
        forward = compiled.forward
        self.slots = checked.slots
        self.inputs = tm.inputs
        self.affine = bool(tm.affine)
        self.map_text = linear_map_text(tm.model, source) if self.affine else None
        self.index = _index_name(checked)

        def outputs(p, probe):
            x, value = probe
            return jax.vmap(forward, in_axes=(None, 0, None))(p, x, value).reshape(-1)

        def jacobian(p, probe):
            _, value = probe
            zero = jnp.zeros((tm.inputs,), p.dtype)
            j = jax.jacfwd(lambda x: forward(p, x, value))(zero)
            return j.reshape(-1, tm.inputs)  # f[o, k]

        self.outputs = jax.jit(jax.vmap(outputs, in_axes=(0, None)))
        self.jacobian = jax.jit(jax.vmap(jacobian, in_axes=(0, None)))

    @staticmethod
    def probe(ctx, dtype):
        """``(x f[P, k], value)``: the first ``PROBES`` inputs that count at ``ctx``."""
        import jax.numpy as jnp

        x = np.asarray(ctx.xt, float).T
        mask = np.asarray(ctx.mask, float) if ctx.mask is not None else np.ones(len(x))
        rows = np.flatnonzero(mask > 0)[:PROBES]
        return jnp.asarray(x[rows], dtype), ctx.value

    def blocks(self, params) -> dict:
        """name -> ``f[K, *shape]`` of ``params f[K, D]`` (row-major blocks)."""
        p = np.asarray(params, float)
        return {s.name: p[:, s.start: s.start + s.size].reshape((len(p),) + tuple(s.shape))
                for s in self.slots}

    def same(self, flows, probe):
        """``same(reps f[R, D]) -> pairs``: ends that are one function (``same_function``)."""
        def pairs(reps):
            (out,) = flows.chunked(self.outputs, reps, ctx=probe)
            return same_function(out)

        return pairs

    def jacobians(self, flows, params, probe):
        """``f[K, o, k]`` of a model linear in ``x``; ``None`` otherwise."""
        if not self.affine:
            return None
        (j,) = flows.chunked(self.jacobian, params, ctx=probe)
        return j.reshape(len(params), -1, self.inputs)

    def used(self, flows, point, probe) -> dict:
        """name -> ``bool[c]``: the columns of each matrix parameter that the function at
        ``point f[D]`` uses (``analysis.tensor_basins.column_used``: the predictions on the
        probes with each column set to 0 in turn)."""
        p = np.asarray(point, float)
        rows, owners = [p], []
        for s in self.slots:
            if len(s.shape) != 2:
                continue
            for j in range(s.shape[1]):
                q = p.copy()
                block = q[s.start: s.start + s.size].reshape(s.shape)
                block[:, j] = 0.0
                q[s.start: s.start + s.size] = block.ravel()
                rows.append(q)
                owners.append(s.name)
        if not owners:
            return {}
        (out,) = flows.chunked(self.outputs, np.stack(rows), ctx=probe)
        owners = np.array(owners)
        return {name: column_used(out[0], out[1:][owners == name]) for name in dict.fromkeys(owners)}

    def describe(self, flows, point, probe, used=None) -> tuple[str, tuple]:
        """``(words, signature)`` of a critical point ``point f[D]`` (``used``: its
        ``self.used``, computed here when not given)."""
        blocks = {k: v[0] for k, v in self.blocks(np.asarray(point)[None]).items()}
        jac = self.jacobians(flows, np.asarray(point)[None], probe)
        j = None if jac is None else jac[0]
        used = self.used(flows, point, probe) if used is None else used
        return describe_tensor(blocks, j, used), signature(blocks, j, used)

    def condition(self, flows, starts, point, mine, weight, probe, used=None) -> str:
        """A ``phase`` condition for the basin of ``point f[D]`` fitted on the flows' starts
        ``starts f[K, D]`` (``mine bool[K]``: the basin's; ``weight f[K]``: their masses;
        ``used`` as in ``describe``)."""
        blocks = self.blocks(starts)
        at = {k: v[0] for k, v in self.blocks(np.asarray(point)[None]).items()}
        jac = self.jacobians(flows, starts, probe) if self.map_text else None
        pj = self.jacobians(flows, np.asarray(point)[None], probe)[0] if self.map_text else None
        feats = features(blocks, at, self.index, jac, pj, self.map_text,
                         self.used(flows, point, probe) if used is None else used)
        point_values = []
        if self.map_text:
            point_values.append(np.linalg.svd(np.atleast_2d(pj), compute_uv=False))
        mats = [n for n in blocks if np.ndim(at[n]) == 2]
        point_values += [np.linalg.norm(at[n], axis=0) for n in mats]
        point_values += [np.linalg.svd(at[n], compute_uv=False) for n in mats]
        if not feats:  # no matrix parameter: nothing to count; a condition every draw passes
            return f"norm({self.slots[0].name}) >= 0"
        return fit_condition(feats, mine, weight, point_values)


@dataclass(frozen=True)
class KindPhase:
    """Basins of one kind of critical point (``analysis.tensor_basins.signature``) as one
    phase: ``basins`` their names, ``mass`` and ``se`` of their union, ``description`` the
    kind in words, ``condition`` a ``phase`` condition fitted to the union's draws against
    every other basin's, with ``captured`` and ``leak`` measured as a basin's are."""

    name: str
    basins: tuple[str, ...]
    mass: float
    se: float
    description: str
    condition: str
    captured: float | None = None
    leak: float | None = None

    def to_json(self) -> dict:
        return plain(dataclasses.asdict(self))


def kind_groups(signatures) -> list[list[int]]:
    """For each kind held by two or more basins (``signatures``, one per basin, the most
    massive basin first), the positions of its basins, in order of the kinds' first
    basins. TMS: the 5-gons whose dead feature or column order differ are one kind."""
    groups: dict = {}
    for i, key in enumerate(signatures):
        groups.setdefault(key, []).append(i)
    return [g for g in groups.values() if len(g) >= 2]


def kind_words(key) -> str:
    """A signature in words: ``W 5 active columns, rank 2 (a 5-gon)``."""
    return ", ".join(_kind_words(k) for k in key)


def _kind_words(key) -> str:
    if key[0] == "map":
        return f"map rank {key[1]}"
    name, active, rank, regular = key
    shape = {None: "", True: f" (a {active}-gon)", False: " (two of them close: not a polygon)"}
    return f"{name} {active} active columns, rank {rank}{shape[regular]}"
