"""Evaluating a tensor spec's expressions with JAX arrays, for one input and one parameter
vector (``vmap`` adds the data axis and chains).

``evaluate(expr, env)`` walks a syntax tree the checker has typed (``language.tensor_types``),
so shapes are known to fit and indices to be in range: nothing here reports user mistakes.
``Env`` holds the values of names (parameters as shaped blocks, ``x: f[k]``, ``n``, the sweep
variables) and the spec's lets, evaluated on first use and kept for the rest of the walk.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..language import ast
from .hidden_group import group_tables, permute

__all__ = ["Env", "evaluate", "FUNCS"]


class Env:
    """Names -> arrays for one evaluation; ``lets`` (name -> tree) are evaluated lazily, and
    each call is evaluated once however often it is written (``calls``: trees compare
    without their source positions, so the four phases ``rank(W2 @ W1, 0.2) == k`` share
    one singular value decomposition). ``hidden`` (a ``HiddenUnits``) is what ``symmetric``
    permutes; ``origin`` the values it permutes: those given here, before any permutation."""

    def __init__(self, values: dict, lets: dict, ranges: dict | None = None, hidden=None):
        self.values = dict(values)
        self.lets = lets
        self.ranges = ranges or {}
        self.index: dict[str, int] = {}  # the index variables in scope, 1-based
        self.calls: dict = {}
        self.hidden = hidden
        self.origin = dict(values)

    def lookup(self, name: str):
        if name in self.index:
            return jnp.float32(self.index[name])
        if name not in self.values:
            self.values[name] = evaluate(self.lets[name], self._outer())
        return self.values[name]

    def bound(self, var: str, j: int) -> "Env":
        """This environment with the index ``var = j``: the lets' values are shared (they
        cannot use an index), the calls' are not (they may)."""
        env = Env.__new__(Env)
        env.values, env.lets, env.ranges = self.values, self.lets, self.ranges
        env.index, env.calls = {**self.index, var: j}, {}
        env.hidden, env.origin = self.hidden, self.origin
        return env

    def permuted(self, values: dict) -> "Env":
        """This environment with the parameters' ``values`` replaced (a permutation of
        ``origin``): the lets evaluated afresh, the index variables and ``origin`` kept."""
        env = Env({**self.origin, **values}, self.lets, self.ranges, self.hidden)
        env.index, env.origin = dict(self.index), self.origin
        return env

    def _outer(self) -> "Env":
        """Where a let is evaluated: no index in scope."""
        if not self.index:
            return self
        env = Env(self.values, self.lets, self.ranges, self.hidden)
        env.origin = self.origin
        return env


def _step(a):
    return jnp.where(jnp.asarray(a) > 0, 1.0, 0.0)


JACOBI_SWEEPS = 10  # sweeps of one-sided Jacobi: quadratic convergence, ample for k <= 32


def _singular_values(m):
    """The singular values ``f[min(m, k)]`` of ``m: f[m, k]``, largest first, by one-sided
    (Hestenes) Jacobi rotations of the columns written out in ``jnp`` operations: the
    singular values are the column norms once the columns are orthogonal. Not
    ``jnp.linalg.svd``: its LAPACK call hangs XLA's CPU runtime when a sweep's points run
    on several CPU devices at once (``--cpu-devices 2``, seen with ``smc``)."""
    a = m if m.shape[0] >= m.shape[1] else m.T  # as many columns as singular values
    k = a.shape[1]

    def sweep(_, cols):
        cols = list(cols)
        for p in range(k):
            for q in range(p + 1, k):
                cols[p], cols[q] = _rotate(cols[p], cols[q])
        return tuple(cols)

    cols = jax.lax.fori_loop(0, JACOBI_SWEEPS, sweep, tuple(a[:, j] for j in range(k)))
    norms = jnp.sqrt(jnp.stack([jnp.sum(c * c) for c in cols]))
    return jnp.sort(norms)[::-1]


def _rotate(u, v):
    """The Jacobi rotation of columns ``u, v: f[m]`` that makes them orthogonal."""
    alpha, beta, gamma = jnp.sum(u * u), jnp.sum(v * v), jnp.sum(u * v)
    small = jnp.abs(gamma) <= 1e-30 + 1e-7 * jnp.sqrt(alpha * beta)
    zeta = (beta - alpha) / (2 * jnp.where(small, 1.0, gamma))
    t = jnp.where(zeta >= 0, 1.0, -1.0) / (jnp.abs(zeta) + jnp.sqrt(1 + zeta * zeta))
    t = jnp.where(small, 0.0, t)
    c = 1 / jnp.sqrt(1 + t * t)
    sn = c * t
    return c * u - sn * v, sn * u + c * v


ELEMENTWISE = {
    "identity": lambda a: jnp.asarray(a), "relu": jax.nn.relu, "tanh": jnp.tanh,
    "gelu": lambda a: jax.nn.gelu(a, approximate=False), "sigmoid": jax.nn.sigmoid,
    "swish": jax.nn.swish, "exp": jnp.exp, "log": jnp.log, "sqrt": jnp.sqrt, "abs": jnp.abs,
    "sin": jnp.sin, "cos": jnp.cos, "step": _step,
}

FUNCS = {
    **{k: (lambda f: lambda args, env: f(args[0]))(f) for k, f in ELEMENTWISE.items()},
    "norm": lambda args, env: jnp.sqrt(jnp.sum(jnp.square(args[0]))),
    "sum": lambda args, env: jnp.sum(args[0]),
    "dot": lambda args, env: jnp.dot(args[0], args[1]),
    "diag": lambda args, env: jnp.diag(args[0]),
    "transpose": lambda args, env: jnp.transpose(args[0]),
    "sv": lambda args, env: _singular_values(args[0])[args[1]],
    "rank": lambda args, env: jnp.sum(_singular_values(args[0]) > args[1]).astype(jnp.float32),
    "min": lambda args, env: _fold(jnp.minimum, args),
    "max": lambda args, env: _fold(jnp.maximum, args),
}


def _fold(f, args):
    out = args[0]
    for a in args[1:]:
        out = f(out, a)
    return out


def _whole(v) -> int:
    """A constant (checked whole and in range) as a Python int."""
    return int(round(float(v)))


def _constant(e: ast.Expr, env: Env) -> int:
    """An index or size, a constant expression (the checker made sure) or an index variable,
    as a Python int: evaluated eagerly even inside a traced function."""
    if isinstance(e, ast.Number):
        return _whole(e.value)
    if isinstance(e, ast.Name) and e.id in env.index:
        return env.index[e.id]
    with jax.ensure_compile_time_eval():
        return _whole(evaluate(e, env))


def evaluate(e: ast.Expr, env: Env):
    """The value of ``e``: a JAX array of the shape the checker gave it (conditions: bool)."""
    return _DISPATCH[type(e)](e, env)


def _symmetric(e: ast.Call, env: Env):
    """``symmetric(P)`` -> ``bool[]``: P evaluated on the parameters permuted by each of the
    ``G`` elements of the hidden units' group at once (``vmap``: ``bool[G]``), then any. It
    permutes ``env.origin``, so inside another ``symmetric`` (whose permutation it absorbs)
    it is the same at every outer element and computed once."""
    tables = tuple(jnp.asarray(t) for t in group_tables(env.hidden))

    def one(rows):
        inner = env.permuted(permute(env.origin, env.hidden, rows))
        return jnp.asarray(evaluate(e.args[0], inner), bool)

    return jnp.any(jax.vmap(one)(tables))


def _call(e: ast.Call, env: Env):
    if e not in env.calls:
        if e.func.id == "symmetric":
            env.calls[e] = _symmetric(e, env)
        elif e.func.id == "eye":
            env.calls[e] = jnp.eye(_constant(e.args[0], env))
        elif e.func.id == "sv":
            env.calls[e] = FUNCS["sv"]([evaluate(e.args[0], env),
                                        _constant(e.args[1], env) - 1], env)
        else:
            env.calls[e] = FUNCS[e.func.id]([evaluate(a, env) for a in e.args], env)
    return env.calls[e]


def _binary(e: ast.Binary, env: Env):
    a, b = evaluate(e.left, env), evaluate(e.right, env)
    if e.op == "@":
        return jnp.matmul(a, b)
    return {"+": jnp.add, "-": jnp.subtract, "*": jnp.multiply, "/": jnp.divide,
            "^": jnp.power}[e.op](a, b)


def _vector(e: ast.Vector, env: Env):
    return jnp.stack([jnp.asarray(evaluate(x, env), jnp.float32) for x in e.items])


def _slice(e: ast.Slice, env: Env):
    target = evaluate(e.target, env)
    key = tuple(slice(None) if s is None else _constant(s, env) - 1 for s in e.indices)
    return target[key]


def _quantified(e: ast.Quantified, env: Env):
    """``count i: P`` -> ``f32[]`` (how many i satisfy P); ``all``/``any`` -> ``bool[]``: the
    body evaluated at each i = 1..range, unrolled (ranges are small: columns, units)."""
    held = jnp.stack([jnp.asarray(evaluate(e.body, env.bound(e.var, j)), bool)
                      for j in range(1, env.ranges[e] + 1)])
    if e.kind == "count":
        return jnp.sum(held.astype(jnp.float32))
    return jnp.all(held) if e.kind == "all" else jnp.any(held)


_RELS = {"<": jnp.less, "<=": jnp.less_equal, ">": jnp.greater, ">=": jnp.greater_equal,
         "==": jnp.equal, "!=": jnp.not_equal}

_DISPATCH = {
    ast.Number: lambda e, env: jnp.float32(e.value),
    ast.Name: lambda e, env: env.lookup(e.id),
    ast.Vector: _vector,
    ast.Neg: lambda e, env: -evaluate(e.operand, env),
    ast.Binary: _binary,
    ast.Call: _call,
    ast.Attr: lambda e, env: jnp.transpose(evaluate(e.target, env)),
    ast.Index: lambda e, env: evaluate(e.target, env)[_constant(e.index, env) - 1],
    ast.Slice: _slice,
    ast.Compare: lambda e, env: _RELS[e.op](evaluate(e.left, env), evaluate(e.right, env)),
    ast.BoolOp: lambda e, env: (jnp.logical_and if e.op == "and" else jnp.logical_or)(
        evaluate(e.left, env), evaluate(e.right, env)),
    ast.Not: lambda e, env: jnp.logical_not(evaluate(e.operand, env)),
    ast.Quantified: _quantified,
}
