"""The ``nuts`` engine: BlackJAX window adaptation + NUTS, chains vectorised with ``vmap``.

One compiled function does everything for one sweep point: per chain (``fold_in(key, chain)``)
a prior draw from ``target.init``, Stan's windowed adaptation of step size and diagonal inverse
mass matrix (``blackjax.window_adaptation``, one adaptation per chain), then ``draws`` NUTS
transitions in a ``lax.scan`` that also evaluates the phase indicators and the log density of
every draw. Sampling happens in the unconstrained coordinates of the prior's box
(``phasedsl.sample.Box``); draws are returned in the original coordinates.
"""

from __future__ import annotations

import time

import numpy as np

from phasedsl.sample import (
    CompiledCache,
    as_arrays,
    as_key,
    settings_with_defaults,
    unconstrained,
)
from phasedsl.target import Draws, Target

__all__ = ["NutsEngine", "DEFAULTS"]

DEFAULTS = {
    "chains": 4,
    "draws": 2000,
    "warmup": 1000,
    "target_accept": 0.8,
    "max_depth": 10,
}


def build_nuts(target: Target, chains: int, draws: int, warmup: int, target_accept: float,
               max_depth: int):
    """The pure function ``(key, ctx) -> outputs`` that the engine compiles.

    Outputs (leading axes ``[chains, draws]``): ``x f[C,S,D]``, ``ind bool[C,S,P]``,
    ``logdensity f[C,S]``, ``divergent bool[C,S]``, ``steps i[C,S]``, ``accept f[C,S]``, and per
    chain ``step_size f[C]``, ``warmup_steps i[C]`` (integration steps spent in warmup).
    """
    import blackjax
    import jax
    import jax.numpy as jnp
    from blackjax.adaptation.base import get_filter_adapt_info_fn

    zt = unconstrained(target)
    kernel = blackjax.nuts.build_kernel()

    def one_chain(chain_key, ctx):
        k_init, k_warm, k_draw = jax.random.split(chain_key, 3)

        def logdensity(z):
            return zt.logdensity(z, ctx)

        z0 = zt.to_z(jnp.asarray(target.init(k_init, ctx)))
        adaptation = blackjax.window_adaptation(
            blackjax.nuts,
            logdensity,
            target_acceptance_rate=target_accept,
            # keep only what we report; the default stores every warmup state
            adaptation_info_fn=get_filter_adapt_info_fn(info_keys={"num_integration_steps"}),
            max_num_doublings=max_depth,
        )
        (state, parameters), warm_info = adaptation.run(k_warm, z0, num_steps=warmup)
        step_size = parameters["step_size"]
        inverse_mass_matrix = parameters["inverse_mass_matrix"]
        warmup_steps = jnp.sum(warm_info.info.num_integration_steps)

        def step(state, key):
            state, info = kernel(key, state, logdensity, step_size, inverse_mass_matrix,
                                 max_num_doublings=max_depth)
            x = zt.to_x(state.position)
            out = (
                x,
                jnp.asarray(target.indicators(x, ctx), dtype=bool),
                # the state carries the z-space density: drop the Jacobian, no re-evaluation
                state.logdensity - zt.log_jacobian(state.position),
                info.is_divergent,
                info.num_integration_steps,
                info.acceptance_rate,
            )
            return state, out

        _, outs = jax.lax.scan(step, state, jax.random.split(k_draw, draws))
        return (*outs, step_size, warmup_steps)

    def run(key, ctx):
        keys = jax.vmap(lambda c: jax.random.fold_in(key, c))(jnp.arange(chains))
        return jax.vmap(one_chain, in_axes=(0, None))(keys, ctx)

    return run


class NutsEngine:
    """``make_engine("nuts", target, settings)``; settings and defaults in ``DEFAULTS``."""

    name = "nuts"
    DEFAULTS = DEFAULTS

    def __init__(self, target: Target, settings: dict):
        self.target = target
        self.settings = settings_with_defaults(DEFAULTS, settings)
        s = self.settings
        if s["chains"] < 1 or s["draws"] < 1 or s["warmup"] < 0:
            raise ValueError("nuts needs chains >= 1, draws >= 1, warmup >= 0")
        if not 0.0 < s["target_accept"] < 1.0:
            raise ValueError("nuts target_accept must lie in (0, 1)")
        self._cache = CompiledCache(build_nuts(target, **s))

    @property
    def traces(self) -> int:
        """How many times the sampling function was traced and compiled."""
        return self._cache.traces

    def run(self, key, ctx) -> Draws:
        import jax

        t0 = time.perf_counter()
        args = (as_key(key), as_arrays(ctx))
        out, compile_s = self._cache.call(*args)
        out = jax.block_until_ready(out)
        sample_s = time.perf_counter() - t0 - compile_s
        x, ind, logdensity, divergent, steps, accept, step_size, warmup_steps = (
            np.asarray(a) for a in out
        )
        wall_s = time.perf_counter() - t0
        grad_evals = int(steps.sum(dtype=np.int64) + warmup_steps.sum(dtype=np.int64))
        info = {
            "engine": "nuts",
            "chains": self.settings["chains"],
            "draws": self.settings["draws"],
            "warmup": self.settings["warmup"],
            "divergences": int(divergent.sum()),
            "divergences_per_chain": [int(v) for v in divergent.sum(axis=1)],
            "steps_per_draw": float(steps.mean()),
            "acceptance": float(accept.mean()),
            "grad_evals": grad_evals,
            "grad_evals_warmup": int(warmup_steps.sum(dtype=np.int64)),
            "compile_s": compile_s,
            "sample_s": sample_s,
            "wall_s": wall_s,
            "grad_evals_per_s": grad_evals / sample_s if sample_s > 0 else float("nan"),
            "step_size": [float(v) for v in step_size],
            "max_depth_hits": int((steps >= 2 ** self.settings["max_depth"] - 1).sum()),
        }
        return Draws(
            params=x,
            indicators=ind,
            logdensity=logdensity,
            weights=None,
            method="mcmc",
            info=info,
        )
