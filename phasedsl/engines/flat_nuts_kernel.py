"""One chain of flat NUTS as pure functions over a ``Chain`` state, BlackJAX's split: ``init``
(a prior draw, the adaptation's start and the first transition begun), ``step`` (one leapfrog
step and whatever ends with it), ``running`` (the loop's condition) and ``finish`` (the
recorded draws as a ``ChainOutput``). ``engines.flat_nuts.build_flat_chains`` composes them (a
``while_loop`` of ``step``, vmapped over chains) and the engine compiles, batches and converts
to ``Draws``; the method is described in ``engines.flat_nuts``.

``step`` is made of stages that can be called alone: ``leapfrog`` (velocity Verlet and the new
point's proposal), ``extend_subtree`` (uniform progressive sampling within the subtree),
``subtree_turning`` (NumPyro's iterative U-turn checks), ``merge_subtree`` (biased progressive
sampling into the trajectory), ``end_transition`` (the next state, the warmup adaptation, a
fresh momentum), ``begin_doubling`` and ``record`` (a finished draw's row).

Every function is of one chain, unbatched (``vmap`` adds the chain axis); shapes: ``D``
parameters (unconstrained ``z``), ``K = max_depth``, ``S = draws``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from phasedsl.engines.outputs import ChainOutput
from phasedsl.engines.window_adaptation import Adaptation, pick

__all__ = ["Chain", "FlatKernel", "Outputs", "Point", "Proposal", "begin_doubling",
           "begin_transition", "end_transition", "extend_subtree", "finish", "init",
           "leapfrog", "merge_subtree", "record", "running", "step", "subtree_turning"]

DIVERGENCE_THRESHOLD = 1000.0


class FlatKernel(NamedTuple):
    """A chain's static parts: ``target`` and its unconstrained form ``zt``
    (``engines.base.unconstrained``), the warmup's ``adaptation_init`` and
    ``adaptation_step`` (``engines.window_adaptation``), and the settings."""

    target: Any
    zt: Any
    adaptation_init: Callable
    adaptation_step: Callable
    draws: int
    warmup: int
    max_depth: int

    @property
    def total(self) -> int:
        """Transitions of a chain, warmup and draws."""
        return self.warmup + self.draws


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
    """Everything one chain carries between leapfrog steps."""

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


def random_numbers(key, dim: int, dtype):
    """``(normal f[D], uniform f[3])``, independent standard normals and uniforms on (0, 1),
    from one draw of ``D + 3`` uniforms (one random-bits computation per leapfrog step
    instead of one per kind and a key split). The normals are ``jax.random.normal``'s
    transform: sqrt(2) erfinv(u) of u uniform on (-1, 1)."""
    lo = jnp.nextafter(jnp.asarray(-1.0, dtype), jnp.asarray(0.0, dtype))
    u = jax.random.uniform(key, (dim + 3,), dtype, minval=lo, maxval=1.0)
    return jnp.sqrt(jnp.asarray(2.0, dtype)) * jax.lax.erf_inv(u[:dim]), (u[dim:] + 1) / 2


def is_turning(inv_mass, p_left, p_right, rho):
    """``bool[]``: BlackJAX's generalised U-turn criterion for a diagonal metric (``inv_mass,
    p_left, p_right, rho f[D]``; ``rho`` includes both end momenta)."""
    r = rho - (p_left + p_right) / 2
    return (jnp.dot(inv_mass * p_left, r) <= 0) | (jnp.dot(inv_mass * p_right, r) <= 0)


def checkpoint_range(j):
    """NumPyro's checkpoint indices ``(idx_min i[], idx_max i[])`` for step ``j i[]`` of a
    subtree."""
    idx_max = jnp.bitwise_count(j >> 1).astype(jnp.int32)
    num_subtrees = jnp.bitwise_count((~j & (j + 1)) - 1).astype(jnp.int32)
    return idx_max - num_subtrees + 1, idx_max


def value_and_grad(kernel: FlatKernel, z, ctx):
    """``(l f[], g f[D])``: the log density in ``z f[D]`` and its gradient."""
    return jax.value_and_grad(kernel.zt.logdensity)(z, ctx)


def kinetic(inv_mass, p):
    """``f[]``: the kinetic energy of momentum ``p f[D]`` under ``inv_mass f[D]``."""
    return 0.5 * jnp.dot(inv_mass * p, p)


def begin_transition(c: Chain, normal) -> Chain:
    """Fresh momentum ``normal f[D] / sqrt(inv_mass)`` at the chain's state; the trajectory is
    that one point."""
    s = c.state
    p0 = normal / jnp.sqrt(c.inv_mass)
    h0 = -s.l + kinetic(c.inv_mass, p0)
    start = Point(s.z, p0, s.l, s.g)
    prop = Proposal(s.z, s.l, s.g, h0, jnp.zeros_like(h0), jnp.full_like(h0, -jnp.inf))
    return c._replace(h0=h0, left=start, right=start, rho=p0, n=jnp.int32(0), prop=prop,
                      depth=jnp.int32(0))


def begin_doubling(c: Chain, uniform) -> Chain:
    """A new doubling, forward where ``uniform f[] < 1/2``, from that end of the
    trajectory."""
    direction = jnp.where(uniform < 0.5, 1.0, -1.0).astype(c.step_size.dtype)
    current = pick(direction > 0, c.right, c.left)
    return c._replace(direction=direction, current=current, j=jnp.int32(0))


def adapt(kernel: FlatKernel, c: Chain, z_new, accept) -> Chain:
    """The window adaptation step of warmup transition ``c.t``, which ended at ``z_new f[D]``
    with acceptance statistic ``accept f[]``."""
    state = kernel.adaptation_step(Adaptation(c.da, c.mm, c.step_size, c.inv_mass), c.t,
                                   z_new, accept)
    return c._replace(da=state.da, mm=state.mm, step_size=state.step_size,
                      inv_mass=state.inv_mass)


def leapfrog(kernel: FlatKernel, c: Chain, ctx) -> tuple[Point, Proposal, Any]:
    """Velocity Verlet from the subtree's last point in the doubling's direction: the new
    ``Point``, its one-point ``Proposal`` (weight ``H0 - H``, NaN counted as ``-inf``) and
    whether it diverges (``bool[]``: an energy error above ``DIVERGENCE_THRESHOLD``)."""
    eps = c.direction * c.step_size
    cur = c.current
    p = cur.p + 0.5 * eps * cur.g
    z = cur.z + eps * c.inv_mass * p
    l, g = value_and_grad(kernel, z, ctx)
    p = p + 0.5 * eps * g
    energy = -l + kinetic(c.inv_mass, p)
    delta = c.h0 - energy
    delta = jnp.where(jnp.isnan(delta), -jnp.inf, delta)
    diverging = -delta > DIVERGENCE_THRESHOLD
    return Point(z, p, l, g), Proposal(z, l, g, energy, delta, jnp.minimum(delta, 0.0)), diverging


def extend_subtree(c: Chain, new_prop: Proposal, p, uniform):
    """``(sub_prop, sub_rho f[D], sub_n i[])``: the subtree with its new point (proposal
    ``new_prop``, momentum ``p f[D]``) by uniform progressive sampling (``uniform f[]``; its
    first point is taken)."""
    first = c.j == 0
    old = c.sub_prop
    take = first | (uniform < jax.nn.sigmoid(new_prop.weight - old.weight))
    sub_prop = pick(take, new_prop, old)
    sub_prop = sub_prop._replace(
        weight=jnp.where(first, new_prop.weight, jnp.logaddexp(old.weight, new_prop.weight)),
        sum_log_accept=jnp.where(first, new_prop.sum_log_accept,
                                 jnp.logaddexp(old.sum_log_accept, new_prop.sum_log_accept)))
    sub_rho = jnp.where(first, p, c.sub_rho + p)
    sub_n = jnp.where(first, 1, c.sub_n + 1)
    return sub_prop, sub_rho, sub_n


def subtree_turning(c: Chain, p, sub_rho):
    """``(ckpt f[K, 2, D], turning bool[])``: NumPyro's iterative U-turn check of the
    subtree's sub-subtrees after step ``c.j`` (new momentum ``p f[D]``, the subtree's summed
    momenta ``sub_rho f[D]``), with the checkpoints updated at even steps."""
    idx_min, idx_max = checkpoint_range(c.j)
    even = c.j % 2 == 0
    idx = jnp.arange(c.ckpt.shape[0])
    # a select over the K rows, not a scatter: on a GPU one kernel fewer per step
    write = (idx == idx_max) & even
    ckpt = jnp.where(write[:, None, None], jnp.stack([p, sub_rho])[None], c.ckpt)
    ckpt_p, ckpt_rho = ckpt[:, 0], ckpt[:, 1]
    turning_each = jax.vmap(lambda pl, rho: is_turning(c.inv_mass, pl, p, rho))(
        ckpt_p, sub_rho - ckpt_rho + ckpt_p)
    return ckpt, jnp.any(turning_each & (idx >= idx_min) & (idx <= idx_max))


def merge_subtree(c: Chain, rejected, uniform) -> tuple[Chain, Any]:
    """``(chain, turning bool[])``: the finished subtree of ``c`` (its last point
    ``c.current``) merged into the trajectory by biased progressive sampling (``uniform
    f[]``; a ``rejected`` subtree, divergent or turning, is never proposed), one doubling
    more, and whether the merged trajectory makes a U-turn."""
    prop, sub_prop = c.prop, c.sub_prop
    weight = jnp.logaddexp(prop.weight, sub_prop.weight)
    sum_log_accept = jnp.logaddexp(prop.sum_log_accept, sub_prop.sum_log_accept)
    take_sub = ~rejected & (uniform < jnp.exp(jnp.minimum(sub_prop.weight - prop.weight, 0.0)))
    merged_prop = pick(take_sub, sub_prop, prop)._replace(
        weight=jnp.where(rejected, prop.weight, weight), sum_log_accept=sum_log_accept)
    forward = c.direction > 0
    left = pick(forward, c.left, c.current)
    right = pick(forward, c.current, c.right)
    rho = c.rho + c.sub_rho
    turning = is_turning(c.inv_mass, left.p, right.p, rho)
    return c._replace(prop=merged_prop, left=left, right=right, rho=rho, n=c.n + c.sub_n,
                      depth=c.depth + 1), turning


def end_transition(kernel: FlatKernel, c: Chain, merged: Chain, diverging, normal) -> Chain:
    """``c`` after its transition ended with the trajectory ``merged`` (``merge_subtree``):
    the proposal is its next state, the transition's statistics are kept, a warmup transition
    adapts the step size and mass, and the next transition begins (momentum ``normal
    f[D]``)."""
    prop = merged.prop
    accept = jnp.exp(prop.sum_log_accept) / merged.n
    ended = c._replace(state=Point(prop.z, merged.state.p, prop.l, prop.g),
                       last_divergent=diverging.astype(accept.dtype),
                       last_steps=merged.n.astype(accept.dtype), last_accept=accept)
    in_warmup = merged.t < kernel.warmup
    ended = pick(in_warmup, adapt(kernel, ended, prop.z, accept), ended)  # at merged.t
    ended = ended._replace(t=merged.t + 1)
    return begin_transition(ended, normal)


def record(kernel: FlatKernel, c: Chain, out: Outputs, done) -> Outputs:
    """``out`` with the draw of the transition that ``c`` just finished (``done bool[]``),
    if it is one of the draws, written to its row in place, and a warmup transition's steps
    counted. Reads the new carry only (reading the old one after it is overwritten would make
    XLA copy it every step)."""
    finished = c.t - 1  # the transition that ended, if one did
    write = done & (finished >= kernel.warmup) & (finished < kernel.total)
    s = jnp.clip(finished - kernel.warmup, 0, kernel.draws - 1)
    row = jnp.concatenate([c.state.z, jnp.stack([c.state.l, c.last_divergent,
                                                 c.last_steps, c.last_accept])])
    return Outputs(
        warmup_steps=out.warmup_steps + jnp.where(done & (finished < kernel.warmup),
                                                  c.last_steps.astype(jnp.int32), 0),
        rows=out.rows.at[s].set(jnp.where(write, row, out.rows[s])))


def step(kernel: FlatKernel, ctx, c: Chain, out: Outputs) -> tuple[Chain, Outputs]:
    """One leapfrog step of one chain, and whatever ends with it: the subtree, the
    trajectory's doubling, the transition (a draw recorded)."""
    normal, uniform = random_numbers(jax.random.fold_in(c.key, c.count),
                                     kernel.target.dim, c.inv_mass.dtype)
    new, new_prop, diverging = leapfrog(kernel, c, ctx)
    sub_prop, sub_rho, sub_n = extend_subtree(c, new_prop, new.p, uniform[0])
    ckpt, sub_turning = subtree_turning(c, new.p, sub_rho)
    sub_done = (c.j + 1 >= 2 ** c.depth) | sub_turning | diverging
    grown = c._replace(count=c.count + 1, current=new, sub_prop=sub_prop, sub_rho=sub_rho,
                       sub_n=sub_n, ckpt=ckpt, j=c.j + 1)
    # the subtree ends: merge it into the trajectory
    rejected = diverging | sub_turning
    merged, turning = merge_subtree(grown, rejected, uniform[1])
    after_subtree = pick(sub_done, merged, grown)
    # the transition ends: the proposal is the chain's next state
    done = sub_done & ((merged.depth >= kernel.max_depth) | rejected | turning)
    after = pick(done, end_transition(kernel, after_subtree, merged, diverging, normal),
                 after_subtree)
    # a new doubling starts after a subtree that did not end the transition, and at the
    # start of a transition
    after = pick(sub_done, begin_doubling(after, uniform[2]), after)
    # the carry keeps its dtypes (the adaptation's pieces mix Python and JAX scalars)
    after = jax.tree.map(lambda a, b: jnp.asarray(a, b.dtype), after, c)
    return after, record(kernel, after, out, done)


def init(kernel: FlatKernel, key, ctx) -> tuple[Chain, Outputs]:
    """A chain at a prior draw with the adaptation's start, its first transition and
    doubling begun, and its empty record (``rows f[S, D + 4]`` of zeros)."""
    dim = kernel.target.dim
    k_init, k_first, k_run = jax.random.split(key, 3)
    z0 = kernel.zt.to_z(jnp.asarray(kernel.target.init(k_init, ctx)))
    l0, g0 = value_and_grad(kernel, z0, ctx)
    dtype = z0.dtype
    state = Point(z0, jnp.zeros_like(z0), l0, g0)
    adaptation = kernel.adaptation_init(dim, dtype)
    zero = jnp.zeros((), dtype)
    prop = Proposal(z0, l0, g0, zero, zero, zero)
    c = Chain(
        key=k_run, count=jnp.int32(0), t=jnp.int32(0), state=state, da=adaptation.da,
        mm=adaptation.mm, step_size=adaptation.step_size, inv_mass=adaptation.inv_mass,
        h0=zero, left=state, right=state, rho=jnp.zeros_like(z0), n=jnp.int32(0),
        prop=prop, depth=jnp.int32(0), direction=jnp.asarray(1.0, dtype),
        j=jnp.int32(0), current=state, sub_prop=prop, sub_rho=jnp.zeros_like(z0),
        sub_n=jnp.int32(0), ckpt=jnp.zeros((kernel.max_depth, 2, dim), dtype),
        last_divergent=zero, last_steps=zero, last_accept=zero)
    normal, uniform = random_numbers(k_first, dim, dtype)  # as each step draws them
    out = Outputs(jnp.int32(0), jnp.zeros((kernel.draws, dim + 4), dtype))
    return begin_doubling(begin_transition(c, normal), uniform[2]), out


def running(kernel: FlatKernel, c: Chain):
    """``bool[]`` (``bool[W]`` for a batch): whether the chain has transitions to go."""
    return c.t < kernel.total


def finish(kernel: FlatKernel, ctx, c: Chain, out: Outputs) -> ChainOutput:
    """The chain's ``ChainOutput`` from its record: ``x f[S, D]`` (original coordinates),
    ``ind bool[S, P]``, ``logdensity f[S]`` (of ``x``), ``divergent bool[S]``, ``steps
    i[S]``, ``accept f[S]``, the final ``step_size f[]`` and ``warmup_steps i[]``."""
    zt, dim = kernel.zt, kernel.target.dim
    z, l, divergent, steps, accept = (out.rows[:, :dim], out.rows[:, dim],
                                      out.rows[:, dim + 1] > 0, out.rows[:, dim + 2],
                                      out.rows[:, dim + 3])
    x = jax.vmap(zt.to_x)(z)
    ind = jax.vmap(lambda xi: jnp.asarray(kernel.target.indicators(xi, ctx), dtype=bool))(x)
    logdensity = l - jax.vmap(zt.log_jacobian)(z)
    return ChainOutput(x, ind, logdensity, divergent, steps.astype(jnp.int32), accept,
                       c.step_size, out.warmup_steps)
