"""A tensor spec's hidden units, found from its model expression: what ``symmetric`` permutes.

Every axis of a parameter the model uses is a node; the model's computation ties nodes
together (union-find): ``A @ B`` ties A's last axis to B's first, ``dot(u, v)`` u's axis to
v's, elementwise ``+ - * / ^`` between tensors of one shape their corresponding axes;
elementwise functions (``relu``, ``tanh``, ...) and ``-`` keep the axes, ``.T`` and
``transpose`` swap them, ``diag(v)`` gives both of its axes v's; ``norm``, ``sum``, ``sv``,
``rank`` reduce a tensor to a number that no permutation of its axes changes. A class of
tied axes is a **hidden axis** when it is *free*: tied to no axis of the input ``x``, of the
model's output, of a vector literal or ``eye``, and never subscripted (``W[1, :]``, ``v[2]``,
a ``count`` index). Anything else the walk does not know makes every axis it reaches not free
(conservative).

Why permuting a hidden axis (the same permutation on every parameter axis of the class)
leaves the output unchanged: by induction over the expression, each value computed from the
permuted parameters is the original value with each of its axes permuted by its class's
permutation (the identity for classes that are not free); a contraction ``@``/``dot`` sums
over an axis whose two sides are permuted alike, a reduction is invariant, and the output's
axes are not free, so the output is unchanged. Pure Python: no JAX.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import ast
from .tensor_shapes import ELEMENTWISE

__all__ = ["HiddenLayer", "HiddenUnits", "hidden_units", "axis_text"]


@dataclass(frozen=True)
class HiddenLayer:
    """One hidden axis: ``size`` units, and the ``(parameter, axis)`` pairs (axis 0-based:
    0 the rows of a matrix or the entries of a vector, 1 the columns) that a permutation of
    its units reorders, all by the same permutation."""

    size: int
    axes: tuple[tuple[str, int], ...]

    def text(self, params: dict) -> str:
        """``3 units (rows of W1, entries of b1, columns of W2)``; ``params``: name -> dims."""
        parts = ", ".join(axis_text(name, axis, params[name]) for name, axis in self.axes)
        return f"{self.size} units ({parts})"


@dataclass(frozen=True)
class HiddenUnits:
    """The hidden layers of a tensor spec's model (those of two or more units, in the order
    of the parameters), and ``single``: how many hidden axes have one unit (nothing to
    permute). The group ``symmetric`` takes is the product of each layer's permutations."""

    layers: tuple[HiddenLayer, ...] = ()
    single: int = 0

    @property
    def group_size(self) -> int:
        """``prod(size!)`` over the layers (1 without layers)."""
        return math.prod(math.factorial(layer.size) for layer in self.layers)


def axis_text(name: str, axis: int, dims: tuple[int, ...]) -> str:
    """``rows of W``, ``columns of W``, ``entries of b``."""
    if len(dims) == 1:
        return f"entries of {name}"
    return f"{'rows' if axis == 0 else 'columns'} of {name}"


class _Axes:
    """Union-find over axis nodes: ``owner`` (``(parameter, axis)`` or ``None`` for an axis
    of anything else), ``size`` (units; ``None`` where unknown) and the nodes not free."""

    def __init__(self):
        self.parent: list[int] = []
        self.owner: list = []
        self.size: list = []
        self.pinned: set[int] = set()

    def node(self, owner=None, size=None, pinned: bool = False) -> int:
        self.parent.append(len(self.parent))
        self.owner.append(owner)
        self.size.append(size)
        if pinned:
            self.pinned.add(len(self.parent) - 1)
        return len(self.parent) - 1

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def tie(self, a, b) -> None:
        """Tie two signatures axis by axis (``None``: unknown axes, so pin both)."""
        if a is None or b is None or len(a) != len(b):
            self.pin(a)
            self.pin(b)
            return
        for x, y in zip(a, b):
            self.parent[self.find(x)] = self.find(y)

    def pin(self, sig) -> None:
        self.pinned.update(sig or ())


class _Walk:
    """The signature of each subexpression of the model: a tuple of axis nodes, one per
    dimension of its value (``()`` a number or a condition), or ``None`` (unknown axes: every
    axis that reaches it is pinned)."""

    def __init__(self, params: dict, lets: dict, inputs: int):
        self.axes = _Axes()
        self.params, self.lets = params, lets
        self.memo: dict[str, tuple | None] = {}
        self.x = (self.axes.node(size=inputs, pinned=True),)

    def of(self, e: ast.Expr):
        method = getattr(self, "_" + type(e).__name__.lower(), None)
        if method is None:
            self._pin_below(e)
            return None
        return method(e)

    def _pin_below(self, e) -> None:
        """Pin every axis reached from the tree ``e`` (a construct the walk does not know)."""
        for f in getattr(e, "__dataclass_fields__", ()):
            v = getattr(e, f)
            for item in (v if isinstance(v, tuple) else (v,)):
                if isinstance(item, ast.Expr):
                    self.axes.pin(self.of(item))

    def _name(self, e: ast.Name):
        if e.id == "x":
            return self.x
        if e.id in self.params:
            if e.id not in self.memo:
                dims = self.params[e.id]
                self.memo[e.id] = tuple(self.axes.node((e.id, a), d) for a, d in enumerate(dims))
            return self.memo[e.id]
        if e.id in self.lets:
            if e.id not in self.memo:
                self.memo[e.id] = self.of(self.lets[e.id])
            return self.memo[e.id]
        return ()  # n, the sweep variables, pi, e, an index variable: numbers

    def _number(self, e):
        return ()

    def _neg(self, e: ast.Neg):
        return self.of(e.operand)

    def _attr(self, e: ast.Attr):
        sig = self.of(e.target)
        return None if sig is None else tuple(reversed(sig))

    def _vector(self, e: ast.Vector):
        """A literal: its entries are chosen one by one, so nothing in it is free."""
        items = [self.of(x) for x in e.items]
        for sig in items:
            self.axes.pin(sig)
        if any(sig is None for sig in items):
            return None
        return (self.axes.node(size=len(e.items), pinned=True),) + items[0]

    def _binary(self, e: ast.Binary):
        a, b = self.of(e.left), self.of(e.right)
        if a is None or b is None:
            self.axes.tie(a, b)
            return None
        if e.op == "@":
            if not a or not b:
                self.axes.tie(a, b)
                return None
            self.axes.tie(a[-1:], b[:1])
            return a[:-1] + b[1:]
        if not a or not b:
            return a or b  # a number and a tensor: the tensor's axes
        self.axes.tie(a, b)
        return a

    def _index(self, e: ast.Index):
        self.axes.pin(self.of(e.target))
        self.of(e.index)
        return ()

    def _slice(self, e: ast.Slice):
        sig = self.of(e.target)
        if sig is None or len(sig) != len(e.indices):
            self.axes.pin(sig)
            return None
        kept = []
        for axis, sub in zip(sig, e.indices):
            if sub is None:
                kept.append(axis)
            else:
                self.axes.pin((axis,))
                self.of(sub)
        return tuple(kept)

    def _condition(self, e) -> tuple:
        """Comparisons, ``and or not``: a condition has no axes (its parts are numbers)."""
        for part in (getattr(e, "left", None), getattr(e, "right", None),
                     getattr(e, "operand", None)):
            if part is not None:
                self.of(part)
        return ()

    _compare = _boolop = _not = _condition

    def _quantified(self, e: ast.Quantified):
        """``count i: P``: the index's subscripts pin their axes (``_slice``, ``_index``)."""
        self.of(e.body)
        return ()

    def _call(self, e: ast.Call):
        name = e.func.id
        args = [self.of(a) for a in e.args]
        if name in ELEMENTWISE and len(args) == 1:
            return args[0]
        if name in ("norm", "sum", "sv", "rank", "min", "max"):
            return ()  # invariant under any permutation of their argument's axes
        if name == "dot" and len(args) == 2:
            self.axes.tie(args[0], args[1])
            return ()
        if name == "transpose" and len(args) == 1 and args[0] is not None:
            return tuple(reversed(args[0]))
        if name == "diag" and len(args) == 1 and args[0] is not None and len(args[0]) == 1:
            return args[0] * 2  # diag(P v) = P diag(v) P^T
        for sig in args:  # eye(k), and anything unknown
            self.axes.pin(sig)
        return None


def hidden_units(model: ast.Expr, params: dict, lets: dict, inputs: int) -> HiddenUnits:
    """The hidden layers of ``model`` (the forward expression, or a classification's logits):
    ``params`` maps each parameter to its dims (in the layout's order), ``lets`` each let to
    its tree, ``inputs`` is the length of ``x``. The tree must have been typed."""
    walk = _Walk(params, lets, inputs)
    walk.axes.pin(walk.of(model))  # the output's axes are tied to the data
    axes = walk.axes
    classes: dict[int, list[int]] = {}
    for node in range(len(axes.parent)):
        classes.setdefault(axes.find(node), []).append(node)
    order = {name: k for k, name in enumerate(params)}
    layers, single = [], 0
    for nodes in classes.values():
        if any(n in axes.pinned or axes.owner[n] is None for n in nodes):
            continue
        size = axes.size[nodes[0]]
        if size == 1:
            single += 1
            continue
        owned = sorted((axes.owner[n] for n in nodes), key=lambda o: (order[o[0]], o[1]))
        layers.append(HiddenLayer(size, tuple(owned)))
    layers.sort(key=lambda layer: (order[layer.axes[0][0]], layer.axes[0][1]))
    return HiddenUnits(tuple(layers), single)
