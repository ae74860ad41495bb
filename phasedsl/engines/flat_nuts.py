"""NUTS for many chains at once, none waiting for another ("flat" batching).

Under ``vmap`` BlackJAX's NUTS runs its chains in lockstep: every transition lasts as long as
the longest trajectory among the chains, and every tree doubling as long as the longest
subtree. On PT1 with 88 chains (22 sweep values x 4) that multiplies the leapfrog steps the
batch executes by several times what the chains need, and on a GPU, where one batched
leapfrog step costs about what a single one does, wall time follows the executed steps.

Here the loop is flat: one iteration of a single ``while_loop`` is one leapfrog step for every
chain, and each chain carries its own place in its own NUTS transition (which doubling, which
step of the subtree, its proposal, its U-turn checkpoints, its warmup adaptation). A chain whose
trajectory ends starts its next transition in the next iteration. The batch runs as many
iterations as the busiest chain needs leapfrog steps in total (warmup and draws), instead of
the sum over transitions of the longest trajectory. The program-counter idea is that of
Radul et al., "Automatically batching control flow in probabilistic programming" (2020).

The transition is BlackJAX's iterative NUTS (``blackjax.nuts``, 1.x): velocity Verlet with a
diagonal inverse mass matrix, multinomial sampling of the proposal (uniform within a subtree,
biased towards the new subtree between doublings), NumPyro's iterative generalised U-turn
criterion inside subtrees with its checkpoints, the U-turn check of the merged trajectory
after each doubling, divergence at an energy error above 1,000, at most ``max_depth``
doublings. Warmup is Stan's windowed adaptation as ``blackjax.window_adaptation`` does it,
from BlackJAX's own pieces (``dual_averaging_adaptation``, ``mass_matrix_adaptation``,
``build_schedule``), applied by each chain when its transition ends. So each chain is a NUTS
chain of the same posterior as ``phasedsl.engines.nuts.build_chain``'s; only the random numbers are
drawn differently (one counter-based key per chain and leapfrog step), so the draws differ.
A chain's draws do not depend on the other chains in the batch, since its randomness is keyed
by its own key and step count; they can depend on the batch's width through float rounding
(on a CPU XLA vectorises a batch of 12 chains otherwise than one of 4 or 8).

The cost of the flat loop: every iteration does every chain's bookkeeping (subtree merge,
transition end, adaptation, recording a draw) under masks, where lockstep NUTS does each only
when it happens; chains that are done keep stepping, recording nothing, until the busiest one
is done. On a GPU, where a step of a few hundred chains is bound by kernel launches, not
arithmetic, the body is written for few kernels: one output buffer (one row written per
step), one checkpoint buffer, the last transition's statistics kept as scalars in the carry
and the draw recorded from the new carry only (reading the old one after it is overwritten
makes XLA copy it every step), one draw of random numbers per step. Compiled for an H200
(``benchmarks/gpu_kernels.py``) a flat step launches 17 kernels, its loop's condition included
(32 before this was done), against 22 per leapfrog step of BlackJAX's NUTS under ``vmap``
(``benchmarks/README.md``, "Flat chains").

One chain's state and its one-step kernel are ``phasedsl.engines.flat_nuts_kernel`` (``init``,
``step``, ``running``, ``finish`` over a ``Chain``), its warmup
``phasedsl.engines.window_adaptation``; ``build_flat_chains`` here runs them for a batch of
chains in one loop, with progress ticks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from phasedsl.engines import ticks
from phasedsl.engines.base import unconstrained
from phasedsl.engines.window_adaptation import window_adaptation
from phasedsl.lower.target import Target

__all__ = ["build_flat_chains"]


def build_flat_chains(target: Target, *, draws: int, warmup: int, target_accept: float,
                      max_depth: int):
    """The pure function ``(chain_keys [W], ctxs [W, ...], numbers i[W] = None) ->
    ChainOutput`` of ``W`` NUTS chains run flat (module doc); ``ctxs`` is stacked along the
    chain axis (one context per chain); ``numbers``: each chain's within its point, for
    progress ticks (``phasedsl.engines.ticks``: one per chain every ``8 * every(warmup +
    draws)`` loop iterations, when the program is traced for them). The record is
    ``phasedsl.engines.nuts.build_chain``'s with a leading ``[W]`` axis: ``x f[W,S,D]``,
    ``ind bool[W,S,P]``, ..., ``step_size f[W]``, ``warmup_steps i[W]``.
    """

    from phasedsl.engines import flat_nuts_kernel as fk

    kernel = fk.FlatKernel(target, unconstrained(target),
                           *window_adaptation(target_accept, warmup), draws=draws,
                           warmup=warmup, max_depth=max_depth)
    # loop iterations (leapfrog steps of every chain) between progress ticks: about 1% of the
    # transitions at 8 steps each (the loop's length is not known ahead)
    block_steps = 8 * ticks.every(kernel.total)
    source = ticks.Source("nuts", total=kernel.total, warmup=warmup)

    def steps(co, ctxs):
        return jax.vmap(lambda c, out, ctx: fk.step(kernel, ctx, c, out))(*co, ctxs)

    def reported_blocks(co, ctxs, numbers):
        """The same steps in blocks of ``block_steps`` loop iterations, a tick per chain
        after each block (no per-iteration cost beyond the inner loop's counter)."""
        points = jax.vmap(ticks.point_of)(ctxs)

        def block(co):
            co, _ = jax.lax.while_loop(
                lambda cob: (cob[1] < block_steps) & jnp.any(fk.running(kernel, cob[0][0])),
                lambda cob: (steps(cob[0], ctxs), cob[1] + 1), (co, jnp.int32(0)))
            c, out = co
            ticks.tick(source, point=points, chain=numbers, done=jnp.minimum(c.t, kernel.total),
                       divergences=jnp.sum(out.rows[:, :, target.dim + 1] > 0, axis=1))
            return co

        return jax.lax.while_loop(lambda co: jnp.any(fk.running(kernel, co[0])), block, co)

    def run(chain_keys, ctxs, numbers=None):
        """``numbers i[W]``: each chain's number within its point, for progress ticks
        (default ``0..W-1``)."""
        chains, outs = jax.vmap(lambda k, ctx: fk.init(kernel, k, ctx))(chain_keys, ctxs)
        # a chain that is done steps on harmlessly until the busiest one is: it records nothing
        if ticks.tracing():
            if numbers is None:
                numbers = jnp.arange(chain_keys.shape[0], dtype=jnp.int32)
            chains, outs = reported_blocks((chains, outs), ctxs, numbers)
        else:
            chains, outs = jax.lax.while_loop(
                lambda co: jnp.any(fk.running(kernel, co[0])),
                lambda co: steps(co, ctxs),
                (chains, outs))
        return jax.vmap(lambda c, out, ctx: fk.finish(kernel, ctx, c, out))(chains, outs, ctxs)

    return run
