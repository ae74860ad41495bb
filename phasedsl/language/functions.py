"""The built-in functions of expressions: scalar maths, norms, regions, ``symmetric``."""

from __future__ import annotations

from typing import Callable, NamedTuple

import sympy as sp

from . import ast
from . import catalogue as err
from .errors import did_you_mean
from .reals import finite
from .limits import MAX_SYMMETRIC_WIDTH
from .values import AllOf, Context, Region, Rel, Scope, Symmetric, Vec, describe

SCALAR_FUNCS = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "exp": sp.exp, "log": sp.log,
    "sqrt": sp.sqrt, "abs": sp.Abs, "tanh": sp.tanh,
    "relu": lambda x: sp.Max(0, x),
}
PRED_FUNCS = {"annulus": 3, "disc": 2, "ball": 3}
ELSEWHERE = {
    "linspace": "only in `sweep ... over`", "range": "only in `sweep ... over`",
    "normal": "only in `prior` or `data`", "uniform": "only in `prior` or `data`",
    "network": "only after `model` or `truth`",
}
ALL_FUNCS = sorted(set(SCALAR_FUNCS) | set(PRED_FUNCS)
                   | {"min", "max", "norm", "dot", "symmetric", "linspace", "range"})


class Evaluators(NamedTuple):
    """How arguments are evaluated (``symbolic.EVALUATORS``): passed in by the evaluator, so
    that this module does not import it."""

    evaluate: Callable  # (expr, scope, ctx) -> value
    scalar: Callable  # (expr, scope, ctx, what="a number") -> sympy scalar
    condition: Callable  # (expr, scope, ctx) -> Pred
    point: Callable  # (expr, scope, ctx) -> scalar or Vec
    positive: Callable  # (expr, scope, ctx, what) -> sympy scalar > 0


def _norm(v):
    if isinstance(v, Vec):
        # one Add of all the squares: Python's sum adds them one by one, and each sympy
        # Add re-sorts the terms so far (quadratic: minutes for a 10,000-vector); x ** 2
        # is sympy's own form of x * x, built without Mul's flattening (6x faster)
        return sp.sqrt(sp.Add(*(x ** 2 for x in v.items)))
    return sp.Abs(v)


def _origin(v):
    return Vec(tuple(sp.Integer(0) for _ in v.items)) if isinstance(v, Vec) else sp.Integer(0)


def _same_kind(a, b, span, what):
    if isinstance(a, Vec) != isinstance(b, Vec) or (
            isinstance(a, Vec) and len(a.items) != len(b.items)):
        raise err.wrong_kind(f"the centre of `{what}` is {describe(b)}, the point {describe(a)}",
                             span, expected=f"{describe(a)}, like the point", found=describe(b))


def call(e: ast.Call, scope: Scope, ctx: Context, ev: Evaluators):
    """The value of a call of a built-in function; arguments evaluated with ``ev``."""
    name = e.func.id
    if scope.lookup(name) is not None and name not in SCALAR_FUNCS:
        raise err.wrong_kind(f"`{name}` is not a function", e.func.span,
                             expected="a function name", found=describe(scope.lookup(name)()))
    if e.kwargs:
        raise err.wrong_arity(f"`{name}` takes no named arguments", e.span,
                              expected="positional arguments", found=f"`{e.kwargs[0][0]} = ...`")
    args = e.args

    def arity(n, shape):
        if len(args) != n:
            raise err.wrong_arity(f"`{name}` takes {err.arguments(n)}", e.span,
                                  expected=f"`{name}({shape})`", found=err.arguments(len(args)))

    if name in SCALAR_FUNCS:
        arity(1, "x")
        x = ev.scalar(args[0], scope, ctx)
        return finite(SCALAR_FUNCS[name](x), e, found=f"`{name}({x})`")
    if name in ("min", "max"):
        if len(args) < 2:
            raise err.wrong_arity(f"`{name}` takes two or more arguments", e.span,
                                  expected=f"`{name}(a, b, ...)`", found=f"{len(args)} argument")
        vals = [ev.scalar(a, scope, ctx) for a in args]
        return (sp.Min if name == "min" else sp.Max)(*vals)
    if name == "norm":
        arity(1, "v")
        return _norm(ev.point(args[0], scope, ctx))
    if name == "dot":
        arity(2, "u, v")
        a, b = ev.evaluate(args[0], scope, ctx), ev.evaluate(args[1], scope, ctx)
        for side, v in zip(args, (a, b)):
            if not isinstance(v, Vec):
                raise err.wrong_kind("`dot` takes two vectors", side.span, expected="a vector",
                                     found=describe(v))
        if len(a.items) != len(b.items):
            raise err.vector_lengths_differ(len(a.items), len(b.items), e.span)
        return sp.Add(*(x * y for x, y in zip(a.items, b.items)))  # one Add (see _norm)
    if name == "annulus":
        arity(3, "v, r, eps")
        v, r = ev.point(args[0], scope, ctx), ev.scalar(args[1], scope, ctx)
        eps = ev.positive(args[2], scope, ctx, "eps")
        nv = _norm(v)
        return Region("annulus", v, _origin(v), r - eps, r + eps,
                      AllOf((Rel(">", nv, r - eps), Rel("<", nv, r + eps))))
    if name == "disc":
        arity(2, "v, eps")
        v = ev.point(args[0], scope, ctx)
        eps = ev.positive(args[1], scope, ctx, "eps")
        return Region("disc", v, _origin(v), None, eps, Rel("<", _norm(v), eps))
    if name == "ball":
        arity(3, "v, centre, eps")
        v, c = ev.point(args[0], scope, ctx), ev.point(args[1], scope, ctx)
        _same_kind(v, c, args[1].span, "ball")
        eps = ev.positive(args[2], scope, ctx, "eps")
        diff = Vec(tuple(x - y for x, y in zip(v.items, c.items))) if isinstance(v, Vec) else v - c
        return Region("ball", v, c, None, eps, Rel("<=", _norm(diff), eps))
    if name == "symmetric":
        arity(1, "condition")
        if ctx.width is None:
            raise err.needs_a_network(
                "`symmetric` permutes a network's nodes, and this spec has none", e.span)
        if not ctx.symmetric:
            raise err.symmetric_outside_phase(e.span, ctx.where)
        if ctx.width > MAX_SYMMETRIC_WIDTH:
            raise err.too_large("the width for `symmetric`", e.span,
                                f"{MAX_SYMMETRIC_WIDTH} nodes ({MAX_SYMMETRIC_WIDTH}! node "
                                "permutations)", f"{ctx.width} nodes ({ctx.width}! permutations)")
        return Symmetric(ev.condition(args[0], scope, ctx))
    if name in ELSEWHERE:
        raise err.misplaced(f"`{name}` can be used {ELSEWHERE[name]}", e.span,
                            expected="a function of numbers or vectors", found=f"`{name}(...)`")
    hint = did_you_mean(name, ALL_FUNCS)
    raise err.unknown("function", name, e.func.span,
                      expected=f"one of {', '.join(x for x in ALL_FUNCS if x not in ELSEWHERE)}{hint}")
