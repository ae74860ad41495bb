"""A checked tensor spec -> the target and context of its ``Compiled`` (``compile.py``): pure, unbatched JAX functions of one parameter vector
``params: f[D]`` and one ``Context``, as for networks (``compile.py``), so every engine runs it.

- The flat vector is unpacked by the slots (each parameter's block, row-major) into shaped
  arrays; the model's forward expression is evaluated for one input ``x: f[k]``
  (``tensor_eval``) and ``vmap``-ed over the data rows.
- The data: inputs ``x: f[N, k]`` and unit noise ``z: f[N, o]`` from ``default_rng(seed)``
  (inputs, then noise; numpy, so they do not depend on the JAX version), and
  ``y = f_truth(x; value) + noise(value) * z`` computed in ``context(value)`` from the sweep
  value: every sweep point sees the same inputs and noise draws. A sweep over ``n`` masks all
  but the first ``n`` rows. ``data { seeds = K }``: K such data sets, seeds ``seed + j``;
  ``data { file = ... }``: the file's first rows, which do not move with the sweep value.
- Classification: instead of noise, uniforms ``u: f[N]`` (after the inputs); the label of
  row i is the first class whose cumulative truth probability exceeds ``u_i`` (bernoulli:
  ``y = 1`` where ``u_i < sigmoid(l_i)``), so labels move with the truth's logits through
  the same ``u``. ``ctx.y`` holds ``y f[N, 1]`` (bernoulli, 0 or 1) or the one-hot labels
  ``f[N, K]`` (categorical, labels ``1..K``).
- The likelihood: ``beta * sum_i log N(y_i | f(x_i), noise^2 I_o)``, ``beta * sum_i (y_i l_i
  - softplus(l_i))`` (bernoulli) or ``beta * sum_i (l_i[y_i] - logsumexp(l_i))``
  (categorical). Where a Gaussian model is affine in ``x`` (``TensorModel.affine``: linear
  networks), the sum is taken through the data's moments (``Moments``), so a gradient costs
  the same at any ``n``.
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

__all__ = ["compile_tensor", "unpack", "tensor_data", "labels", "Moments", "moments"]


def unpack(params, slots) -> dict:
    """``params: f[D]`` -> ``{name: f[*shape]}`` by the slots' blocks (row-major)."""
    return {s.name: params[s.start: s.start + s.size].reshape(s.shape) for s in slots}


def tensor_data(tm, size: int, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(x f32[N, k], z f32[N, o])``: inputs, then unit noise, from ``default_rng(seed)``
    (default ``tm.seed``); ``o`` is 1 for a scalar output. Sparse inputs are drawn by
    ``sparse_data.sparse_rows``. Classification: ``z f32[N, 1]`` uniform on [0, 1)
    (``labels``)."""
    rng = np.random.default_rng(tm.seed if seed is None else seed)
    kind, a, b = tm.x_dist
    if kind == "sparse":
        x = sparse_rows(rng, size, tm.inputs, a, b)
    elif kind == "uniform":
        x = rng.uniform(a, b, size=(size, tm.inputs))
    else:
        x = rng.normal(a, b, size=(size, tm.inputs))
    if tm.likelihood != "gaussian":
        return x.astype(np.float32), rng.uniform(size=(size, 1)).astype(np.float32)
    o = tm.outputs[0] if tm.outputs else 1
    z = rng.standard_normal((size, o))
    return x.astype(np.float32), z.astype(np.float32)


def labels(family: str, logits: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Labels ``f64[N]`` drawn by inverse CDF from the truth's ``logits`` (``f[N]``,
    bernoulli: 0 or 1; ``f[N, K]``, categorical: 1..K) and uniforms ``u: f[N]``, in float64."""
    logits, u = np.asarray(logits, np.float64), np.asarray(u, np.float64).reshape(-1)
    if family == "bernoulli":
        return (u < 1.0 / (1.0 + np.exp(-logits.reshape(-1)))).astype(np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    return 1.0 + np.minimum(np.sum(cdf <= u[:, None], axis=1), logits.shape[1] - 1)


def _label_array(family: str, y: np.ndarray, classes: int) -> np.ndarray:
    """``ctx.y`` of labels ``y: f[N]``: ``f32[N, 1]`` (bernoulli) or one-hot ``f32[N, K]``."""
    if family == "bernoulli":
        return y.reshape(-1, 1).astype(np.float32)
    return (y.reshape(-1, 1) == np.arange(1, classes + 1)[None, :]).astype(np.float32)


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
    """``indicators(params f[D], ctx) -> bool[P]``. Tensor specs have no ``margins``
    (``Target.margins`` None): the gradient of the k-gon conditions' margins (``all i:
    all j:`` unrolled, 3 phases) took XLA 296 s to compile on 2 cores, against 12 s for the
    local-minimum criterion's whole flow without them."""
    tm = checked.tensor
    preds = [p.expr for _, p in checked.phases]

    def indicators(params, ctx):
        if not preds:
            return jnp.zeros((0,), bool)
        values = {**unpack(params, checked.slots), "n": n_fn(ctx.value),
                  "pi": jnp.float32(math.pi), "e": jnp.float32(math.e),
                  **_sweep_env(tm, ctx.value)}
        env = Env(values, tm.lets, tm.ranges, tm.hidden)
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


def _classify(checked, model_f, o: int):
    """``ll(params, ctx) -> f[]``: the untempered log-likelihood of the labels ``ctx.y``
    (``f[N, 1]`` or one-hot ``f[N, K]``) under the model's logits, summed over the rows with
    mask 1."""
    rows = jax.vmap(model_f, in_axes=(None, 0, None))
    family = checked.tensor.likelihood

    def ll(params, ctx):
        logits = rows(params, ctx.xt.T, ctx.value).reshape(-1, o)
        if family == "bernoulli":
            per_row = ctx.y[:, 0] * logits[:, 0] - jax.nn.softplus(logits[:, 0])
        else:
            per_row = jnp.sum(ctx.y * logits, axis=1) - jax.nn.logsumexp(logits, axis=1)
        return jnp.sum(ctx.mask * per_row)

    return ll


def _host_data(tm, size: int):
    """``(x f32[K, N, k], z f32[K, N, o])`` of every data set (``seeds``); with a data
    file, its first ``size`` rows as ``(x f32[1, N, k], y f32[1, N, o])``."""
    if tm.data is not None:
        y = np.asarray(tm.data.y[:size], np.float64).reshape(size, -1)
        return tm.data.x[None, :size].astype(np.float32), y[None]
    sets = [tensor_data(tm, size, seed) for seed in tm.data_seeds]
    return np.stack([x for x, _ in sets]), np.stack([z for _, z in sets])


def compile_tensor(checked, leaves: dict, size: int):
    """``(target, context, forward)`` of a checked tensor spec (``checked.kind == "tensor"``), for
    ``compile.compile_spec``: ``leaves`` read the sweep symbols from ``(params, value)``;
    ``size`` is the number of data rows (the largest ``n``). ``context(value, dataset)``
    runs on the host (the moments are summed in float64, labels drawn in float64), its
    truth jitted. ``forward(params f[D], x f[k], value) -> f[o] | f[]``: the model's
    prediction for one input (the Gaussian mean, or a classifier's logits), unjitted."""
    tm = checked.tensor
    n_fn, beta_fn, noise_fn = (_scalar(leaves, e) for e in (checked.n, checked.beta, tm.noise))
    o = tm.outputs[0] if tm.outputs else 1
    gaussian = tm.likelihood == "gaussian"
    truth = (None if tm.truth is None else
             jax.jit(jax.vmap(_forward(checked, tm.truth, n_fn), in_axes=(None, 0, None))))
    x_sets, z_sets = _host_data(tm, size)
    model_f = _forward(checked, tm.model, n_fn)
    sum_squares = _sum_squares(checked, model_f, o) if gaussian else None
    class_ll = None if gaussian else _classify(checked, model_f, o)

    def context(value, dataset=0):
        value = jnp.asarray(value, jnp.float32)
        x_host, z_host = x_sets[dataset], z_sets[dataset]
        if truth is None:  # a data file: y is the file's
            y = z_host
        else:
            f0 = np.asarray(truth(jnp.zeros((checked.dim,), jnp.float32), x_host, value), float)
            y = (f0.reshape(size, o) + float(noise_fn(value)) * z_host if gaussian
                 else labels(tm.likelihood, f0.reshape(size, o), z_host))
        if not gaussian:
            y = _label_array(tm.likelihood, np.asarray(y).reshape(-1), o)
        mask = (np.arange(size) < float(n_fn(value))).astype(np.float32)
        extra = moments(x_host, y, mask) if tm.affine else None
        return Context(value=value, xt=jnp.asarray(x_host.T), y=jnp.asarray(y, jnp.float32),
                       mask=jnp.asarray(mask), extra=extra)

    def loglik(params, ctx):
        if not gaussian:
            return beta_fn(ctx.value) * class_ll(params, ctx)
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
    return target, context, model_f
