"""``CheckedSpec`` -> ``Compiled``: pure, unbatched JAX functions of one parameter vector and
one sweep value.

The sweep value is always an argument (``ctx["value"]``), never a Python float closed over, so
one compilation serves every sweep point. For networks the dataset is made once on the host
(inputs and unit noise from ``data.seed``, with numpy so it does not depend on the JAX
version) and the outputs ``y = f_truth(x; value) + noise(value) * z`` are computed from the
sweep value by ``context``: every sweep point sees the same inputs and the same noise draws.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from jax.scipy.special import ndtri
from jax.scipy.stats import norm as jnorm

from . import jaxexpr
from ..language import symbolic as sy
from ..language.check import CheckedSpec
from .target import Target


def activation(name: str):
    """The activation function ``f[...] -> f[...]`` of a network."""
    return {"relu": jax.nn.relu, "tanh": jnp.tanh, "swish": jax.nn.swish}[name]


def network_forward(params, x, d: int, k: int, act):
    """``f(x, w) = c + sum_i q_i act(<w_i, x> + b_i)``.

    ``params: f[d(k+2)+1]`` laid out ``w[d,k], b[d], q[d], c``; ``x: f[N, k]`` -> ``f[N]``.
    """
    return network_forward_t(params, jnp.asarray(x).T, d, k, act)


def network_forward_t(params, xt, d: int, k: int, act):
    """The same with inputs feature-major, ``xt: f[k, N]`` -> ``f[N]``.

    For the narrow layers of these experiments a matrix product ``[N, k] @ [k, d]`` wastes
    most of its time on layout; written as ``d * k`` scalar-times-row operations, XLA fuses
    the forward into one loop over N. The derivative is given by hand (a ``custom_jvp``):
    the tangent is ``params_dot @ J`` with ``J: f[D, N]`` the Jacobian of the outputs, built
    in the same loop, so reverse mode needs one matrix-vector product ``J @ cotangent``
    instead of one reduction over N per parameter (measured in ``benchmarks/``: about 1.5x
    faster per gradient inside NUTS on CPU; same values and gradients to float32 rounding).
    Wide layers use the matrix product and plain autodiff.
    """
    c = params[d * k + 2 * d]
    if d * k > 64:
        w = params[: d * k].reshape(d, k)
        b = params[d * k: d * k + d]
        q = params[d * k + d: d * k + 2 * d]
        return c + q @ act(w @ xt + b[:, None])
    return _narrow_forward(d, k, act, params, xt)


def _narrow_hidden(params, xt, d: int, k: int):
    """Pre-activations ``h_i = b_i + sum_j w_ij x_j``, each ``f[N]``, as scalar-times-rows."""
    hs = []
    for i in range(d):
        h = params[d * k + i]
        for j in range(k):
            h = h + params[i * k + j] * xt[j]
        hs.append(h)
    return hs


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2))
def _narrow_forward(d: int, k: int, act, params, xt):
    out = params[d * k + 2 * d]
    for i, h in enumerate(_narrow_hidden(params, xt, d, k)):
        out = out + params[d * k + d + i] * act(h)
    return out


def _narrow_forward_jvp(d, k, act, primals, tangents):
    params, xt = primals
    params_dot, xt_dot = tangents
    zero = jax.custom_derivatives.SymbolicZero
    out = params[d * k + 2 * d]
    acts, slopes = [], []
    for i, h in enumerate(_narrow_hidden(params, xt, d, k)):
        a, da = jax.jvp(act, (h,), (jnp.ones_like(h),))
        q = params[d * k + d + i]
        out = out + q * a
        acts.append(a)
        slopes.append(q * da)  # d out / d h_i
    tangent = jnp.zeros_like(out)
    if not isinstance(params_dot, zero):
        # J: f[D, N], rows in the parameter layout w[d,k], b[d], q[d], c
        g, a = jnp.stack(slopes), jnp.stack(acts)
        jac_w = (g[:, None, :] * xt[None, :, :]).reshape(d * k, -1)
        jac = jnp.concatenate([jac_w, g, a, jnp.ones_like(out)[None]])
        tangent = params_dot @ jac
    if not isinstance(xt_dot, zero):
        for i in range(d):
            for j in range(k):
                tangent = tangent + slopes[i] * params[i * k + j] * xt_dot[j]
    return out, tangent


_narrow_forward.defjvp(_narrow_forward_jvp, symbolic_zeros=True)


@dataclass(frozen=True)
class Compiled:
    """A compiled spec. All functions are pure and unbatched (``vmap`` adds axes).

    - ``target``: what engines sample (see ``target.Target``), functions of ``(params, ctx)``.
    - ``context(value f[]) -> ctx``: the pytree every target function takes.
    - ``sweep_values: f[V]``.
    """

    checked: CheckedSpec
    target: Target
    context: Callable
    sweep_values: np.ndarray
    _lets: dict
    _truth: Callable | None
    _lets_use_sweep: bool = False

    @property
    def phase_names(self) -> tuple[str, ...]:
        return self.target.phase_names

    @property
    def dim(self) -> int:
        return self.target.dim

    def logdensity(self, params, value):
        """Log prior + tempered log-likelihood ``f[]`` (energies: ``log phi - n beta K``)."""
        return self.target.logdensity(params, self.context(value))

    def phase_indicators(self, params, value):
        """``bool[P]``: membership of each phase."""
        return self.target.indicators(params, self.context(value))

    def truth(self, value) -> dict | None:
        """The truth's parameters at a sweep value (networks): ``w f[m,k]``, ``b``, ``q f[m]``,
        ``c f[]`` and the per-node lets ``f[m, ...]``; ``None`` for energies."""
        if self._truth is None:
            return None
        return {k: np.asarray(v) for k, v in self._truth(jnp.asarray(value, jnp.float32)).items()}

    def dataset(self, value):
        """``(x f[N, k], y f[N])`` at a sweep value (networks only)."""
        ctx = self.context(jnp.asarray(value, jnp.float32))
        return np.asarray(ctx["xt"]).T, np.asarray(ctx["y"])

    def unflatten(self, params, value: float | None = None) -> dict:
        """Named parts of ``params: f[..., D]``: slots (``w f[..., d, k]``, ``b``, ``q``,
        ``c``; or each energy parameter) and per-node lets (``u f[..., d, k]``), the lets
        at sweep ``value`` (needed only when a per-node let uses the sweep variable)."""
        params = np.asarray(params)
        lead = params.shape[:-1]
        out = {}
        for slot in self.checked.slots:
            block = params[..., slot.start: slot.start + slot.size]
            out[slot.name] = block.reshape(lead + slot.shape)
        if self._lets:
            if value is None and self._lets_use_sweep:
                raise ValueError("a per-node let uses the sweep variable: pass the sweep value")
            flat = jnp.asarray(params.reshape(-1, params.shape[-1]), jnp.float32)
            v = jnp.asarray(0.0 if value is None else value, jnp.float32)
            for name, fn in self._lets.items():
                values = fn(flat, v)
                out[name] = np.asarray(values).reshape(lead + values.shape[1:])
        return out


def compile_spec(checked: CheckedSpec) -> Compiled:
    """Lower a checked spec to JAX (cheap: nothing is traced until first use)."""
    symbol_index = {s: i for i, s in enumerate(checked.symbols)}
    leaves = {s: (lambda env, i=i: env[0][i]) for s, i in symbol_index.items()}
    leaves[checked.sweep_symbol] = lambda env: env[1]

    def of_value(expr):
        fn = jaxexpr.scalar_fn(sp.sympify(expr), leaves)
        return lambda value: fn((jnp.zeros((1,), jnp.asarray(value).dtype), value))

    beta, n = of_value(checked.beta), of_value(checked.n)
    perms = _node_permutations(checked)
    phase_fns = [jaxexpr.pred_fn(p, leaves, perms) for _, p in checked.phases]

    def indicators(params, ctx):
        env = (params, ctx["value"])
        if not phase_fns:
            return jnp.zeros((0,), bool)
        return jnp.stack([f(env) for f in phase_fns])

    lower = np.array([s.lower for s in checked.slots for _ in range(s.size)], float)
    upper = np.array([s.upper for s in checked.slots for _ in range(s.size)], float)
    logprior, init = _prior(checked.prior, lower, upper)
    lets = {name: _batched(_stack_nodes([jaxexpr.value_fn(v, leaves) for v in values]))
            for name, values in checked.node_lets.items()}
    lets_use_sweep = any(checked.sweep_symbol in sy.free_symbols(v)
                         for values in checked.node_lets.values() for v in values)

    if checked.kind == "energy":
        energy = jaxexpr.scalar_fn(checked.energy, leaves)

        def loglik(params, ctx):
            value = ctx["value"]
            return -n(value) * beta(value) * energy((params, value))

        def context(value):
            return {"value": jnp.asarray(value, jnp.float32)}

        truth_fn = None
    else:
        net = checked.network
        d, k = net.width, net.inputs
        act, truth_act = activation(net.activation), activation(net.truth_activation)
        size = _data_size(checked)
        rng = np.random.default_rng(net.seed)
        kind, a, b = net.x_dist
        inputs = (rng.uniform(a, b, size=(size, k)) if kind == "uniform"
                  else rng.normal(a, b, size=(size, k))).astype(np.float32)
        unit_noise = rng.standard_normal(size).astype(np.float32)
        truth_flat = [x for w in net.truth_w for x in w] + list(net.truth_b) + list(net.truth_q) + [net.truth_c]
        truth_vec = [of_value(x) for x in truth_flat]
        noise = of_value(net.noise)
        m = net.truth_width
        const_n = not checked.n.free_symbols

        def truth_params(value):
            return jnp.stack([f(value) for f in truth_vec])

        def context(value):
            value = jnp.asarray(value, jnp.float32)
            xt = jnp.asarray(inputs.T)
            y = network_forward_t(truth_params(value), xt, m, k, truth_act) + noise(value) * unit_noise
            mask = jnp.ones((size,), jnp.float32) if const_n else (jnp.arange(size) < n(value)).astype(jnp.float32)
            return {"value": value, "xt": xt, "y": y, "mask": mask}

        def loglik(params, ctx):
            value = ctx["value"]
            sigma2 = noise(value) ** 2
            resid = ctx["y"] - network_forward_t(params, ctx["xt"], d, k, act)
            per_point = -0.5 * resid ** 2 / sigma2 - 0.5 * jnp.log(2 * math.pi * sigma2)
            if const_n:
                return beta(value) * jnp.sum(per_point)
            return beta(value) * jnp.sum(ctx["mask"] * per_point)

        truth_leaves = {checked.sweep_symbol: lambda env: env[1]}
        truth_lets = {name: _stack_nodes([jaxexpr.value_fn(v, truth_leaves) for v in values])
                      for name, values in net.truth_lets.items()}

        def truth_fn(value):
            p = truth_params(value)
            out = {"w": p[: m * k].reshape(m, k), "b": p[m * k: m * k + m],
                   "q": p[m * k + m: m * k + 2 * m], "c": p[-1]}
            for name, fn in truth_lets.items():
                out[name] = fn((p, value))
            return out

    target = Target(dim=checked.dim, logprior=logprior, loglik=loglik, indicators=indicators,
                    init=init, lower=lower, upper=upper, phase_names=checked.phase_names)
    return Compiled(checked=checked, target=target, context=jax.jit(context),
                    sweep_values=np.asarray(checked.sweep_values, float), _lets=lets,
                    _truth=jax.jit(truth_fn) if truth_fn else None,
                    _lets_use_sweep=lets_use_sweep)


def _ndtr(x: float) -> float:
    """Standard normal CDF in float64, accurate in the lower tail."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _batched(fn):
    """``fn(env)`` as a jitted ``(params f[B, D], value f[]) -> f[B, ...]``."""
    return jax.jit(jax.vmap(lambda p, v: fn((p, v)), in_axes=(0, None)))


def _stack_nodes(fns):
    return lambda env: jnp.stack([f(env) for f in fns])


def _data_size(checked: CheckedSpec) -> int:
    """Rows of the dataset: ``n``, or its largest value over the sweep (then masked)."""
    if not checked.n.free_symbols:
        return int(round(float(checked.n)))
    values = [float(checked.n.subs(checked.sweep_symbol, v)) for v in checked.sweep_values]
    return int(round(max(values)))


def _node_permutations(checked: CheckedSpec) -> np.ndarray | None:
    """``int[d!, D]``: for each permutation of the model's nodes, the parameter vector's
    indices reordered (``NetworkLayout.permutations``); None for energies."""
    return None if checked.layout is None else checked.layout.permutations()


def _prior(prior: tuple, lower: np.ndarray, upper: np.ndarray):
    """``(logprior(params, ctx) -> f[], init(key, ctx) -> f[D])`` for an iid prior, normalised
    on the box where coordinates are bounded (a truncated normal there)."""
    bounded = np.isfinite(lower)
    lo = np.where(bounded, lower, 0.0).astype(np.float32)
    hi = np.where(bounded, upper, 1.0).astype(np.float32)
    dim = len(lower)

    idx = np.flatnonzero(bounded)

    def inside(params):
        # only the bounded coordinates: an all-unbounded prior gives a constant, which XLA
        # would otherwise fold over every batched particle (seconds of compile time)
        if idx.size == 0:
            return jnp.asarray(True)
        p = params[idx]
        return jnp.all((p >= lo[idx]) & (p <= hi[idx]))

    if prior[0] == "uniform":
        log_volume = float(np.sum(np.log(hi - lo)))

        def logprior(params, ctx):
            return jnp.where(inside(params), -log_volume, -jnp.inf).astype(params.dtype)

        def init(key, ctx):
            return jax.random.uniform(key, (dim,), jnp.float32, lo, hi)

        return logprior, init

    _, mean, sd = prior
    a, b = (lo - mean) / sd, (hi - mean) / sd
    # Work on the lower-tail side of each box (mirrored where a > 0), on the host in float64,
    # so boxes far in a tail keep their mass (float32 ndtr(b) - ndtr(a) would be 0 there).
    flip = bounded & (a > 0)
    a_low, b_low = np.where(flip, -b, a), np.where(flip, -a, b)
    p_a = np.array([_ndtr(x) for x in a_low]) * bounded
    p_b = np.where(bounded, [_ndtr(x) for x in b_low], 1.0)
    log_mass = float(np.sum(np.where(bounded, np.log(np.clip(p_b - p_a, 1e-300, None)), 0.0)))
    sign = np.where(flip, -1.0, 1.0).astype(np.float32)
    a32, b32 = a_low.astype(np.float32), b_low.astype(np.float32)
    p_a32, p_b32 = p_a.astype(np.float32), p_b.astype(np.float32)

    def logprior(params, ctx):
        value = jnp.sum(jnorm.logpdf(params, mean, sd)) - log_mass
        return jnp.where(inside(params), value, -jnp.inf)

    def init(key, ctx):
        k_box, k_free = jax.random.split(key)
        u = jax.random.uniform(k_box, (dim,), jnp.float32)
        z_box = sign * jnp.clip(ndtri(p_a32 + u * (p_b32 - p_a32)), a32, b32)
        z = jnp.where(bounded, z_box, jax.random.normal(k_free, (dim,), jnp.float32))
        return mean + sd * z

    return logprior, init
