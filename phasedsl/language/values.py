"""The values expressions evaluate to, the scope they see, and where they stand.

- a scalar: a ``sympy.Expr`` (free symbols: parameters and the sweep variable);
- ``Vec``: a tuple of scalars (a point of R^k);
- ``Nodes``: a per-node family (``w``, ``b``, ``u`` ...), indexed 1..count;
- ``Pred``: a condition (comparisons, and/or/not, regions and ``symmetric``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class Vec:
    items: tuple


@dataclass(frozen=True)
class Nodes:
    """A per-node family: ``get(j)`` is node j's value (1-based), j = 1..count."""

    name: str
    count: int
    get: Callable[[int], object]
    owner: str = "model"  # or "truth"


@dataclass(frozen=True)
class NodeIndex:
    """The bound node variable of ``all i:``/``any i:``/``let u[i]``, fixed to node ``j``."""

    j: int


@dataclass(frozen=True)
class Namespace:
    """``truth``: attributes are values of the truth network."""

    name: str
    members: dict


@dataclass(frozen=True)
class Unavailable:
    """A name that exists but may not be used where it appears (a model parameter in the
    truth, say): looking it up is an error with this explanation."""

    message: str
    expected: str
    found: str


class Pred:
    """A condition on parameters; lowered to a boolean JAX function."""


@dataclass(frozen=True)
class Rel(Pred):
    op: str
    left: sp.Expr
    right: sp.Expr


@dataclass(frozen=True)
class AllOf(Pred):
    items: tuple


@dataclass(frozen=True)
class AnyOf(Pred):
    items: tuple


@dataclass(frozen=True)
class NotP(Pred):
    item: Pred


@dataclass(frozen=True)
class Region(Pred):
    """``annulus``/``disc``/``ball``: ``relation`` is what it means (and what is lowered);
    the geometry is kept so plots can draw it. ``centre`` is a value like ``point``; the
    region is ``inner < |point - centre| < outer`` (``inner`` None for discs and balls)."""

    kind: str
    point: object
    centre: object
    inner: object
    outer: object
    relation: Pred


@dataclass(frozen=True)
class Symmetric(Pred):
    """Union of ``item`` over all permutations of the model's nodes."""

    item: Pred


def describe(value) -> str:
    """A value's type in words, for messages."""
    if isinstance(value, Vec):
        return f"a {len(value.items)}-vector"
    if isinstance(value, Nodes):
        return f"the per-node family `{value.name}` (index it: `{value.name}[1]`)"
    if isinstance(value, Pred):
        return "a condition"
    if isinstance(value, NodeIndex):
        return "a node index"
    if isinstance(value, Namespace):
        return f"`{value.name}` (use an attribute, e.g. `{value.name}.w[1]`)"
    return "a number"


def pred_symbols(p: Pred) -> set:
    """Free sympy symbols of a condition."""
    if isinstance(p, Rel):
        return set(p.left.free_symbols) | set(p.right.free_symbols)
    if isinstance(p, (AllOf, AnyOf)):
        return set().union(*[pred_symbols(x) for x in p.items]) if p.items else set()
    if isinstance(p, (NotP, Symmetric)):
        return pred_symbols(p.item)
    if isinstance(p, Region):
        return pred_symbols(p.relation)
    return set()


def free_symbols(value) -> set:
    """Free sympy symbols of any value."""
    if isinstance(value, sp.Expr):
        return set(value.free_symbols)
    if isinstance(value, Vec):
        return set().union(*[free_symbols(x) for x in value.items])
    if isinstance(value, Pred):
        return pred_symbols(value)
    if isinstance(value, Nodes):
        return set().union(*[free_symbols(value.get(j)) for j in range(1, value.count + 1)])
    return set()


def names_text(symbols) -> str:
    """The names of sympy symbols, in backquotes, for messages."""
    return ", ".join(sorted(f"`{s}`" for s in map(str, symbols)))


# ---------------------------------------------------------------- scope


class Scope:
    """Names visible to an expression. Bindings are thunks, so lets evaluate on first use."""

    def __init__(self, bindings: dict[str, Callable[[], object]], parent: "Scope | None" = None):
        self.bindings = bindings
        self.parent = parent

    def lookup(self, name: str):
        scope = self
        while scope is not None:
            if name in scope.bindings:
                return scope.bindings[name]
            scope = scope.parent
        return None

    def names(self) -> set[str]:
        out, scope = set(), self
        while scope is not None:
            out |= set(scope.bindings)
            scope = scope.parent
        return out

    def child(self, bindings: dict) -> "Scope":
        return Scope(bindings, self)


def constants() -> Scope:
    """The scope of the built-in constants every expression sees (``pi``, ``e``), below the
    spec's own names."""
    return Scope({"pi": lambda: sp.pi, "e": lambda: sp.E})


@dataclass(frozen=True)
class Context:
    """Where an expression stands: ``width`` = model nodes (None without a network);
    ``where`` names the statement for messages; ``symmetric`` whether it is allowed."""

    width: int | None
    where: str
    symmetric: bool = False
    sweep_symbol: sp.Symbol | None = None
    sweep_values: tuple[float, ...] = ()
    grid_symbol: sp.Symbol | None = None  # the second sweep of a grid
    grid_values: tuple[float, ...] = ()


