"""The sweep: its values from constants, ``linspace`` and ``range``, checked to increase."""

from __future__ import annotations

import sympy as sp

from . import ast
from . import symbolic as sy
from . import catalogue as err

MAX_SWEEP = 10_000  # sweep points; each one is a full posterior


def tidy(x: float) -> float:
    """Round away float noise from grid arithmetic (1.1400000000000001 -> 1.14)."""
    return float(f"{x:.12g}")


def constant(e: ast.Expr, scope: sy.Scope, ctx: sy.Context, what: str) -> float:
    """The real value of a constant expression, or a located error."""
    v = sy.scalar(e, scope, ctx, what)
    if v.free_symbols:
        raise err.not_constant(what, e.span, expected="a constant expression",
                               found=f"one that depends on {sy.names_text(v.free_symbols)}")
    x = complex(sp.N(v))
    if x.imag != 0 or x.real != x.real:
        raise err.not_a_real_number(what, e.span, found=str(sp.N(v)))
    return x.real


def sweep_values(st: ast.Sweep, scope: sy.Scope | None = None) -> tuple[float, ...]:
    """The values of ``sweep NAME over ITEM, ...``, in increasing order, each once. Items are
    constant expressions in ``scope`` (default: ``pi`` and ``e`` only; the checker's has the
    lets too, so that an item may use a let that does not depend on the sweep variable)."""
    consts = scope or sy.constants()
    ctx = sy.Context(None, "`sweep`")
    values: list[float] = []
    origin: list[ast.Expr] = []  # the item each value comes from
    for item in st.items:
        if isinstance(item, ast.Call) and item.func.id in ("linspace", "range"):
            pts = points(item, consts, ctx)
        else:
            pts = [constant(item, consts, ctx, "a sweep value")]
        values.extend(pts)
        origin.extend([item] * len(pts))
        if len(values) > MAX_SWEEP:
            raise err.sweep_too_long(MAX_SWEEP, len(values), item.span)
    for a, b, item in zip(values, values[1:], origin[1:]):
        if not b > a:
            raise err.sweep_not_increasing(a, b, item.span)
    return tuple(values)


def points(call: ast.Call, scope: sy.Scope, ctx: sy.Context) -> list[float]:
    """``linspace(a, b, k)`` (both ends included) or ``range(a, b, step)`` (end excluded)."""
    name = call.func.id
    if len(call.args) != 3 or call.kwargs:
        shape = "a, b, k" if name == "linspace" else "a, b, step"
        raise err.wrong_arity(f"`{name}` takes 3 arguments", call.span,
                              expected=f"`{name}({shape})`", found=err.arguments(len(call.args)))
    a, b, k = (constant(x, scope, ctx, f"an argument of `{name}`") for x in call.args)
    if name == "linspace":
        if not (k >= 1 and float(k).is_integer()):
            raise err.out_of_bounds("`linspace` needs a whole number of points",
                                    call.args[2].span, expected="a count of 1 or more",
                                    found=f"{k:g}")
        k = int(k)
        if k > MAX_SWEEP:
            raise err.sweep_too_long(MAX_SWEEP, k, call.args[2].span)
        return [a] if k == 1 else [tidy(a + (b - a) * j / (k - 1)) for j in range(k)]
    if not k > 0 or not b > a:
        raise err.out_of_bounds("`range(a, b, step)` needs a < b and step > 0", call.span,
                                expected="an increasing range", found=f"range({a:g}, {b:g}, {k:g})")
    steps = (b - a) / k + 1e-9  # a float: infinite for range(0, 1e300, 1e-300)
    if not steps + 1 <= MAX_SWEEP:
        raise err.sweep_too_long(MAX_SWEEP, steps + 1, call.span)
    count = int(steps) + 1
    return [tidy(a + j * k) for j in range(count) if a + j * k < b - 1e-12 * max(1.0, abs(b))]
