"""``CheckedSpec`` -> ``Compiled``: pure, unbatched JAX functions of one parameter vector and
one sweep value.

The sweep value is always an argument (``ctx.value`` of a ``target.Context``), never a Python
float closed over, so one compilation serves every sweep point. For networks the dataset is
made once on the host (inputs and unit noise from ``data.seed``, with numpy so it does not
depend on the JAX version) and the outputs ``y = f_truth(x; value) + noise(value) * z`` are
computed from the sweep value by ``context``: every sweep point sees the same inputs and the
same noise draws. With ``data { seeds = K }`` there are K such data sets (data seeds
``seed + k``), stacked, and ``context(value, k)`` picks one. With ``data { file = ... }`` the
inputs and outputs are the file's first rows (``y`` does not move with the sweep value). A
sweep over ``n`` masks all but the first ``n`` rows, so the data sets of a sweep are nested.
The network's forward pass is in ``network``, the prior in ``prior``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from . import jaxexpr
from ..language import symbolic as sy
from ..language.check import CheckedSpec
from ..language.layout import NetworkLayout
from .network import activation, network_forward_t
from .prior import make_prior
from .target import Context, Target
from .tensor import compile_tensor


@dataclass(frozen=True)
class Compiled:
    """A compiled spec. All functions are pure and unbatched (``vmap`` adds axes).

    - ``target``: what engines sample (see ``target.Target``), functions of ``(params, ctx)``.
    - ``context(value f[], dataset=0) -> Context``: what every target function takes besides
      ``params`` (jitted); ``dataset``: which of the spec's data sets (``data { seeds = K }``:
      0 to K - 1; always 0 otherwise). For a two-dimensional sweep ``value`` is ``f[2]``, a
      grid's cell ``(first sweep value, second)`` (``language.grid.Cell``).
    - ``forward(params f[D], x f[k], value) -> f[o] | f[]``: the model's prediction for one
      input (tensor specs: the Gaussian mean or the logits; ``None`` for other kinds).
    """

    checked: CheckedSpec
    target: Target
    context: Callable
    _lets: dict
    _truth: Callable | None
    _lets_use_sweep: bool = False
    forward: Callable | None = None

    @property
    def phase_names(self) -> tuple[str, ...]:
        return self.target.phase_names

    @property
    def dim(self) -> int:
        return self.target.dim

    def logdensity(self, params, value):
        """Log prior + tempered log-likelihood ``f[]`` (energies: ``log phi - n beta K``)."""
        return self.target.logdensity(params, self.context(value))

    def truth(self, value) -> dict | None:
        """The truth's parameters at a sweep value (networks): ``w f[m,k]``, ``b``, ``q f[m]``,
        ``c f[]`` and the per-node lets ``f[m, ...]``; ``None`` for energies."""
        if self._truth is None:
            return None
        return {k: np.asarray(v) for k, v in self._truth(jnp.asarray(value, jnp.float32)).items()}

    @property
    def datasets(self) -> int:
        """How many data sets every sweep point is sampled on (``data { seeds = K }``)."""
        source = self.checked.data_source
        return 1 if source is None else source.seeds

    def dataset(self, value, dataset: int = 0):
        """``(x f[N, k], y f[N])`` at a sweep value (networks only)."""
        ctx = self.context(jnp.asarray(value, jnp.float32), dataset)
        return np.asarray(ctx.xt).T, np.asarray(ctx.y)

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
    if checked.kind == "tensor":
        target, context, forward = compile_tensor(checked, _sweep_leaves(checked),
                                                  _data_size(checked))
        return Compiled(checked=checked, target=target, _lets={}, _truth=None,
                        context=context, forward=forward)
    symbol_index = {s: i for i, s in enumerate(checked.symbols)}
    leaves = {s: (lambda env, i=i: env[0][i]) for s, i in symbol_index.items()}
    leaves.update(_sweep_leaves(checked))

    def of_value(expr):
        fn = jaxexpr.scalar_fn(sp.sympify(expr), leaves)
        return lambda value: fn((jnp.zeros((1,), jnp.asarray(value).dtype), value))

    perms = _node_permutations(checked)
    lower = np.array([s.lower for s in checked.slots for _ in range(s.size)], float)
    upper = np.array([s.upper for s in checked.slots for _ in range(s.size)], float)
    logprior, init = make_prior(checked.prior, lower, upper)
    lets = {name: _batched(_stack_nodes([jaxexpr.value_fn(v, leaves) for v in values]))
            for name, values in checked.node_lets.items()}
    swept = {checked.sweep_symbol} | ({checked.grid.symbol} if checked.grid else set())
    lets_use_sweep = any(swept & sy.free_symbols(v)
                         for values in checked.node_lets.values() for v in values)
    build = _energy_model if checked.kind == "energy" else _network_model
    loglik, context, truth_fn = build(checked, leaves, of_value)
    target = Target(
        dim=checked.dim, logprior=logprior, loglik=loglik, init=init, lower=lower,
        upper=upper, phase_names=checked.phase_names,
        indicators=_stacked([jaxexpr.pred_fn(p, leaves, perms) for _, p in checked.phases],
                            bool),
        margins=_stacked([jaxexpr.margin_fn(p, leaves, perms) for _, p in checked.phases],
                         None))
    jitted = jax.jit(context)
    return Compiled(checked=checked, target=target,
                    context=lambda value, dataset=0: jitted(value, dataset),
                    _lets=lets, _truth=(jax.jit(truth_fn) if truth_fn and checked.network.data is None
                                        else None),
                    _lets_use_sweep=lets_use_sweep)


def _energy_model(checked: CheckedSpec, leaves: dict, of_value):
    """``(loglik, context, None)`` of an energy spec: ``loglik = -n beta K(w)``."""
    beta, n = of_value(checked.beta), of_value(checked.n)
    energy = jaxexpr.scalar_fn(checked.energy, leaves)

    def loglik(params, ctx):
        value = ctx.value
        return -n(value) * beta(value) * energy((params, value))

    def context(value, dataset=0):
        return Context(value=jnp.asarray(value, jnp.float32))

    return loglik, context, None


def _network_model(checked: CheckedSpec, leaves: dict, of_value):
    """``(loglik, context, truth_fn)`` of a network spec: the tempered Gaussian likelihood
    of the data (from the truth plus noise, or a file; ``context(value, dataset)`` holds
    ``xt f[k, N]``, ``y f[N]`` and the mask of the first ``n`` rows) and the truth's
    parameters and lets at a sweep value (``{}`` for a data file)."""
    beta, n = of_value(checked.beta), of_value(checked.n)
    net = checked.network
    d, k = net.width, net.inputs
    truth_layout = NetworkLayout(net.truth_width, k)
    act, truth_act = activation(net.activation), activation(net.truth_activation)
    size = _data_size(checked)
    inputs, unit_noise = _data_sets(net, size)  # f[K, N, k], f[K, N]
    truth_flat = [x for w in net.truth_w for x in w] + list(net.truth_b) + list(net.truth_q) + [net.truth_c]
    truth_vec = [of_value(x) for x in truth_flat]
    noise = of_value(net.noise)
    m = net.truth_width
    const_n = not checked.n.free_symbols
    file_y = None if net.data is None else net.data.y[:size].astype(np.float32)

    def truth_params(value):
        return jnp.stack([f(value) for f in truth_vec])

    def context(value, dataset=0):
        value = jnp.asarray(value, jnp.float32)
        xt = jnp.asarray(inputs.transpose(0, 2, 1))[dataset]
        if file_y is not None:
            y = jnp.asarray(file_y)
        else:
            y = (network_forward_t(truth_params(value), xt, m, k, truth_act)
                 + noise(value) * jnp.asarray(unit_noise)[dataset])
        mask = jnp.ones((size,), jnp.float32) if const_n else (jnp.arange(size) < n(value)).astype(jnp.float32)
        return Context(value=value, xt=xt, y=y, mask=mask)

    def loglik(params, ctx):
        value = ctx.value
        sigma2 = noise(value) ** 2
        resid = ctx.y - network_forward_t(params, ctx.xt, d, k, act)
        per_point = -0.5 * resid ** 2 / sigma2 - 0.5 * jnp.log(2 * math.pi * sigma2)
        if const_n:
            return beta(value) * jnp.sum(per_point)
        return beta(value) * jnp.sum(ctx.mask * per_point)

    truth_leaves = _sweep_leaves(checked)
    truth_lets = {name: _stack_nodes([jaxexpr.value_fn(v, truth_leaves) for v in values])
                  for name, values in net.truth_lets.items()}

    def truth_fn(value):
        if not truth_vec:  # a data file: no truth
            return {}
        p = truth_params(value)
        out = dict(zip("wbqc", truth_layout.split(p)))
        for name, fn in truth_lets.items():
            out[name] = fn((p, value))
        return out

    return loglik, context, truth_fn


def _stacked(fns, empty_dtype):
    """``(params f[D], ctx) -> [P]``: the phases' functions ``fns`` of ``env`` stacked
    (``P = 0``: an empty array of ``empty_dtype``, the params' dtype where None)."""
    def stacked(params, ctx):
        env = (params, ctx.value)
        if not fns:
            return jnp.zeros((0,), empty_dtype or params.dtype)
        return jnp.stack([f(env) for f in fns])

    return stacked


def _data_sets(net, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The inputs ``f32[K, N, k]`` and unit noise ``f32[K, N]`` of every data set: data set
    ``j`` from ``default_rng(seed + j)`` (inputs, then noise: data set 0 is the one a spec
    without ``seeds`` gets); with a data file, its first ``N`` rows (``K = 1``, no noise)."""
    if net.data is not None:
        return (net.data.x[None, :size].astype(np.float32),
                np.zeros((1, size), np.float32))
    kind, a, b = net.x_dist
    inputs, noise = [], []
    for seed in net.data_seeds:
        rng = np.random.default_rng(seed)
        inputs.append((rng.uniform(a, b, size=(size, net.inputs)) if kind == "uniform"
                       else rng.normal(a, b, size=(size, net.inputs))).astype(np.float32))
        noise.append(rng.standard_normal(size).astype(np.float32))
    return np.stack(inputs), np.stack(noise)


def _batched(fn):
    """``fn(env)`` as a jitted ``(params f[B, D], value f[]) -> f[B, ...]``."""
    return jax.jit(jax.vmap(lambda p, v: fn((p, v)), in_axes=(0, None)))


def _stack_nodes(fns):
    return lambda env: jnp.stack([f(env) for f in fns])


def _sweep_leaves(checked: CheckedSpec) -> dict:
    """How the sweep variables are read from an expression's environment ``(params,
    value)``: ``value`` itself, or for a grid ``value[0]`` and ``value[1]`` (its cell)."""
    if checked.grid is None:
        return {checked.sweep_symbol: lambda env: env[1]}
    return {checked.sweep_symbol: lambda env: env[1][0],
            checked.grid.symbol: lambda env: env[1][1]}


def _data_size(checked: CheckedSpec) -> int:
    """Rows of the dataset: ``n``, or its largest value over the sweep (over every cell of a
    grid; then masked: each point uses the first ``n`` rows, so the data are nested)."""
    if not checked.n.free_symbols:
        return int(round(float(checked.n)))
    values = [float(checked.n.subs(checked.substitution(v))) for v in checked.sweep_points()]
    return int(round(max(values)))


def _node_permutations(checked: CheckedSpec) -> np.ndarray | None:
    """``int32[d!, D]``: the parameter indices under each permutation of the model's nodes
    (``NetworkLayout.permutations``); ``None`` for energies."""
    if checked.layout is None or not any(_symmetric(p) for _, p in checked.phases):
        return None  # d! permutations only where a phase asks for them (width <= 8 there)
    return checked.layout.permutations()


def _symmetric(p) -> bool:
    """Whether the condition ``p`` uses ``symmetric``."""
    if isinstance(p, sy.Symmetric):
        return True
    if isinstance(p, (sy.AllOf, sy.AnyOf)):
        return any(_symmetric(x) for x in p.items)
    if isinstance(p, sy.NotP):
        return _symmetric(p.item)
    if isinstance(p, sy.Region):
        return _symmetric(p.relation)
    return False
