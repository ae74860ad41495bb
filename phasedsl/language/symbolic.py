"""Expressions -> typed symbolic values (sympy), with located type errors.

Evaluating an expression of the AST in a scope gives one of these values:

- a scalar: a ``sympy.Expr`` (free symbols: parameters and the sweep variable);
- ``Vec``: a tuple of scalars (a point of R^k);
- ``Nodes``: a per-node family (``w``, ``b``, ``u`` ...), indexed 1..count;
- ``Pred``: a condition (comparisons, and/or/not, and ``symmetric``).

Sympy trees are built node by node from the AST: user text is never handed to ``eval``,
``sympify`` or ``lambdify``. The type of a value is its Python class, so checking and building
are one walk and cannot disagree.

The built-in functions (``functions.py``) receive these evaluators as an argument, and the
checks of numbers (finite, real, positive) live in ``reals.py``: both import neither this
module nor each other's callers, so the dependencies run one way.
"""

from __future__ import annotations

import math

import sympy as sp

from . import ast
from . import catalogue as err
from .errors import did_you_mean
from .limits import (MAX_MAGNITUDE_DIGITS, MAX_NESTING, MAX_WORK, Depth, Work,
                     check_vector_length)

from .functions import (  # noqa: F401 - re-exported
    ALL_FUNCS, ELSEWHERE, PRED_FUNCS, SCALAR_FUNCS, Evaluators, call,
)
from .reals import (  # noqa: F401 - re-exported
    at_sweep, ensure_positive, ensure_real, finite, fmt, power_fits, real_value,
)
from .values import (  # noqa: F401 - re-exported: the value types are part of this API
    Vec, Nodes, NodeIndex, Namespace, Unavailable, Pred, Rel, AllOf, AnyOf, NotP, Region, Symmetric, describe, pred_symbols, free_symbols, names_text, Scope, Context, constants,
)

def number(text_value: float):
    """A sympy number: integers stay exact."""
    if float(text_value).is_integer() and abs(text_value) < 2**53:
        return sp.Integer(int(text_value))
    return sp.Float(text_value)


# ---------------------------------------------------------------- evaluation


_USES: list = []  # the spans of the names being looked up, innermost last


def evaluate(e: ast.Expr, scope: Scope, ctx: Context):
    """The typed symbolic value of ``e``. Raises ``SpecError`` (unattached) on a mistake.

    Nesting is counted across the lets an expression uses (``limits.Depth``): the parser
    bounds one expression's depth, this bounds chains of lets (``let a2 = sin(a1)`` ...)."""
    method = _DISPATCH.get(type(e))
    if method is None:  # pragma: no cover - grammar and AST agree
        raise err.invalid(f"this cannot be used in an expression ({type(e).__name__})", e.span)
    if Depth.now >= MAX_NESTING:
        raise err.too_deep(e.span, MAX_NESTING, " (counting the lets it uses)")
    Depth.now += 1
    Depth.peak = max(Depth.peak, Depth.now)
    try:
        value = method(e, scope, ctx)
    finally:
        Depth.now -= 1
    if isinstance(value, Vec):
        _spend(len(value.items), e.span)
    return value


def _spend(entries: int, span) -> None:
    """Count ``entries`` vector entries against ``MAX_WORK`` (``limits.Work``)."""
    Work.done += entries
    if Work.done > MAX_WORK:
        raise err.too_large("the work of checking this spec", span,
                            f"{MAX_WORK:,} vector entries evaluated in all",
                            "more, here", notes=(
                                "every use of a vector counts its entries; a `let` of a "
                                "vector's norm or sum is evaluated once",))


def tree_size(value, limit: int) -> int:
    """The number of nodes of ``value`` written out as a tree (what lowering walks; a let
    used twice in the next counts twice), counted on the shared graph in linear time and
    capped just above ``limit``."""
    memo: dict[int, int] = {}
    keep = []

    def children(v):
        if isinstance(v, sp.Basic):
            return v.args
        if isinstance(v, Vec):
            return v.items
        if isinstance(v, (AllOf, AnyOf)):
            return v.items
        if isinstance(v, (NotP, Symmetric)):
            return (v.item,)
        if isinstance(v, Region):
            return (v.relation,)
        if isinstance(v, Rel):
            return (v.left, v.right)
        return ()

    stack = [(value, False)]
    while stack:
        v, done = stack.pop()
        if id(v) in memo:
            continue
        kids = children(v)
        if done or not kids:
            memo[id(v)] = min(limit + 1, 1 + sum(memo[id(k)] for k in kids))
            keep.append(v)
            continue
        stack.append((v, True))
        stack.extend((k, False) for k in kids if id(k) not in memo)
    return memo[id(value)]


def reserve(levels: int) -> None:
    """A let evaluated before, used again: its ``levels`` count where it is used, in the
    check and in ``Depth.peak`` (so that a let using it counts them too, whichever of the
    two was evaluated first)."""
    if Depth.now + levels > MAX_NESTING:
        raise err.too_deep(_USES[-1] if _USES else None, MAX_NESTING,
                           " (counting the lets it uses)")
    Depth.peak = max(Depth.peak, Depth.now + levels)


def _wrong_kind(e: ast.Expr, v, what: str):
    return err.value_where_needed(describe(v), what, e.span)


def scalar(e: ast.Expr, scope: Scope, ctx: Context, what: str = "a number") -> sp.Expr:
    """Evaluate ``e`` and insist on a scalar."""
    v = evaluate(e, scope, ctx)
    if not isinstance(v, sp.Expr):
        raise _wrong_kind(e, v, what)
    return v


def condition(e: ast.Expr, scope: Scope, ctx: Context) -> Pred:
    """Evaluate ``e`` and insist on a condition."""
    v = evaluate(e, scope, ctx)
    if not isinstance(v, Pred):
        raise _wrong_kind(e, v, "a condition (such as `annulus(u[1], 1, eps)` or `q[1] > 0`)")
    return v


def point(e: ast.Expr, scope: Scope, ctx: Context):
    """A scalar or a vector (something with a norm)."""
    v = evaluate(e, scope, ctx)
    if isinstance(v, (Vec, sp.Expr)):
        return v
    raise _wrong_kind(e, v, "a number or a vector")


def _number(e: ast.Number, scope, ctx):
    if not math.isfinite(e.value) or abs(e.value) > 10.0 ** MAX_MAGNITUDE_DIGITS:
        raise err.too_large("this number", e.span, f"10^{MAX_MAGNITUDE_DIGITS} in size",
                            f"`{e.text}`")
    return number(e.value)


def _string(e: ast.String, scope, ctx):
    raise err.misplaced("a string can only be the experiment's title or a data file", e.span,
                        expected="a number, a name or a vector", found=f'"{e.value}"')


def _name(e: ast.Name, scope: Scope, ctx: Context):
    thunk = scope.lookup(e.id)
    if thunk is None:
        if e.id in SCALAR_FUNCS or e.id in PRED_FUNCS or e.id in ELSEWHERE:
            raise err.wrong_kind(f"`{e.id}` is a function; call it with arguments", e.span,
                                 expected=f"`{e.id}(...)`", found=f"`{e.id}`")
        raise err.unknown_name(e.id, e.span, scope.names())
    _USES.append(e.span)
    try:
        value = thunk()
    finally:
        _USES.pop()
    if isinstance(value, Unavailable):
        raise err.unavailable(value.message, e.span, value.expected, value.found)
    return value


def _vector(e: ast.Vector, scope, ctx):
    check_vector_length(len(e.items), e.span, "this vector")
    items = tuple(scalar(x, scope, ctx, "a number (vectors hold numbers)") for x in e.items)
    if not items:
        raise err.invalid("an empty vector", e.span, expected="at least one entry", found="`[]`")
    return Vec(items)


def _literal_index(e: ast.Expr, scope: Scope, ctx: Context) -> int | NodeIndex:
    if isinstance(e, ast.Number) and float(e.value).is_integer():
        return int(e.value)
    if isinstance(e, ast.Neg) and isinstance(e.operand, ast.Number):
        return -int(e.operand.value)
    v = evaluate(e, scope, ctx)
    if isinstance(v, NodeIndex):
        return v
    if isinstance(v, sp.Integer):
        return int(v)
    found = describe(v)
    if isinstance(v, sp.Expr):
        found = (fmt(real_value(v)) if not v.free_symbols
                 else "a number that depends on the parameters")
    raise err.not_whole("an index", e.span, rest=" or a node variable",
                        expected="an index such as `1` or `i`", found=found)


def _index(e: ast.Index, scope: Scope, ctx: Context):
    target = evaluate(e.target, scope, ctx)
    idx = _literal_index(e.index, scope, ctx)
    if isinstance(target, Nodes):
        j = idx.j if isinstance(idx, NodeIndex) else idx
        if not 1 <= j <= target.count:
            owner = "the truth" if target.owner == "truth" else "the model"
            raise err.index_out_of_range(
                "node index", j, e.index.span,
                expected=f"1 to {target.count} ({owner} has {target.count} nodes)")
        return target.get(j)
    if isinstance(target, Vec):
        if isinstance(idx, NodeIndex):
            raise err.wrong_kind("a vector is indexed by a number, not a node variable",
                                 e.index.span, expected=f"1 to {len(target.items)}",
                                 found="a node variable")
        if not 1 <= idx <= len(target.items):
            raise err.index_out_of_range("index", idx, e.index.span, of=describe(target),
                                         expected=f"1 to {len(target.items)} (indices start at 1)")
        return target.items[idx - 1]
    raise err.wrong_kind("only vectors and per-node quantities can be indexed", e.target.span,
                         expected="a vector or a per-node quantity", found=describe(target))


def _attr(e: ast.Attr, scope: Scope, ctx: Context):
    target = evaluate(e.target, scope, ctx)
    if not isinstance(target, Namespace):
        raise err.wrong_kind("only `truth` has attributes", e.span,
                             expected="`truth.NAME`", found=describe(target))
    if e.name not in target.members:
        hint = did_you_mean(e.name, target.members)
        raise err.invalid(f"`{target.name}` has no `{e.name}`", e.span,
                          expected=f"one of {', '.join(sorted(target.members))}{hint}",
                          found=f"`{e.name}`")
    return target.members[e.name]()


def _neg(e: ast.Neg, scope, ctx):
    v = evaluate(e.operand, scope, ctx)
    if isinstance(v, Vec):
        return Vec(tuple(-x for x in v.items))
    if isinstance(v, sp.Expr):
        return -v
    raise err.wrong_kind("cannot negate this", e.span, expected="a number or a vector",
                         found=describe(v))


def _binary(e: ast.Binary, scope, ctx):
    if e.op == "@":
        raise err.misplaced("`@` is the matrix product of tensor specs", e.span,
                            expected="`*` for numbers, `dot(u, v)` for vectors",
                            found="`@` outside a tensor spec (`model y = ...`)")
    a = evaluate(e.left, scope, ctx)
    b = evaluate(e.right, scope, ctx)
    for side, v in ((e.left, a), (e.right, b)):
        if not isinstance(v, (Vec, sp.Expr)):
            raise err.wrong_kind(f"`{e.op}` needs numbers or vectors", side.span,
                                 expected="a number or a vector", found=describe(v))
    va, vb = isinstance(a, Vec), isinstance(b, Vec)
    if not va and not vb:
        if e.op == "^":
            power_fits(a, b, e)
        return finite({"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                        "/": lambda: a / b, "^": lambda: a ** b}[e.op](), e)
    if e.op in "+-":
        if not (va and vb):
            lone = e.right if va else e.left
            raise err.wrong_kind(
                f"cannot {'add' if e.op == '+' else 'subtract'} a number and a vector",
                lone.span, expected="a vector of the same length", found="a number")
        if len(a.items) != len(b.items):
            raise err.vector_lengths_differ(len(a.items), len(b.items), e.span)
        f = (lambda x, y: x + y) if e.op == "+" else (lambda x, y: x - y)
        return Vec(tuple(f(x, y) for x, y in zip(a.items, b.items)))
    if e.op == "*":
        if va and vb:
            raise err.wrong_kind("cannot multiply two vectors", e.span,
                                 expected="a number times a vector (or `dot(u, v)`)",
                                 found="two vectors")
        s, v = (b, a) if va else (a, b)
        return Vec(tuple(s * x for x in v.items))
    if e.op == "/" and va and not vb:
        return Vec(tuple(finite(x / b, e) for x in a.items))
    raise err.wrong_kind(f"`{e.op}` is not defined for {describe(a)} and {describe(b)}", e.span,
                         expected="numbers", found=f"{describe(a)} and {describe(b)}")


def _compare(e: ast.Compare, scope, ctx):
    a = scalar(e.left, scope, ctx, "a number (only numbers can be compared)")
    b = scalar(e.right, scope, ctx, "a number (only numbers can be compared)")
    return Rel(e.op, a, b)


def _boolop(e: ast.BoolOp, scope, ctx):
    a, b = condition(e.left, scope, ctx), condition(e.right, scope, ctx)
    cls = AllOf if e.op == "and" else AnyOf
    items = (a.items if isinstance(a, cls) else (a,)) + (b.items if isinstance(b, cls) else (b,))
    return cls(items)


def _not(e: ast.Not, scope, ctx):
    return NotP(condition(e.operand, scope, ctx))


def _quantified(e: ast.Quantified, scope: Scope, ctx: Context):
    if e.kind == "count":
        raise err.misplaced(f"`count {e.var}:` counts over an index of a tensor", e.span,
                            expected="a tensor spec (`param W[2, 6]`, `model y = ...`); "
                            "in a network spec, `all i:` or `any i:`",
                            found=f"`count {e.var}:` outside a tensor spec")
    if ctx.width is None:
        raise err.needs_a_network(
            f"`{e.kind} {e.var}:` ranges over a network's nodes, and this spec has none",
            e.span, expected="a network model (`model network(width = d)`)")
    items = tuple(condition(e.body, scope.child({e.var: (lambda j=j: NodeIndex(j))}), ctx)
                  for j in range(1, ctx.width + 1))
    return AllOf(items) if e.kind == "all" else AnyOf(items)


def positive(e: ast.Expr, scope, ctx, what: str) -> sp.Expr:
    v = scalar(e, scope, ctx)
    ensure_positive(v, e.span, what, ctx)
    return v


def _call(e: ast.Call, scope: Scope, ctx: Context):
    return call(e, scope, ctx, EVALUATORS)


_DISPATCH = {
    ast.Number: _number, ast.String: _string, ast.Name: _name, ast.Vector: _vector,
    ast.Index: _index, ast.Attr: _attr, ast.Neg: _neg, ast.Binary: _binary,
    ast.Compare: _compare, ast.BoolOp: _boolop, ast.Not: _not, ast.Quantified: _quantified,
    ast.Call: _call,
}

# what the built-in functions evaluate their arguments with
EVALUATORS = Evaluators(evaluate=evaluate, scalar=scalar, condition=condition, point=point,
                        positive=positive)
