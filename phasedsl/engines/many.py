"""Several sweep points in one compiled call, split across devices.

An engine's pure ``run(key, ctx) -> outputs`` samples one sweep point. ``ManyCaller`` runs it
over ``V`` points at once: ``vmap``-ed (method ``"vectorized"``: points x chains in lockstep,
for GPUs) or one after another (``"sequential"``: ``lax.map``, for CPUs), and, when JAX sees
several devices, with the points split across them (``jax.shard_map``): all GPUs of a machine,
or on a CPU the devices that ``phasedsl run --cpu-devices N`` makes XLA show (one per core).
The unit of work is the engine's choice: a whole point for SMC, one chain of one point for
NUTS (``group`` items per point), so a few points with several chains still fill many
cores. Items are dealt to devices round-robin (``dealt``), so that each device's share mixes
cheap and costly items. An engine can also bring its own whole-batch functions under other
method names (``own_methods``) (NUTS: ``"flat"``, chains that do not wait for each other:
``phasedsl.engines.flat_nuts``). Every point gets the same key and computation as alone, so the
draws have the same distribution; they can still differ from ``run``'s, because the compiler
may round the larger program differently and NUTS trajectories amplify float32 rounding (PT1
``--quick``: 6 of 8 points identical to ``run`` and to each other, 2 with other draws; on a
Gaussian target ``"sequential"`` reproduces ``run`` bit for bit, tested).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import jax
import jax.numpy as jnp
from jax.sharding import Mesh, PartitionSpec

from phasedsl.engines.base import CompiledCache, as_arrays, as_key

__all__ = ["METHODS", "ManyCaller", "build_many", "dealt", "is_list_of_contexts", "pad_points",
           "stack_contexts", "stacked"]

# how run is batched over points (default by machine: phasedsl.engines.devices.default_method)
METHODS = ("vectorized", "sequential")


def stack_contexts(ctxs):
    """A list of ``V`` context pytrees as one pytree with a leading ``V`` axis on each leaf."""

    return jax.tree.map(lambda *leaves: jnp.stack([jnp.asarray(v) for v in leaves]), *ctxs)


def is_list_of_contexts(ctxs) -> bool:
    """Whether ``ctxs`` is a list (or plain tuple) of contexts rather than one context pytree
    stacked along a leading axis (a stacked ``Context`` is a ``NamedTuple``, not a list)."""
    return isinstance(ctxs, list) or type(ctxs) is tuple


def stacked(keys, ctxs):
    """``(keys, ctxs)`` with a leading axis: a list of keys (or int seeds) stacked, a list of
    context pytrees stacked leaf by leaf; arrays and stacked pytrees pass through."""

    if is_list_of_contexts(ctxs):
        ctxs = stack_contexts(ctxs)
    if isinstance(keys, (list, tuple)):
        keys = jnp.stack([as_key(k) for k in keys])
    return keys, as_arrays(ctxs)


def build_many(run, method: str, devices: int = 1, own_methods: dict | None = None):
    """``(keys [V], ctxs stacked [V, ...], items i[V] = 0) -> outputs [V, ...]``: ``run(key,
    ctx, item)`` over work items (``outputs``: ``run``'s output record, every leaf with a leading
    ``[V]`` axis; ``item``: the item's number within its sweep point, e.g. its chain, which
    only progress reports read: ``phasedsl.engines.ticks``).

    ``own_methods``: whole-batch functions ``(keys [V], ctxs [V, ...], items i[V]) -> outputs
    [V, ...]`` by method name, used for those ``method`` names instead of ``vmap``/``lax.map``
    of ``run``. ``devices > 1``: the ``V`` axis is split across the first ``devices`` of
    ``jax.devices()`` (``V`` must be a multiple of ``devices``), each device running its share
    by ``method``."""

    if own_methods and method in own_methods:
        many = own_methods[method]
    elif method == "vectorized":
        many = jax.vmap(run, in_axes=(0, 0, 0))
    else:
        def many(keys, ctxs, items):
            return jax.lax.map(lambda kci: run(*kci), (keys, ctxs, items))
    if devices > 1:

        mesh = Mesh(np.asarray(jax.devices()[:devices]), ("points",))
        points = PartitionSpec("points")
        many = jax.shard_map(many, mesh=mesh, in_specs=(points, points, points),
                             out_specs=points, check_vma=False)

    def with_items(keys, ctxs, items=None):  # items: 0 for callers that number none
        if items is None:

            items = jnp.zeros((keys.shape[0],), jnp.int32)
        return many(keys, ctxs, items)

    return with_items


def dealt(count: int, devices: int) -> np.ndarray:
    """The order that deals ``count`` items (a multiple of ``devices``) round-robin: device
    ``d``'s contiguous block of ``count / devices`` holds items ``d, d + devices, ...``.

    Work items differ in cost (PT1: one chain needs up to 3x another's leapfrog steps, and the
    costly ones are the chains of the same few sweep values), and a device's block runs one
    item after another, so the call lasts as long as the costliest block. Dealt, each block
    mixes chains of many points: on PT1's 88 chains over 16 devices the costliest block holds
    1.23x the mean block's steps, against 1.53x for contiguous blocks (22 devices: 1.16x
    against 1.35x)."""
    return np.arange(count).reshape(count // devices, devices).T.ravel()


def pad_points(tree, count: int):
    """Each leaf ``[V, ...]`` padded to ``[count, ...]`` by repeating its last point."""

    def pad(a):
        extra = count - a.shape[0]
        return a if extra == 0 else jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)])

    return jax.tree.map(pad, tree)


class ManyCaller:
    """``run`` over sweep points, compiled once per (method, devices, ``V``).

    ``run(key, ctx, item) -> outputs``: an engine's pure function of one work item (``item``:
    its number within its point, for progress reports), ``outputs`` any pytree of arrays (the
    engines' records, ``phasedsl.engines.outputs``).
    ``devices``: how many devices to split points across at most (0: all of ``jax.devices()``).
    ``own_methods``: the engine's own whole-batch functions by method name (``build_many``).
    """

    def __init__(self, run: Callable, devices: int = 0, own_methods: dict | None = None):
        self._run = run
        self.devices = devices
        self._own_methods = dict(own_methods or {})
        self.methods = METHODS + tuple(self._own_methods)
        self._caches: dict[tuple, CompiledCache] = {}

    @property
    def traces(self) -> int:
        return sum(c.traces for c in self._caches.values())

    def run_many(self, keys, ctxs, method: str, to_draws: Callable,
                 group: int | None = None) -> list:
        """One ``to_draws(outputs_of_point, compile_s, sample_s, wall_s)`` per point
        (``outputs_of_point``: ``run``'s record of numpy arrays, without the point axis).

        ``keys``: ``W`` PRNG keys (or int seeds), a list or a stacked key array; ``ctxs``: a
        list of ``W`` contexts or one pytree stacked along a leading ``W`` axis. ``group``:
        work items per point (consecutive items, e.g. the chains of a point): each point's
        outputs get a leading ``[group]`` axis, ``[1]`` too (one chain); ``None``: one item
        per point, no group axis. The compile time goes to the first point; each
        point gets an equal share of the sampling and wall seconds; ``info`` gains ``method``,
        ``call_points`` (points in the call), ``call_sample_s``, ``call_compile_s`` (of the
        whole call) and ``devices``.
        """

        if method not in self.methods:
            raise ValueError(f"run_many method must be one of {self.methods}")

        keys, ctxs = stacked(keys, ctxs)
        count = keys.shape[0]
        items = jnp.arange(count, dtype=jnp.int32) % (group or 1)  # e.g. the chain of a point
        devices = min(self.devices or jax.device_count(), jax.device_count(), count)
        padded = -(-count // devices) * devices
        order = dealt(padded, devices)
        keys, ctxs, items = jax.tree.map(lambda a: a[order],
                                         pad_points((keys, ctxs, items), padded))
        cache = self._caches.get((method, devices))
        if cache is None:
            cache = self._caches[(method, devices)] = CompiledCache(
                build_many(self._run, method, devices, self._own_methods))
        t0 = time.perf_counter()
        out, compile_s = cache.call(keys, ctxs, items)
        out = jax.block_until_ready(out)
        sample_s = time.perf_counter() - t0 - compile_s
        points = count // (group or 1)
        unsort = np.argsort(order)
        out = jax.tree.map(lambda a: np.asarray(a)[unsort][:count], out)
        if group is not None:
            out = jax.tree.map(lambda a: a.reshape((points, group) + a.shape[1:]), out)
        wall_s = time.perf_counter() - t0
        draws = []
        for v in range(points):
            d = to_draws(jax.tree.map(lambda a: a[v], out), compile_s if v == 0 else 0.0,
                         sample_s / points, wall_s / points)
            draws.append(d._replace(info=d.info.replace(
                method=method, call_points=points, call_sample_s=sample_s,
                call_compile_s=compile_s, devices=devices)))
        return draws
