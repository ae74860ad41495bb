"""Sympy trees -> JAX functions, through an explicit whitelist (the sympy2jax way).

Only the node types in ``_FUNCS`` and the arithmetic below can be lowered; anything else is a
bug in the checker, never something user text can reach. Each tree is walked once at compile
time into nested closures; tracing them under ``jit`` emits plain ``jax.numpy`` operations.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from jax import lax

from ..language import values as sy

Env = tuple  # (params f[D], value f[])

_FUNCS = {
    sp.sin: jnp.sin, sp.cos: jnp.cos, sp.tan: jnp.tan, sp.exp: jnp.exp, sp.log: jnp.log,
    sp.Abs: jnp.abs, sp.tanh: jnp.tanh,
}
_RELS = {"<": jnp.less, "<=": jnp.less_equal, ">": jnp.greater, ">=": jnp.greater_equal,
         "==": jnp.equal, "!=": jnp.not_equal}


def scalar_fn(expr: sp.Expr, leaves: dict) -> Callable[[Env], object]:
    """``expr`` as a function of ``env``; ``leaves`` maps each free symbol to ``env -> array``."""
    if expr.is_Number or isinstance(expr, sp.NumberSymbol):
        const = float(expr)
        return lambda env: jnp.asarray(const, dtype=env[0].dtype)
    if isinstance(expr, sp.Symbol):
        return leaves[expr]
    args = [scalar_fn(a, leaves) for a in expr.args]
    if isinstance(expr, sp.Add):
        return lambda env: functools.reduce(lambda x, y: x + y, [f(env) for f in args])
    if isinstance(expr, sp.Mul):
        return lambda env: functools.reduce(lambda x, y: x * y, [f(env) for f in args])
    if isinstance(expr, sp.Pow):
        base, exp = args[0], expr.args[1]
        if exp.is_Integer:
            k = int(exp)
            return lambda env: lax.integer_pow(base(env), k)
        if exp == sp.Rational(1, 2):
            return lambda env: jnp.sqrt(base(env))
        if exp == sp.Rational(-1, 2):
            return lambda env: lax.rsqrt(base(env))
        power = args[1]
        return lambda env: jnp.power(base(env), power(env))
    if isinstance(expr, (sp.Max, sp.Min)):
        op = jnp.maximum if isinstance(expr, sp.Max) else jnp.minimum
        return lambda env: functools.reduce(op, [f(env) for f in args])
    for cls, fn in _FUNCS.items():
        if isinstance(expr, cls):
            (arg,) = args
            return lambda env, fn=fn: fn(arg(env))
    raise NotImplementedError(f"cannot lower {type(expr).__name__} to JAX")  # checker bug


def value_fn(value, leaves: dict):
    """A scalar, ``Vec`` or ``Pred`` as a function of ``env`` (vectors stack to f[k])."""
    if isinstance(value, sy.Vec):
        fns = [scalar_fn(x, leaves) for x in value.items]
        return lambda env: jnp.stack([f(env) for f in fns])
    if isinstance(value, sy.Pred):
        return pred_fn(value, leaves, None)
    return scalar_fn(value, leaves)


class _Logic(NamedTuple):
    """How a condition's parts combine: as booleans (``pred_fn``) or as signed margins
    (``margin_fn``)."""

    rel: Callable  # (op, a, b) -> the comparison
    both: Callable  # and
    either: Callable  # or
    negate: Callable  # not
    best: Callable  # over the node permutations (symmetric), along axis 0


TINY = 1e-30  # the least margin of a comparison that holds (an integer tie: i <= j, i = j)


def rel_margin(op: str, a, b):
    """The signed margin ``f[]`` of ``a op b``: ``a - b`` for ``>``/``>=``, ``b - a`` for
    ``<``/``<=``, its sign forced to agree with the comparison where it ties (``i <= j`` at
    ``i = j`` holds: ``+TINY``); ``==`` is ``+inf`` where it holds (a tie, no direction to
    it) and ``-|a - b|`` elsewhere, ``!=`` the reverse."""
    holds = _RELS[op](a, b)
    if op in ("==", "!="):
        gap = jnp.abs(a - b)
        return (jnp.where(holds, jnp.inf, -gap) if op == "==" else
                jnp.where(holds, gap, -jnp.inf))
    m = a - b if op in (">", ">=") else b - a
    return jnp.where(holds, jnp.maximum(m, TINY), jnp.minimum(m, -TINY))


_BOOLEAN = _Logic(lambda op, a, b: _RELS[op](a, b), jnp.logical_and, jnp.logical_or,
                  jnp.logical_not, lambda x: jnp.any(x, axis=0))
_MARGIN = _Logic(rel_margin, jnp.minimum, jnp.maximum, jnp.negative,
                 lambda x: jnp.max(x, axis=0))


def pred_fn(p: sy.Pred, leaves: dict, perms: np.ndarray | None) -> Callable[[Env], object]:
    """A condition as ``env -> bool[]``. ``perms: int[P, D]`` reorders the parameter vector
    for each permutation of the model's nodes (needed only under ``symmetric``)."""
    return _condition_fn(p, leaves, perms, _BOOLEAN)


def margin_fn(p: sy.Pred, leaves: dict, perms: np.ndarray | None) -> Callable[[Env], object]:
    """A condition's signed margin as ``env -> f[]``: positive where ``pred_fn`` holds,
    negative where it does not, and continuous: a comparison ``a > b`` is ``a - b``
    (``rel_margin``); ``and`` the least of its parts' margins, ``or`` the greatest, ``not``
    the negation, ``symmetric`` the greatest over the node permutations. Its units are
    those of the comparisons (a radius for ``disc``/``annulus``); ``measure.minima`` uses
    it to steer a flow along a flat valley of the potential into the phase's region."""
    return _condition_fn(p, leaves, perms, _MARGIN)


def _condition_fn(p: sy.Pred, leaves: dict, perms, logic: _Logic) -> Callable[[Env], object]:
    if isinstance(p, sy.Rel):
        left, right, op = scalar_fn(p.left, leaves), scalar_fn(p.right, leaves), p.op
        return lambda env: logic.rel(op, left(env), right(env))
    if isinstance(p, (sy.AllOf, sy.AnyOf)):
        fns = [_condition_fn(x, leaves, perms, logic) for x in p.items]
        op = logic.both if isinstance(p, sy.AllOf) else logic.either
        return lambda env: functools.reduce(op, [f(env) for f in fns])
    if isinstance(p, sy.Region):
        return _condition_fn(p.relation, leaves, perms, logic)
    if isinstance(p, sy.NotP):
        inner = _condition_fn(p.item, leaves, perms, logic)
        return lambda env: logic.negate(inner(env))
    if isinstance(p, sy.Symmetric):
        inner = _condition_fn(p.item, leaves, perms, logic)
        table = jnp.asarray(perms)

        def symmetric(env):
            params, rest = jnp.asarray(env[0]), env[1:]
            return logic.best(jax.vmap(lambda idx: inner((params[idx],) + rest))(table))

        return symmetric
    raise NotImplementedError(f"cannot lower {type(p).__name__}")  # checker bug
