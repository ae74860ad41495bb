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
"""

from __future__ import annotations

from typing import Any, NamedTuple

from phasedsl.engines import ticks
from phasedsl.engines.base import unconstrained
from phasedsl.engines.outputs import ChainOutput
from phasedsl.lower.target import Target

__all__ = ["Adaptation", "build_flat_chains", "window_adaptation"]

DIVERGENCE_THRESHOLD = 1000.0


class Point(NamedTuple):
    """A point of a trajectory: position ``z f[D]``, momentum ``p f[D]``, log density ``l
    f[]`` and its gradient ``g f[D]``."""

    z: Any
    p: Any
    l: Any
    g: Any


class Proposal(NamedTuple):
    """A multinomial proposal: its point (position, log density, gradient), its energy, the
    log of the summed weights ``exp(H0 - H)`` of the states it stands for, and the log of the
    summed acceptance probabilities ``min(1, exp(H0 - H))``."""

    z: Any
    l: Any
    g: Any
    energy: Any
    weight: Any
    sum_log_accept: Any


class Chain(NamedTuple):
    """Everything one chain carries between leapfrog steps (all unbatched; ``vmap`` adds the
    chain axis). ``K`` = ``max_depth``, ``S`` = draws."""

    key: Any  # PRNG key of the chain's transitions
    count: Any  # i[]: leapfrog steps taken (keys the step's random numbers)
    t: Any  # i[]: transitions finished (warmup first)
    state: Point  # the chain's state (start of the current transition; p unused)
    # adaptation
    da: Any  # dual averaging state of the step size
    mm: Any  # mass matrix adaptation state
    step_size: Any  # f[]
    inv_mass: Any  # f[D]
    # the current transition
    h0: Any  # f[]: energy at its start
    left: Point
    right: Point
    rho: Any  # f[D]: summed momenta of the trajectory (initial state included)
    n: Any  # i[]: leapfrog steps in the trajectory
    prop: Proposal
    depth: Any  # i[]: doublings done
    direction: Any  # f[]: +1 or -1, of the doubling being built
    # the subtree being built
    j: Any  # i[]: steps taken in it
    current: Point  # its last point (where the next leapfrog starts)
    sub_prop: Proposal
    sub_rho: Any  # f[D]
    sub_n: Any  # i[]
    ckpt: Any  # f[K, 2, D]: NumPyro's iterative U-turn checkpoints: momenta, momentum sums
    # the last finished transition (scalars, not one array: an array would be one more kernel)
    last_divergent: Any  # f[]: 0 or 1
    last_steps: Any  # f[]: its leapfrog steps (exact in float32)
    last_accept: Any  # f[]: its acceptance statistic


class Outputs(NamedTuple):
    """What one chain records (kept apart from ``Chain`` so that the per-step selects never
    touch the ``[S, ...]`` buffer: each step writes at most one row in place, and one buffer
    is one write per step on a GPU, where each is a kernel launch)."""

    warmup_steps: Any  # i[]: leapfrog steps of warmup
    rows: Any  # f[S, D + 4]: per draw its position z (unconstrained), log density (of z),
    #            divergent (0/1), leapfrog steps (exact in float32) and acceptance statistic


def _random_numbers(key, dim: int, dtype):
    """``(normal f[D], uniform f[3])``, independent standard normals and uniforms on (0, 1),
    from one draw of ``D + 3`` uniforms (one random-bits computation per leapfrog step
    instead of one per kind and a key split). The normals are ``jax.random.normal``'s
    transform: sqrt(2) erfinv(u) of u uniform on (-1, 1)."""
    import jax
    import jax.numpy as jnp

    lo = jnp.nextafter(jnp.asarray(-1.0, dtype), jnp.asarray(0.0, dtype))
    u = jax.random.uniform(key, (dim + 3,), dtype, minval=lo, maxval=1.0)
    return jnp.sqrt(jnp.asarray(2.0, dtype)) * jax.lax.erf_inv(u[:dim]), (u[dim:] + 1) / 2


def _pick(cond, a, b):
    """``a`` where the scalar ``cond`` holds, else ``b``, leaf by leaf."""
    import jax
    import jax.numpy as jnp

    return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


def _is_turning(inv_mass, p_left, p_right, rho):
    """BlackJAX's generalised U-turn criterion for a diagonal metric (``rho`` includes both
    end momenta)."""
    import jax.numpy as jnp

    r = rho - (p_left + p_right) / 2
    return (jnp.dot(inv_mass * p_left, r) <= 0) | (jnp.dot(inv_mass * p_right, r) <= 0)


def _checkpoint_range(j):
    """NumPyro's checkpoint indices ``(idx_min, idx_max)`` for step ``j`` of a subtree."""
    import jax.numpy as jnp

    idx_max = jnp.bitwise_count(j >> 1).astype(jnp.int32)
    num_subtrees = jnp.bitwise_count((~j & (j + 1)) - 1).astype(jnp.int32)
    return idx_max - num_subtrees + 1, idx_max


class Adaptation(NamedTuple):
    """Warmup state of one chain: dual averaging of the step size, Welford estimate of the
    diagonal inverse mass matrix, and the values in force (``step_size f[]``, ``inv_mass
    f[D]``)."""

    da: Any
    mm: Any
    step_size: Any
    inv_mass: Any


def window_adaptation(target_accept: float, warmup: int):
    """``(init(dim, dtype) -> Adaptation, step(state, t, z f[D], accept f[]) -> Adaptation)``:
    ``blackjax.window_adaptation``'s schedule and updates for one chain, one transition at a
    time. ``step`` is the update after warmup transition ``t`` (``0 <= t < warmup``) ended at
    ``z`` with acceptance statistic ``accept``: dual averaging always, the Welford estimate in
    slow windows, a new mass matrix and a restarted dual averaging at a slow window's end, and
    after the last warmup transition the averaged step size. Written with selects, not
    branches, so that a batch of chains at different transitions runs it together."""
    import jax
    import jax.numpy as jnp
    from blackjax.adaptation.mass_matrix import mass_matrix_adaptation
    from blackjax.adaptation.step_size import dual_averaging_adaptation
    from blackjax.adaptation.window_adaptation import build_schedule

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
        mm = _pick(stage == 1, mm_update(state.mm, z), state.mm)
        step_size = jnp.exp(da.log_step_size)
        inv_mass = state.inv_mass
        # the end of a slow window: new mass matrix, dual averaging restarted from its average
        mm_end = mm_final(mm)
        da_end = da_init(da_final(da))
        da = _pick(window_end == 1, da_end, da)
        mm = _pick(window_end == 1, mm_end, mm)
        step_size = jnp.where(window_end == 1, jnp.exp(da_end.log_step_size), step_size)
        inv_mass = jnp.where(window_end == 1, mm_end.inverse_mass_matrix, inv_mass)
        # after the last warmup transition: the averaged step size
        last = t == warmup - 1
        step_size = jnp.where(last, da_final(da), step_size)
        inv_mass = jnp.where(last, mm.inverse_mass_matrix, inv_mass)
        new = Adaptation(da, mm, step_size, inv_mass)
        return jax.tree.map(lambda a, b: jnp.asarray(a, b.dtype), new, state)

    return init, step


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
    import jax
    import jax.numpy as jnp

    zt = unconstrained(target)
    dim = target.dim
    total = warmup + draws
    # loop iterations (leapfrog steps of every chain) between progress ticks: about 1% of the
    # transitions at 8 steps each (the loop's length is not known ahead)
    block_steps = 8 * ticks.every(total)
    adaptation_init, adaptation_step = window_adaptation(target_accept, warmup)

    def value_and_grad(z, ctx):
        return jax.value_and_grad(zt.logdensity)(z, ctx)

    def kinetic(inv_mass, p):
        return 0.5 * jnp.dot(inv_mass * p, p)

    def begin_transition(c: Chain, normal) -> Chain:
        """Fresh momentum at the chain's state; the trajectory is that one point."""
        s = c.state
        p0 = normal / jnp.sqrt(c.inv_mass)
        h0 = -s.l + kinetic(c.inv_mass, p0)
        start = Point(s.z, p0, s.l, s.g)
        prop = Proposal(s.z, s.l, s.g, h0, jnp.zeros_like(h0), jnp.full_like(h0, -jnp.inf))
        return c._replace(h0=h0, left=start, right=start, rho=p0, n=jnp.int32(0), prop=prop,
                          depth=jnp.int32(0))

    def begin_doubling(c: Chain, uniform) -> Chain:
        direction = jnp.where(uniform < 0.5, 1.0, -1.0).astype(c.step_size.dtype)
        current = _pick(direction > 0, c.right, c.left)
        return c._replace(direction=direction, current=current, j=jnp.int32(0))

    def adapt(c: Chain, z_new, accept) -> Chain:
        """The window adaptation step of warmup transition ``c.t``."""
        state = adaptation_step(Adaptation(c.da, c.mm, c.step_size, c.inv_mass), c.t, z_new,
                                accept)
        return c._replace(da=state.da, mm=state.mm, step_size=state.step_size,
                          inv_mass=state.inv_mass)

    def step(c: Chain, out: Outputs, ctx) -> tuple[Chain, Outputs]:
        """One leapfrog step of one chain, and whatever ends with it."""
        normal, uniform = _random_numbers(jax.random.fold_in(c.key, c.count), dim,
                                          c.inv_mass.dtype)

        # velocity Verlet from the subtree's last point
        eps = c.direction * c.step_size
        cur = c.current
        p = cur.p + 0.5 * eps * cur.g
        z = cur.z + eps * c.inv_mass * p
        l, g = value_and_grad(z, ctx)
        p = p + 0.5 * eps * g
        new = Point(z, p, l, g)
        energy = -l + kinetic(c.inv_mass, p)
        delta = c.h0 - energy
        delta = jnp.where(jnp.isnan(delta), -jnp.inf, delta)
        diverging = -delta > DIVERGENCE_THRESHOLD
        new_prop = Proposal(z, l, g, energy, delta, jnp.minimum(delta, 0.0))

        # within the subtree: uniform progressive sampling (the first point is taken)
        first = c.j == 0
        old = c.sub_prop
        take = first | (uniform[0] < jax.nn.sigmoid(delta - old.weight))
        sub_prop = _pick(take, new_prop, old)
        sub_prop = sub_prop._replace(
            weight=jnp.where(first, delta, jnp.logaddexp(old.weight, delta)),
            sum_log_accept=jnp.where(first, new_prop.sum_log_accept,
                                     jnp.logaddexp(old.sum_log_accept, new_prop.sum_log_accept)))
        sub_rho = jnp.where(first, p, c.sub_rho + p)
        sub_n = jnp.where(first, 1, c.sub_n + 1)

        # NumPyro's iterative U-turn check of the subtree's sub-subtrees
        idx_min, idx_max = _checkpoint_range(c.j)
        even = c.j % 2 == 0
        idx = jnp.arange(max_depth)
        # a select over the K rows, not a scatter: on a GPU one kernel fewer per step
        write = (idx == idx_max) & even
        ckpt = jnp.where(write[:, None, None], jnp.stack([p, sub_rho])[None], c.ckpt)
        ckpt_p, ckpt_rho = ckpt[:, 0], ckpt[:, 1]
        turning_each = jax.vmap(lambda pl, rho: _is_turning(c.inv_mass, pl, p, rho))(
            ckpt_p, sub_rho - ckpt_rho + ckpt_p)
        sub_turning = jnp.any(turning_each & (idx >= idx_min) & (idx <= idx_max))
        sub_done = (c.j + 1 >= 2 ** c.depth) | sub_turning | diverging

        c2 = c._replace(count=c.count + 1, current=new, sub_prop=sub_prop, sub_rho=sub_rho,
                        sub_n=sub_n, ckpt=ckpt, j=c.j + 1)

        # the subtree ends: merge it into the trajectory (biased progressive sampling)
        rejected = diverging | sub_turning
        prop = c.prop
        weight = jnp.logaddexp(prop.weight, sub_prop.weight)
        sum_log_accept = jnp.logaddexp(prop.sum_log_accept, sub_prop.sum_log_accept)
        take_sub = ~rejected & (uniform[1] < jnp.exp(jnp.minimum(sub_prop.weight - prop.weight,
                                                                 0.0)))
        merged_prop = _pick(take_sub, sub_prop, prop)._replace(
            weight=jnp.where(rejected, prop.weight, weight), sum_log_accept=sum_log_accept)
        forward = c.direction > 0
        left = _pick(forward, c.left, new)
        right = _pick(forward, new, c.right)
        rho = c.rho + sub_rho
        n = c.n + sub_n
        depth = c.depth + 1
        turning = _is_turning(c.inv_mass, left.p, right.p, rho)
        merged = c2._replace(prop=merged_prop, left=left, right=right, rho=rho, n=n,
                             depth=depth)
        c3 = _pick(sub_done, merged, c2)

        # the transition ends: the proposal is the chain's next state
        done = sub_done & ((depth >= max_depth) | rejected | turning)
        accept = jnp.exp(merged_prop.sum_log_accept) / n
        ended = c3._replace(state=Point(merged_prop.z, c.state.p, merged_prop.l, merged_prop.g),
                            last_divergent=diverging.astype(accept.dtype),
                            last_steps=n.astype(accept.dtype), last_accept=accept)
        in_warmup = c.t < warmup
        ended = _pick(in_warmup, adapt(ended, merged_prop.z, accept), ended)  # at c.t
        ended = ended._replace(t=c.t + 1)
        c4 = _pick(done, begin_transition(ended, normal), c3)
        # a new doubling starts after a subtree that did not end the transition, and at the
        # start of a transition
        c5 = _pick(sub_done, begin_doubling(c4, uniform[2]), c4)
        # the carry keeps its dtypes (the adaptation's pieces mix Python and JAX scalars)
        c6 = jax.tree.map(lambda a, b: jnp.asarray(a, b.dtype), c5, c)

        # record a finished draw, one row in place, from the new carry only (reading the old
        # one after it is overwritten would make XLA copy it every step)
        finished = c6.t - 1  # the transition that ended, if one did
        record = done & (finished >= warmup) & (finished < total)
        s = jnp.clip(finished - warmup, 0, draws - 1)
        row = jnp.concatenate([c6.state.z, jnp.stack([c6.state.l, c6.last_divergent,
                                                      c6.last_steps, c6.last_accept])])
        out = Outputs(
            warmup_steps=out.warmup_steps + jnp.where(done & (finished < warmup),
                                                      c6.last_steps.astype(jnp.int32), 0),
            rows=out.rows.at[s].set(jnp.where(record, row, out.rows[s])))
        return c6, out

    def init_chain(chain_key, ctx) -> Chain:
        k_init, k_first, k_run = jax.random.split(chain_key, 3)
        z0 = zt.to_z(jnp.asarray(target.init(k_init, ctx)))
        l0, g0 = value_and_grad(z0, ctx)
        dtype = z0.dtype
        state = Point(z0, jnp.zeros_like(z0), l0, g0)
        adaptation = adaptation_init(dim, dtype)
        zero = jnp.zeros((), dtype)
        prop = Proposal(z0, l0, g0, zero, zero, zero)
        c = Chain(
            key=k_run, count=jnp.int32(0), t=jnp.int32(0), state=state, da=adaptation.da,
            mm=adaptation.mm, step_size=adaptation.step_size, inv_mass=adaptation.inv_mass,
            h0=zero, left=state, right=state, rho=jnp.zeros_like(z0), n=jnp.int32(0),
            prop=prop, depth=jnp.int32(0), direction=jnp.asarray(1.0, dtype),
            j=jnp.int32(0), current=state, sub_prop=prop, sub_rho=jnp.zeros_like(z0),
            sub_n=jnp.int32(0), ckpt=jnp.zeros((max_depth, 2, dim), dtype),
            last_divergent=zero, last_steps=zero, last_accept=zero)
        normal, uniform = _random_numbers(k_first, dim, dtype)  # as each step draws them
        out = Outputs(jnp.int32(0), jnp.zeros((draws, dim + 4), dtype))
        return begin_doubling(begin_transition(c, normal), uniform[2]), out

    def finish(c: Chain, out: Outputs, ctx):
        z, l, divergent, steps, accept = (out.rows[:, :dim], out.rows[:, dim],
                                          out.rows[:, dim + 1] > 0, out.rows[:, dim + 2],
                                          out.rows[:, dim + 3])
        x = jax.vmap(zt.to_x)(z)
        ind = jax.vmap(lambda xi: jnp.asarray(target.indicators(xi, ctx), dtype=bool))(x)
        logdensity = l - jax.vmap(zt.log_jacobian)(z)
        return ChainOutput(x, ind, logdensity, divergent, steps.astype(jnp.int32), accept,
                           c.step_size, out.warmup_steps)

    def steps(co, ctxs):
        return jax.vmap(step)(*co, ctxs)

    def reported_blocks(co, ctxs, numbers):
        """The same steps in blocks of ``block_steps`` loop iterations, a tick per chain
        after each block (no per-iteration cost beyond the inner loop's counter)."""
        points = jax.vmap(ticks.point_of)(ctxs)

        def block(co):
            co, _ = jax.lax.while_loop(
                lambda cob: (cob[1] < block_steps) & jnp.any(cob[0][0].t < total),
                lambda cob: (steps(cob[0], ctxs), cob[1] + 1), (co, jnp.int32(0)))
            c, out = co
            ticks.tick("nuts", point=points, chain=numbers, done=jnp.minimum(c.t, total),
                       total=total, warmup=warmup,
                       divergences=jnp.sum(out.rows[:, :, dim + 1] > 0, axis=1))
            return co

        return jax.lax.while_loop(lambda co: jnp.any(co[0].t < total), block, co)

    def run(chain_keys, ctxs, numbers=None):
        """``numbers i[W]``: each chain's number within its point, for progress ticks
        (default ``0..W-1``)."""
        chains, outs = jax.vmap(init_chain)(chain_keys, ctxs)
        # a chain that is done steps on harmlessly until the busiest one is: it records nothing
        if ticks.tracing():
            if numbers is None:
                numbers = jnp.arange(chain_keys.shape[0], dtype=jnp.int32)
            chains, outs = reported_blocks((chains, outs), ctxs, numbers)
        else:
            chains, outs = jax.lax.while_loop(
                lambda co: jnp.any(co[0].t < total),
                lambda co: steps(co, ctxs),
                (chains, outs))
        return jax.vmap(finish)(chains, outs, ctxs)

    return run
