"""Checks of symbolic numbers: finite, real, positive (at every sweep value)."""

from __future__ import annotations

import itertools
import math

import sympy as sp

from . import ast
from . import catalogue as err
from .limits import MAX_EXPONENT, MAX_MAGNITUDE_DIGITS
from .values import Context, Vec


def finite(value, e: ast.Expr, found: str | None = None):
    """``value`` unless it is infinite or undefined (``1/0``, ``log(0)``) or, being a
    constant, not real (``sqrt(-1)``)."""
    if not isinstance(value, sp.Expr):
        return value
    if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        if isinstance(e, ast.Binary) and e.op == "/":
            found = "a division by zero"
        raise err.not_finite(e.span, found=found or "an infinite or undefined value")
    if not value.free_symbols and value.is_extended_real is False:
        raise err.not_a_real_number("this", e.span, found=found or f"`{value}`")
    return fits(value, e)


def power_fits(a, b, e: ast.Expr) -> None:
    """Refuse ``a ^ b`` before sympy computes it, where it would be too large to compute
    or to hold (``9^9^9`` is 370 million digits) or its exponent too large to lower."""
    if not (isinstance(a, sp.Expr) and isinstance(b, sp.Expr)) or b.free_symbols:
        return
    x = real_value(b)
    if x != x:
        return  # not a real number: the usual checks say so
    if a.free_symbols:
        if abs(x) > MAX_EXPONENT:
            raise err.too_large("this exponent", e.right.span, f"{MAX_EXPONENT:,} in size",
                                fmt(x))
        return
    base = abs(real_value(a))
    if base != base or base in (0.0, 1.0):
        return
    if abs(x) * abs(math.log10(base)) > MAX_MAGNITUDE_DIGITS:
        raise err.too_large("this number", e.span, f"10^{MAX_MAGNITUDE_DIGITS} in size",
                            f"about 10^{abs(x) * math.log10(base):.3g}")


def fits(value, e: ast.Expr):
    """``value`` unless it is a constant beyond 10^MAX_MAGNITUDE_DIGITS in size: a number,
    or a constant expression (``exp(1000)``, ``exp(1e20)``), whose size is taken from its
    binary exponent, which never overflows (a float64 would be infinite, a ``Decimal``
    raises)."""
    if not isinstance(value, sp.Expr) or value.free_symbols:
        return value
    digits = log10_size(value)
    if digits is not None and digits > MAX_MAGNITUDE_DIGITS:
        raise err.too_large("this number", e.span, f"10^{MAX_MAGNITUDE_DIGITS} in size",
                            f"about 10^{digits:,.0f}" if digits < 1e6 else f"about 10^({digits:.3g})")
    return value


def log10_size(value: sp.Expr) -> float | None:
    """log10 of ``|value|`` for a constant whose value is a real number (mpmath's binary
    exponent: exact for any size), ``None`` where it is not one or cannot be evaluated."""
    if value.is_Integer:
        return (int(value).bit_length() - 1) * math.log10(2) if value != 0 else None
    try:
        f = sp.N(value, 15)
    except (TypeError, ValueError, ArithmeticError, RecursionError):
        return None
    if not isinstance(f, sp.Float) or not f.is_finite or f == 0:
        return None
    _, man, exp, _ = f._mpf_
    return (exp + int(man).bit_length() - 1) * math.log10(2)


def real_value(v) -> float:
    """The value of a constant sympy number; nan unless it is a finite real."""
    try:
        z = complex(sp.N(v))
    except (TypeError, ValueError):
        return float("nan")
    return z.real if z.imag == 0 and abs(z.real) != float("inf") else float("nan")


def at_sweep(v: sp.Expr, ctx: Context) -> list[tuple[str | None, sp.Expr]] | None:
    """``[(where, value)]``: ``v`` at every sweep value (every cell of a grid, for the
    variables it uses) where it depends on nothing but the sweep variables, ``where`` saying
    at which (``theta = 1``, ``theta = 1, n = 10``); ``[(None, v)]`` for a constant; None
    where it depends on anything else."""
    free = v.free_symbols
    if not free:
        return [(None, v)]
    axes = [(s, vals) for s, vals in ((ctx.sweep_symbol, ctx.sweep_values),
                                      (ctx.grid_symbol, ctx.grid_values))
            if s is not None and s in free]
    if not axes or free != {s for s, _ in axes}:
        return None
    out = []
    for combo in itertools.product(*(vals for _, vals in axes)):
        sub = {s: x for (s, _), x in zip(axes, combo)}
        where = ", ".join(f"{s} = {fmt(x)}" for s, x in sub.items())
        out.append((where, v.subs(sub)))
    return out


def ensure_real(v, span: ast.Span, what: str, ctx: Context) -> None:
    """Error unless ``v`` (a number or a vector) is a finite real number at every sweep
    value (every cell of a grid), when it depends on nothing but the sweep variables."""
    items = v.items if isinstance(v, Vec) else (v,)
    for item in items:
        if not isinstance(item, sp.Expr):
            return
        points = at_sweep(item, ctx)
        for at, value in points or ():
            if real_value(value) != real_value(value):  # nan
                where = "" if at is None else f" at {at}"
                raise err.not_a_real_number(what, span, found=f"`{value}`",
                                            expected="a finite real number", where=where)


def ensure_positive(v: sp.Expr, span: ast.Span, what: str, ctx: Context) -> None:
    """Error unless ``v`` > 0 (at every sweep value, or grid cell, when it depends on the
    sweep variables only)."""
    points = at_sweep(v, ctx)
    if points is None:
        return
    bad = [(real_value(x), at) for at, x in points if not real_value(x) > 0]
    if bad:
        value, at = bad[0]
        where = "" if at is None else " at every sweep value"
        found = fmt(value) if value == value else "a value that is not a real number"
        if at is not None:
            found += f" at {at}"
        raise err.must_be_positive(f"`{what}`", span, found=found, where=where)


def fmt(x: float) -> str:
    return f"{x:g}"
