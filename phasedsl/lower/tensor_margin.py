"""A tensor spec's phase conditions as signed margins (``Target.margins``): positive where a
condition holds, negative where it does not, continuous in the parameters wherever the
condition's parts are (the tensor counterpart of ``lower.jaxexpr.margin_fn``).

``margin(e, env) -> f[]`` for a condition ``e`` the checker typed boolean:

- ``a > b``: ``a - b``, ``a < b``: ``b - a`` (``lower.jaxexpr.rel_margin``: ties and
  ``==``/``!=`` keep the comparison's sign);
- ``and``/``all i:``: the least of the parts' margins; ``or``/``any i:``: the greatest;
  ``not``: the negation; a name: the margin of the let it names;
- a count against a constant, ``count i: P op k`` (``count >= k`` holds where the k-th
  largest of the bodies' margins is positive), and ``rank(M, tol) op k`` alike (the k-th
  singular value's margin over ``tol``).

Where a condition has no such margin (a count against a swept value, a step function) the
margin is ``+inf``; where one cannot change (``count i: P >= 0``) it is ``+inf`` or ``-inf``.
``measure.minima`` steers its flows only by a finite margin.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..language import ast
from .jaxexpr import rel_margin
from .tensor_eval import Env, _constant, _singular_values, evaluate

__all__ = ["margin"]

NONE = jnp.inf  # no margin: nothing to steer by


def margin(e: ast.Expr, env: Env):
    """The signed margin ``f[]`` of the condition ``e`` (module docstring)."""
    if isinstance(e, ast.BoolOp):
        op = jnp.minimum if e.op == "and" else jnp.maximum
        return op(margin(e.left, env), margin(e.right, env))
    if isinstance(e, ast.Not):
        return -margin(e.operand, env)
    if isinstance(e, ast.Quantified) and e.kind in ("all", "any"):
        parts = _bodies(e, env)
        return jnp.min(parts) if e.kind == "all" else jnp.max(parts)
    if isinstance(e, ast.Name) and e.id in env.lets and e.id not in env.index:
        return margin(env.lets[e.id], env)
    if isinstance(e, ast.Compare):
        return _compare(e, env)
    return jnp.float32(NONE)


def _bodies(e: ast.Quantified, env: Env):
    """``f[R]``: the margin of ``e``'s body at each index ``1..R``."""
    return jnp.stack([jnp.asarray(margin(e.body, env.bound(e.var, j)), jnp.float32)
                      for j in range(1, env.ranges[e] + 1)])


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _compare(e: ast.Compare, env: Env):
    for counted, other, op in ((e.left, e.right, e.op), (e.right, e.left, _FLIP[e.op])):
        parts = _counted(counted, env)
        if parts is not None:
            k = _whole_constant(other, env)
            return jnp.float32(NONE) if k is None else _count_margin(parts, op, k)
    return rel_margin(e.op, jnp.asarray(evaluate(e.left, env), jnp.float32),
                      jnp.asarray(evaluate(e.right, env), jnp.float32))


def _counted(e: ast.Expr, env: Env):
    """``f[R]``, the margins whose positives ``e`` counts (``count i: P``: the bodies';
    ``rank(M, tol)``: ``sv_j(M) - tol``; a name: its let's), or None where ``e`` is no
    count."""
    if isinstance(e, ast.Name) and e.id in env.lets and e.id not in env.index:
        return _counted(env.lets[e.id], env)
    if isinstance(e, ast.Quantified) and e.kind == "count":
        return _bodies(e, env)
    if isinstance(e, ast.Call) and e.func.id == "rank":
        m, tol = (evaluate(a, env) for a in e.args)
        return _singular_values(m) - tol
    return None


def _whole_constant(e: ast.Expr, env: Env) -> int | None:
    """``e`` as a Python int where it is a constant (not a swept or traced value)."""
    try:
        return _constant(e, env)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
            TypeError, ValueError):
        return None


def _count_margin(parts, op: str, k: int):
    """The margin of ``#{j: parts_j > 0} op k`` for ``parts: f[R]``: with ``s`` the parts
    sorted largest first, ``count >= k`` holds exactly where ``s_k > 0`` (always where
    ``k <= 0``, never where ``k > R``); the other comparisons are made of that one.
    ``+inf`` where it always holds, ``-inf`` where never."""
    s = jnp.sort(parts)[::-1]
    size = s.shape[0]

    def at_least(j):
        return s[j - 1] if 1 <= j <= size else jnp.float32(jnp.inf if j <= 0 else -jnp.inf)

    ge, gt = at_least(k), at_least(k + 1)
    m = {">=": ge, ">": gt, "<": -ge, "<=": -gt, "==": jnp.minimum(ge, -gt),
         "!=": jnp.maximum(-ge, gt)}[op]
    return m
