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
- The likelihood: ``beta * sum_i log N(y_i | f(x_i), noise^2 I_o)``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from . import jaxexpr
from .prior import make_prior
from .target import Context, Target
from .tensor_eval import Env, evaluate

__all__ = ["compile_tensor", "unpack", "tensor_data"]


def unpack(params, slots) -> dict:
    """``params: f[D]`` -> ``{name: f[*shape]}`` by the slots' blocks (row-major)."""
    return {s.name: params[s.start: s.start + s.size].reshape(s.shape) for s in slots}


def tensor_data(tm, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x f32[N, k], z f32[N, o])``: inputs, then unit noise, from ``default_rng(seed)``;
    ``o`` is 1 for a scalar output."""
    rng = np.random.default_rng(tm.seed)
    kind, a, b = tm.x_dist
    x = (rng.uniform(a, b, size=(size, tm.inputs)) if kind == "uniform"
         else rng.normal(a, b, size=(size, tm.inputs)))
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
        return evaluate(expr, Env(values, tm.lets))

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
        env = Env(values, tm.lets)
        return jnp.stack([jnp.asarray(evaluate(p, env), bool) for p in preds])

    return indicators


def _prior(checked, lower, upper):
    tm = checked.tensor
    if checked.prior[0] == "uniform":
        return make_prior(("uniform",), lower, upper)
    return make_prior(("normal", np.asarray(tm.prior_mean), np.asarray(tm.prior_sd)),
                      lower, upper)


def compile_tensor(checked, leaves: dict, size: int):
    """``(target, context)`` of a checked tensor spec (``checked.kind == "tensor"``), for
    ``compile.compile_spec``: ``leaves`` read the sweep symbols from ``(params, value)``;
    ``size`` is the number of data rows (the largest ``n``)."""
    tm = checked.tensor
    n_fn, beta_fn, noise_fn = (_scalar(leaves, e) for e in (checked.n, checked.beta, tm.noise))
    model = jax.vmap(_forward(checked, tm.model, n_fn), in_axes=(None, 0, None))
    truth = jax.vmap(_forward(checked, tm.truth, n_fn), in_axes=(None, 0, None))
    x_host, z_host = tensor_data(tm, size)
    scalar_out = not tm.outputs
    const_n = not checked.n.free_symbols
    o = 1 if scalar_out else tm.outputs[0]

    def context(value, dataset=0):
        value = jnp.asarray(value, jnp.float32)
        x = jnp.asarray(x_host)
        f0 = truth(jnp.zeros((checked.dim,), jnp.float32), x, value).reshape(size, o)
        y = f0 + noise_fn(value) * jnp.asarray(z_host)
        mask = (jnp.ones((size,), jnp.float32) if const_n
                else (jnp.arange(size) < n_fn(value)).astype(jnp.float32))
        return Context(value=value, xt=x.T, y=y, mask=mask)

    def loglik(params, ctx):
        sigma2 = noise_fn(ctx.value) ** 2
        f = model(params, ctx.xt.T, ctx.value).reshape(-1, o)
        sq = jnp.sum(jnp.square(ctx.y - f), axis=1)
        per_point = -0.5 * sq / sigma2 - 0.5 * o * jnp.log(2 * math.pi * sigma2)
        return beta_fn(ctx.value) * jnp.sum(ctx.mask * per_point)

    lower = np.array([s.lower for s in checked.slots for _ in range(s.size)], float)
    upper = np.array([s.upper for s in checked.slots for _ in range(s.size)], float)
    logprior, init = _prior(checked, lower, upper)
    target = Target(dim=checked.dim, logprior=logprior, loglik=loglik,
                    indicators=_indicators(checked, n_fn), init=init, lower=lower,
                    upper=upper, phase_names=checked.phase_names)
    return target, context
