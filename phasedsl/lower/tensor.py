"""A checked tensor spec -> the target and context of its ``Compiled`` (``compile.py``): pure, unbatched JAX functions of one parameter vector
``params: f[D]`` and one ``Context``, as for networks (``compile.py``), so every engine runs it.

- The flat vector is unpacked by the slots (each parameter's block, row-major) into shaped
  arrays; the model's forward expression is evaluated for one input ``x: f[k]``
  (``tensor_eval``) and ``vmap``-ed over the data rows.
- The data: inputs ``x: f[N, k]`` and unit noise ``z: f[N, o]`` from ``default_rng(seed)``
  (inputs, then noise; numpy, so they do not depend on the JAX version), and
  ``y = f_truth(x; value) + noise(value) * z`` computed in ``context(value)`` from the sweep
  value: every sweep point sees the same inputs and noise draws. A sweep over ``n`` masks all
  but the first ``n`` rows.
- The likelihood: ``beta * sum_i log N(y_i | f(x_i), noise^2 I_o)``. Where the model is
  affine in ``x`` (``TensorModel.affine``: linear networks), the sum is taken through the
  data's moments (``Moments``), so a gradient costs the same at any ``n``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from . import jaxexpr
from .prior import make_prior
from .sparse_data import sparse_rows
from .target import Context, Target
from .tensor_eval import Env, evaluate

__all__ = ["compile_tensor", "unpack", "tensor_data", "Moments", "moments"]


def unpack(params, slots) -> dict:
    """``params: f[D]`` -> ``{name: f[*shape]}`` by the slots' blocks (row-major)."""
    return {s.name: params[s.start: s.start + s.size].reshape(s.shape) for s in slots}


def tensor_data(tm, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x f32[N, k], z f32[N, o])``: inputs, then unit noise, from ``default_rng(seed)``;
    ``o`` is 1 for a scalar output. Sparse inputs are drawn by ``sparse_data.sparse_rows``."""
    rng = np.random.default_rng(tm.seed)
    kind, a, b = tm.x_dist
    if kind == "sparse":
        x = sparse_rows(rng, size, tm.inputs, a, b)
    elif kind == "uniform":
        x = rng.uniform(a, b, size=(size, tm.inputs))
    else:
        x = rng.normal(a, b, size=(size, tm.inputs))
    o = tm.outputs[0] if tm.outputs else 1
    z = rng.standard_normal((size, o))
    return x.astype(np.float32), z.astype(np.float32)


def _sweep_env(tm, value) -> dict:
    """The sweep variables' values: ``value f[]`` or, for a grid, ``value f[2]``."""
    names = tm.sweep_names
    if len(names) == 2:
        return {names[0]: value[0], names[1]: value[1]}
    return {names[0]: value} if names else {}


def _scalar(leaves: dict, expr):
    """A sympy expression of the sweep variables as ``fn(value) -> f[]`` (``leaves``: how
    each sweep symbol is read from ``(params, value)``)."""
    fn = jaxexpr.scalar_fn(sp.sympify(expr), leaves)
    return lambda value: fn((jnp.zeros((1,), jnp.float32), value))


def _forward(checked, expr, n_fn):
    """``f(params f[D], x f[k], value) -> f[o] | f[]``: a forward expression (model or truth)."""
    tm = checked.tensor

    def f(params, x, value):
        values = {**unpack(params, checked.slots), "x": x, "n": n_fn(value),
                  "pi": jnp.float32(math.pi), "e": jnp.float32(math.e), **_sweep_env(tm, value)}
        return evaluate(expr, Env(values, tm.lets, tm.ranges))

    return f


def _indicators(checked, n_fn):
    """``indicators(params f[D], ctx) -> bool[P]``."""
    tm = checked.tensor
    preds = [p.expr for _, p in checked.phases]

    def indicators(params, ctx):
        if not preds:
            return jnp.zeros((0,), bool)
        values = {**unpack(params, checked.slots), "n": n_fn(ctx.value),
                  "pi": jnp.float32(math.pi), "e": jnp.float32(math.e),
                  **_sweep_env(tm, ctx.value)}
        env = Env(values, tm.lets, tm.ranges)
        return jnp.stack([jnp.asarray(evaluate(p, env), bool) for p in preds])

    return indicators


def _prior(checked, lower, upper):
    tm = checked.tensor
    if checked.prior[0] == "uniform":
        return make_prior(("uniform",), lower, upper)
    return make_prior(("normal", np.asarray(tm.prior_mean), np.asarray(tm.prior_sd)),
                      lower, upper)


class Moments(NamedTuple):
    """What a Gaussian likelihood of a model affine in ``x`` needs from the data (the rows
    with mask 1), ``z = [x, 1]: f[k+1]``: ``s = sum z z^T: f[k+1, k+1]``, the least-squares
    coefficients ``z_hat: f[o, k+1]`` of ``y`` on ``z``, the least residual sum of squares
    ``rss: f[]`` and the row count ``count: f[]``. Then for ``Z = [A, b]``,
    ``sum ||y - A x - b||^2 = rss + tr((Z - z_hat) s (Z - z_hat)^T)`` (exactly)."""

    s: Any
    z_hat: Any
    rss: Any
    count: Any


def moments(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> Moments:
    """``Moments`` of ``x f[N, k]``, ``y f[N, o]``, ``mask f[N]``, in float64 on the host
    (stored as float32)."""
    x, y, w = (np.asarray(a, np.float64) for a in (x, y, mask))
    z = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    s = (z * w[:, None]).T @ z
    c = (y * w[:, None]).T @ z  # f[o, k+1]
    z_hat = np.linalg.lstsq(s, c.T, rcond=None)[0].T
    rss = float(np.sum(w * np.sum(y * y, axis=1)) - np.sum(z_hat * c))
    return Moments(*(np.asarray(a, np.float32) for a in (s, z_hat, rss, w.sum())))


def _affine_map(f, k: int):
    """``Z(params, value) -> f[o, k+1]``: ``[A, b]`` of an affine ``f(params, x, value)``,
    from its values at ``x = e_1 .. e_k`` and ``x = 0``."""
    basis = jnp.concatenate([jnp.eye(k, dtype=jnp.float32), jnp.zeros((1, k), jnp.float32)])
    at = jax.vmap(f, in_axes=(None, 0, None))

    def z_of(params, value):
        out = at(params, basis, value).reshape(k + 1, -1)  # f[k+1, o]
        return jnp.concatenate([(out[:k] - out[k]).T, out[k][:, None]], axis=1)

    return z_of


def _sum_squares(checked, model_f, o: int):
    """``sq(params, ctx) -> f[]``: ``sum_i mask_i ||y_i - f(x_i)||^2``, by the moments
    (a model affine in ``x``) or over the rows."""
    tm = checked.tensor
    if tm.affine:
        z_of = _affine_map(model_f, tm.inputs)

        def sq(params, ctx):
            m = ctx.extra
            d = z_of(params, ctx.value) - m.z_hat
            return m.rss + jnp.sum((d @ m.s) * d)

        return sq
    rows = jax.vmap(model_f, in_axes=(None, 0, None))

    def sq(params, ctx):
        f = rows(params, ctx.xt.T, ctx.value).reshape(-1, o)
        return jnp.sum(ctx.mask * jnp.sum(jnp.square(ctx.y - f), axis=1))

    return sq


def compile_tensor(checked, leaves: dict, size: int):
    """``(target, context)`` of a checked tensor spec (``checked.kind == "tensor"``), for
    ``compile.compile_spec``: ``leaves`` read the sweep symbols from ``(params, value)``;
    ``size`` is the number of data rows (the largest ``n``). ``context`` runs on the host
    (the moments are summed in float64), its truth jitted."""
    tm = checked.tensor
    n_fn, beta_fn, noise_fn = (_scalar(leaves, e) for e in (checked.n, checked.beta, tm.noise))
    o = tm.outputs[0] if tm.outputs else 1
    truth = jax.jit(jax.vmap(_forward(checked, tm.truth, n_fn), in_axes=(None, 0, None)))
    x_host, z_host = tensor_data(tm, size)
    sum_squares = _sum_squares(checked, _forward(checked, tm.model, n_fn), o)

    def context(value, dataset=0):
        value = jnp.asarray(value, jnp.float32)
        f0 = np.asarray(truth(jnp.zeros((checked.dim,), jnp.float32), x_host, value), float)
        y = f0.reshape(size, o) + float(noise_fn(value)) * z_host
        mask = (np.arange(size) < float(n_fn(value))).astype(np.float32)
        extra = moments(x_host, y, mask) if tm.affine else None
        return Context(value=value, xt=jnp.asarray(x_host.T), y=jnp.asarray(y, jnp.float32),
                       mask=jnp.asarray(mask), extra=extra)

    def loglik(params, ctx):
        sigma2 = noise_fn(ctx.value) ** 2
        count = jnp.sum(ctx.mask) if ctx.extra is None else ctx.extra.count
        total = -0.5 * sum_squares(params, ctx) / sigma2 - 0.5 * o * count * jnp.log(
            2 * math.pi * sigma2)
        return beta_fn(ctx.value) * total

    lower = np.array([s.lower for s in checked.slots for _ in range(s.size)], float)
    upper = np.array([s.upper for s in checked.slots for _ in range(s.size)], float)
    logprior, init = _prior(checked, lower, upper)
    target = Target(dim=checked.dim, logprior=logprior, loglik=loglik,
                    indicators=_indicators(checked, n_fn), init=init, lower=lower,
                    upper=upper, phase_names=checked.phase_names)
    return target, context
