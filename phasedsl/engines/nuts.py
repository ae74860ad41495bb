"""The ``nuts`` engine: BlackJAX window adaptation + NUTS.

One compiled function does everything for one sweep point: per chain (``fold_in(key, chain)``)
a prior draw from ``target.init``, Stan's windowed adaptation of step size and diagonal inverse
mass matrix (``blackjax.window_adaptation``, one adaptation per chain), then ``draws`` NUTS
transitions in a ``lax.scan`` that also evaluates the phase indicators and the log density of
every draw. Sampling happens in the unconstrained coordinates of the prior's box
(``phasedsl.engines.base.Box``); draws are returned in the original coordinates.

How the chains run (``chain_method``). Every chain has its own key either way, so all three
sample the same posterior; the first two share the per-chain randomness, but batched and
unbatched code round differently in float32, and NUTS trajectories amplify that, so the draws
themselves differ between methods.

- ``"vectorized"``: ``vmap`` over chains. Chains under ``vmap`` move in lockstep, so every
  NUTS transition costs the longest of the chains' trajectories (on PT1's 88 chains and on
  an H200: ``benchmarks/README.md``).
- ``"sequential"``: ``lax.map`` over chains, one after the other in the same compiled call.
  On a CPU a batched gradient costs about the sum of the single ones, so lockstep only wastes
  work (PT1's steps and times by method: ``benchmarks/README.md``, "Chain method"). The
  default on CPU.
- ``"flat"``: all chains in one loop whose every iteration is one leapfrog step of every
  chain, each chain at its own place in its own transition (``phasedsl.engines.flat_nuts``):
  no chain waits for another; the loop lasts as long as the busiest chain
  (``benchmarks/README.md``, "Flat chains"). The same NUTS and warmup; its random numbers are drawn
  differently. The default on accelerators (``phasedsl.engines.devices.chain_method_for``).

``NutsEngine.run_many`` samples several sweep points in one compiled call (their chains batched
by ``chain_method``, split across devices where JAX sees several: ``phasedsl.engines.many``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import jax
import jax.numpy as jnp
import blackjax
from blackjax.adaptation.base import get_filter_adapt_info_fn
from blackjax.mcmc.hmc import HMCState

from phasedsl.engines import ticks
from phasedsl.engines.devices import default_chain_method
from phasedsl.engines.flat_nuts import build_flat_chains
from phasedsl.engines.many import METHODS, ManyCaller, stacked
from phasedsl.engines.outputs import ChainOutput
from phasedsl.engines.base import (
    CompiledCache,
    TimedRun,
    settings_with_defaults,
    unconstrained,
)
from phasedsl.language.settings import defaults
from phasedsl.language.traits import TRAITS
from phasedsl.lower.target import Draws, Target
from phasedsl.lower.run_info import NutsInfo

__all__ = ["CHAIN_METHODS", "DEFAULTS", "NutsEngine", "build_chain", "build_nuts", "chain_keys",
           "draw_record", "window_warmup"]

# every key, its default, bounds and meaning: phasedsl.language.settings.TABLE["nuts"]
DEFAULTS = defaults("nuts", arguments_only=True)

CHAIN_METHODS = METHODS + ("flat",)  # also run_many's methods
TICKS = 20  # progress ticks per chain in each of warmup and draws (phasedsl.engines.ticks)


def chain_keys(key, chains: int):
    """``chains`` keys of one sweep point, ``fold_in(key, c)``: the same in ``run`` and
    ``run_many``."""

    return jax.vmap(lambda c: jax.random.fold_in(key, c))(jnp.arange(chains))


class _Counted:
    """``blackjax.nuts`` whose states count the transitions (``count``, from a constant 0, so
    never batched) and whose kernel reports a tick after each due one: how warmup, which
    BlackJAX runs in a loop of its own, reports its progress. The NUTS computation is
    BlackJAX's, untouched."""

    def __init__(self, report):
        self._report = report  # count after the transition -> None

    @staticmethod
    def init(position, logdensity_fn):

        return _CountedState(*blackjax.nuts.init(position, logdensity_fn), jnp.int32(0))

    def build_kernel(self, *args, **kwargs):

        kernel = blackjax.nuts.build_kernel(*args, **kwargs)

        def counted(key, state, logdensity_fn, step_size, inverse_mass_matrix, **params):
            plain = HMCState(state.position, state.logdensity, state.logdensity_grad)
            new, info = kernel(key, plain, logdensity_fn, step_size, inverse_mass_matrix,
                               **params)
            count = state.count + 1
            self._report(count)
            return _CountedState(*new, count), info

        return counted


class _CountedState(NamedTuple):
    position: Any
    logdensity: Any
    logdensity_grad: Any
    count: Any


def window_warmup(key, z0, logdensity, *, warmup: int, target_accept: float, max_depth: int,
                  report=None):
    """``(state, step_size f[], inverse_mass_matrix f[D], warmup_steps i[])``: BlackJAX's
    window adaptation of one chain from ``z0 f[D]`` (``blackjax.window_adaptation``, ``warmup``
    NUTS transitions; with none, its state at ``z0``, step size 1 and unit mass). ``report(n)``:
    called after each warmup transition ``n`` (1-based), for progress ticks; ``None``: no
    reports (plain ``blackjax.nuts``)."""

    if warmup == 0:  # what the adaptation gives after no step (BlackJAX cannot run zero steps)
        return (blackjax.nuts.init(z0, logdensity), jnp.asarray(1.0, z0.dtype),
                jnp.ones_like(z0), jnp.int32(0))
    adaptation = blackjax.window_adaptation(
        _Counted(report) if report is not None else blackjax.nuts,
        logdensity,
        target_acceptance_rate=target_accept,
        # keep only what we report; the default stores every warmup state
        adaptation_info_fn=get_filter_adapt_info_fn(info_keys={"num_integration_steps"}),
        max_num_doublings=max_depth,
    )
    (state, parameters), warm_info = adaptation.run(key, z0, num_steps=warmup)
    return (HMCState(state.position, state.logdensity, state.logdensity_grad),
            parameters["step_size"], parameters["inverse_mass_matrix"],
            jnp.sum(warm_info.info.num_integration_steps))


def draw_record(target: Target, zt, ctx, state, info) -> tuple:
    """One draw's row of ``ChainOutput`` (``x f[D]``, ``ind bool[P]``, ``logdensity f[]``,
    ``divergent bool[]``, ``steps i[]``, ``accept f[]``) from a NUTS ``state`` (in the
    unconstrained coordinates of ``zt``) and the transition's ``info``."""

    x = zt.to_x(state.position)
    return (
        x,
        jnp.asarray(target.indicators(x, ctx), dtype=bool),
        # the state carries the z-space density: drop the Jacobian, no re-evaluation
        state.logdensity - zt.log_jacobian(state.position),
        info.is_divergent,
        info.num_integration_steps,
        info.acceptance_rate,
    )


def build_chain(target: Target, *, draws: int, warmup: int, target_accept: float,
                max_depth: int):
    """The pure function ``(chain_key, ctx, chain=0) -> ChainOutput`` of one chain: a prior
    draw, window adaptation, then ``draws`` NUTS transitions (``phasedsl.engines.outputs``: ``x
    f[S,D]``, ``ind bool[S,P]``, ``logdensity f[S]``, ``divergent bool[S]``, ``steps i[S]``,
    ``accept f[S]``, ``step_size f[]``, ``warmup_steps i[]``). ``chain``: the chain's number
    within its point, for progress ticks (``phasedsl.engines.ticks``: ``TICKS`` in each of
    warmup and draws, when the program is traced for them).
    """

    zt = unconstrained(target)
    kernel = blackjax.nuts.build_kernel()
    total = warmup + draws
    # about 20 ticks in each of warmup and draws: a callback costs a thread handoff on the
    # host (~0.1 ms on an idle CPU, ~1 ms on an oversubscribed one), 1% each was measured to
    # cost PT1 --quick 10-15% of its sampling time on a loaded 2-core machine
    k_warm, k_draws = ticks.every(warmup, TICKS), ticks.every(draws, TICKS)
    source = ticks.Source("nuts", total=total, warmup=warmup)

    def one_chain(chain_key, ctx, chain=0):
        k_init, k_warm_key, k_draw = jax.random.split(chain_key, 3)
        point = ticks.point_of(ctx)
        reports = ticks.tracing()

        def report(done, when, divergences=0):
            ticks.tick(source, point=point, chain=chain, done=done, divergences=divergences,
                       when=when)

        def logdensity(z):
            return zt.logdensity(z, ctx)

        z0 = zt.to_z(jnp.asarray(target.init(k_init, ctx)))
        state, step_size, inverse_mass_matrix, warmup_steps = window_warmup(
            k_warm_key, z0, logdensity, warmup=warmup, target_accept=target_accept,
            max_depth=max_depth,
            report=(lambda n: report(n, ticks.due(n, k_warm, warmup))) if reports else None)

        def step(state, key):
            state, info = kernel(key, state, logdensity, step_size, inverse_mass_matrix,
                                 max_num_doublings=max_depth)
            return state, draw_record(target, zt, ctx, state, info)

        def reporting_step(carry, item):  # the same step, counting divergences for ticks
            (state, divergences), (i, key) = carry, item
            state, out = step(state, key)
            divergences = divergences + out[3].astype(jnp.int32)
            report(warmup + i + 1, ticks.due(i + 1, k_draws, draws), divergences)
            return (state, divergences), out

        keys = jax.random.split(k_draw, draws)
        if reports:
            _, outs = jax.lax.scan(reporting_step, (state, jnp.int32(0)),
                                   (jnp.arange(draws, dtype=jnp.int32), keys))
        else:
            _, outs = jax.lax.scan(step, state, keys)
        return ChainOutput(*outs, step_size, warmup_steps)

    return one_chain


def build_nuts(target: Target, *, chains: int, draws: int, warmup: int, target_accept: float,
               max_depth: int, chain_method: str = "vectorized"):
    """The pure function ``(key, ctx) -> ChainOutput`` that the engine compiles for one point:
    ``build_chain``'s record with a leading ``[chains]`` axis (``x f[C,S,D]``, ...)."""

    chain = {"draws": draws, "warmup": warmup, "target_accept": target_accept,
             "max_depth": max_depth}
    one_chain = build_chain(target, **chain)
    flat = build_flat_chains(target, **chain)

    def run(key, ctx):
        keys = chain_keys(key, chains)
        numbers = jnp.arange(chains, dtype=jnp.int32)  # each chain's, for progress ticks
        if chain_method == "flat":
            return flat(keys, jax.tree.map(lambda a: jnp.broadcast_to(a, (chains,) + a.shape),
                                           ctx), numbers)
        if chain_method == "sequential":
            return jax.lax.map(lambda kc: one_chain(kc[0], ctx, kc[1]), (keys, numbers))
        return jax.vmap(one_chain, in_axes=(0, None, 0))(keys, ctx, numbers)

    return run


class NutsEngine(TimedRun):
    """``make_engine("nuts", target, settings)``; settings and defaults in ``DEFAULTS``."""

    name = "nuts"
    DEFAULTS = DEFAULTS
    traits = TRAITS["nuts"]  # run_many's unit of work is one chain of one point

    def __init__(self, target: Target, settings: dict):
        self.target = target
        self.settings = settings_with_defaults(DEFAULTS, settings)
        s = self.settings
        if s["chains"] < 1 or s["draws"] < 1 or s["warmup"] < 0:
            raise ValueError("nuts needs chains >= 1, draws >= 1, warmup >= 0")
        if not 0.0 < s["target_accept"] < 1.0:
            raise ValueError("nuts target_accept must lie in (0, 1)")
        # an execution setting (the spec, --set or --chain-method; by machine when absent):
        # it changes the draws, not their distribution, so it is not part of the run key
        self.chain_method = settings.get("chain_method") or default_chain_method()
        if self.chain_method not in CHAIN_METHODS:
            raise ValueError(f"nuts chain_method must be one of {CHAIN_METHODS}")
        # run_many's work is split across this many devices (0: all there are)
        self.devices = int(settings.get("devices") or 0)
        self._run_fn = build_nuts(target, **s, chain_method=self.chain_method)
        self._cache = CompiledCache(self._run_fn)
        # run_many's unit of work is one chain of one point, so chains as well as points are
        # spread over devices (4 points x 4 chains keep 16 cores busy)
        chain_settings = {k: v for k, v in s.items() if k != "chains"}
        self._many = ManyCaller(build_chain(target, **chain_settings), self.devices,
                                own_methods={"flat": build_flat_chains(target, **chain_settings)})

    @property
    def traces(self) -> int:
        """How many times a sampling function was traced and compiled (``run`` and
        ``run_many`` compile separately)."""
        return self._cache.traces + self._many.traces

    def run_many(self, keys, ctxs, method: str | None = None) -> list[Draws]:
        """Sample ``V`` sweep points in one compiled call; one ``Draws`` per point.

        ``keys``: ``V`` PRNG keys (or int seeds), as a list or a stacked key array; ``ctxs``: a
        list of ``V`` contexts or one context pytree stacked along a leading ``V`` axis
        (``phasedsl.engines.many.stack_contexts``). ``method``: ``"vectorized"`` (``vmap``
        over points: for GPUs), ``"flat"`` (all chains of all points in one flat loop:
        ``phasedsl.engines.flat_nuts``) or ``"sequential"``; default: the engine's
        ``chain_method``. With ``"sequential"`` each point runs ``run(keys[v], ctxs[v])``'s
        computation (its draws can still differ by compiler rounding:
        ``phasedsl.engines.many``); with ``"vectorized"`` they differ by float32 rounding (see
        the module doc). The unit of work is one chain of one
        point: with several devices (``jax.devices()``; ``settings["devices"]`` caps how many)
        the ``V x chains`` chains are split across them, padded to a multiple of their number.
        One compilation serves every ``V`` of the same size; the compile time is reported on
        the first point, and each point's ``sample_s`` is an equal share of the call
        (``info["call_sample_s"]`` is the whole call's).
        """

        keys, ctxs = stacked(keys, ctxs)
        chains = self.settings["chains"]
        items = jax.vmap(lambda k: chain_keys(k, chains))(keys)
        items = items.reshape((-1,) + items.shape[2:])  # [V*C, ...]: point-major
        item_ctxs = jax.tree.map(lambda a: jnp.repeat(a, chains, axis=0), ctxs)
        method = method or self.chain_method
        draws = self._many.run_many(items, item_ctxs, method, self._draws, group=chains)
        # how these chains ran, whatever the engine's default
        return [d._replace(info=d.info.replace(chain_method=method)) for d in draws]

    def _draws(self, out: ChainOutput, compile_s: float, sample_s: float, wall_s: float) -> Draws:
        """``out``: numpy arrays with a leading ``[chains]`` axis."""
        divergent, steps, warmup_steps = out.divergent, out.steps, out.warmup_steps
        grad_evals = int(steps.sum(dtype=np.int64) + warmup_steps.sum(dtype=np.int64))
        info = NutsInfo(
            engine="nuts",
            chain_method=self.chain_method,
            chains=self.settings["chains"],
            draws=self.settings["draws"],
            warmup=self.settings["warmup"],
            divergences=int(divergent.sum()),
            divergences_per_chain=[int(v) for v in divergent.sum(axis=1)],
            steps_per_draw=float(steps.mean()),
            # work of the chains in lockstep (vmap) over the work of each chain alone:
            # sum over draws of the longest chain's steps / of the mean steps (1 = no waste)
            lockstep_factor=float(steps.max(axis=0).sum() / max(steps.mean(axis=0).sum(), 1)),
            acceptance=float(out.accept.mean()),
            grad_evals=grad_evals,
            grad_evals_warmup=int(warmup_steps.sum(dtype=np.int64)),
            # leapfrog steps of each chain, warmup included: a flat batch runs as many loop
            # iterations as its busiest chain has steps
            grad_evals_per_chain=[int(v) for v in
                                  steps.sum(axis=1, dtype=np.int64) + warmup_steps],
            compile_s=compile_s,
            sample_s=sample_s,
            wall_s=wall_s,
            step_size=[float(v) for v in out.step_size],
            max_depth_hits=int((steps >= 2 ** self.settings["max_depth"] - 1).sum()),
        )
        return Draws(
            params=out.x,
            indicators=out.ind,
            logdensity=out.logdensity,
            weights=None,
            method="mcmc",
            info=info,
            divergent=np.asarray(divergent, dtype=bool),
        )
