"""Stan's windowed warmup for one chain, one transition at a time, written with selects:
flat NUTS's adaptation (``phasedsl.engines.flat_nuts``), where a batch of chains at different
transitions adapts together. The schedule and updates are ``blackjax.window_adaptation``'s,
from BlackJAX's own pieces (``dual_averaging_adaptation``, ``mass_matrix_adaptation``,
``build_schedule``)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from blackjax.adaptation.mass_matrix import mass_matrix_adaptation
from blackjax.adaptation.step_size import dual_averaging_adaptation
from blackjax.adaptation.window_adaptation import build_schedule

__all__ = ["Adaptation", "pick", "window_adaptation"]


class Adaptation(NamedTuple):
    """Warmup state of one chain: dual averaging of the step size, Welford estimate of the
    diagonal inverse mass matrix, and the values in force (``step_size f[]``, ``inv_mass
    f[D]``)."""

    da: Any
    mm: Any
    step_size: Any
    inv_mass: Any


def pick(cond, a, b):
    """``a`` where the scalar ``cond`` holds, else ``b``, leaf by leaf (``a`` and ``b`` pytrees
    of one structure)."""

    return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


def window_adaptation(target_accept: float, warmup: int):
    """``(init(dim, dtype) -> Adaptation, step(state, t, z f[D], accept f[]) -> Adaptation)``:
    ``blackjax.window_adaptation``'s schedule and updates for one chain, one transition at a
    time. ``step`` is the update after warmup transition ``t`` (``0 <= t < warmup``) ended at
    ``z`` with acceptance statistic ``accept``: dual averaging always, the Welford estimate in
    slow windows, a new mass matrix and a restarted dual averaging at a slow window's end, and
    after the last warmup transition the averaged step size. Written with selects, not
    branches, so that a batch of chains at different transitions runs it together."""

    da_init, da_update, da_final = dual_averaging_adaptation(target_accept)
    mm_init, mm_update, mm_final = mass_matrix_adaptation(True)
    # (stage, is_window_end) per warmup transition; one dummy row when there is no warmup
    schedule = jnp.asarray(build_schedule(warmup) if warmup > 0 else [[0, 0]], dtype=jnp.int32)

    def init(dim: int, dtype) -> Adaptation:
        da = jax.tree.map(lambda a: jnp.asarray(a, dtype), da_init(jnp.asarray(1.0, dtype)))
        return Adaptation(da._replace(step=jnp.asarray(da.step, jnp.int32)), mm_init(dim),
                          jnp.asarray(1.0, dtype), jnp.ones((dim,), dtype))

    def step(state: Adaptation, t, z, accept) -> Adaptation:
        stage, window_end = schedule[jnp.clip(t, 0, schedule.shape[0] - 1)]
        da = da_update(state.da, accept)
        mm = pick(stage == 1, mm_update(state.mm, z), state.mm)
        step_size = jnp.exp(da.log_step_size)
        inv_mass = state.inv_mass
        # the end of a slow window: new mass matrix, dual averaging restarted from its average
        mm_end = mm_final(mm)
        da_end = da_init(da_final(da))
        da = pick(window_end == 1, da_end, da)
        mm = pick(window_end == 1, mm_end, mm)
        step_size = jnp.where(window_end == 1, jnp.exp(da_end.log_step_size), step_size)
        inv_mass = jnp.where(window_end == 1, mm_end.inverse_mass_matrix, inv_mass)
        # after the last warmup transition: the averaged step size
        last = t == warmup - 1
        step_size = jnp.where(last, da_final(da), step_size)
        inv_mass = jnp.where(last, mm.inverse_mass_matrix, inv_mass)
        new = Adaptation(da, mm, step_size, inv_mass)
        return jax.tree.map(lambda a, b: jnp.asarray(a, b.dtype), new, state)

    return init, step
