"""Reports from inside the compiled sampling loops ("ticks"), for a person watching a run.

A sweep point's sampling is one compiled call that can last minutes; without reports from
inside it a progress display knows only when the call ends. The engines' loops call
``tick(Source(...), ...)`` every ``K`` iterations (``every``: ``K`` for a given number of ticks, computed on the host;
``due``: whether an iteration is one of them);
it puts a ``jax.debug.callback`` (unordered) into the program that hands a ``Tick`` per chain
to the host.

Only programs traced for reporting contain the callback: ``CompiledCache`` traces the
engine's function inside ``traced(fn, on=True)`` when a sink is set (``reporting``), and a
second, separate program otherwise. So runs without a consumer (tests, the Python API,
``phasedsl run --json``) compile exactly the program they did before and pay nothing; and a
report only reads values the loop computes anyway, so the draws are bitwise the same with and
without (``tests/test_progress.py``).

Under ``vmap`` the callback is called once per batch element, under ``shard_map`` once per
device, each with its own operands: a tick names its sweep point (``point``: the context's
sweep value) and its chain (NUTS chain or SMC run within the point) as operands. ``K`` must
be tested on an *unbatched* counter (a scan index, a count that starts as a constant): a
condition on a batched value becomes a select under ``vmap`` and would call back every
iteration.

Host side: ``with reporting(sink):`` installs ``sink(Tick)``. It is called on XLA's threads,
possibly on several at once: it must be quick and thread-safe; whatever it raises is dropped
here (an exception in a callback would abort the sampling).
"""

from __future__ import annotations

import contextlib
import math
from functools import partial
from typing import Any, Callable, NamedTuple

import numpy as np
import jax
import jax.numpy as jnp

__all__ = ["Source", "Tick", "due", "emitted", "every", "point_of", "reporting", "sink", "tick",
           "traced", "tracing"]


class Tick(NamedTuple):
    """Where one chain of one sweep point has got to.

    - ``engine``: ``"nuts"``, ``"smc"`` (tempering from the prior) or ``"smc_path"`` (a
      bridge between two sweep values).
    - ``point``: the sweep value (NaN when the engine's context carries none); ``point2``:
      a 2-D grid's second value (NaN for a sweep).
    - ``chain``: the NUTS chain, or the SMC run, within its point (for ``smc_path``, within its
      direction).
    - ``done``, ``total``: NUTS: transitions finished of ``total = warmup + draws``; SMC:
      tempering stages finished (``total`` 0: not known ahead); ``smc_path``: reweighting
      stages of the current bridge (``total`` 0).
    - ``warmup``: NUTS: the first ``warmup`` transitions are warmup.
    - ``divergences``: NUTS: divergent transitions among the draws so far.
    - ``lam``: SMC: the tempering reached (0 prior .. 1 posterior); ``smc_path``: the bridge's
      ``t`` (0 at the previous value .. 1 at this one); NaN for NUTS.
    - ``bridge``, ``bridges``: ``smc_path``: this bridge's number along its walk (1-based) of
      ``bridges``; 0 otherwise.
    """

    engine: str
    point: float
    chain: int
    done: int
    total: int = 0
    warmup: int = 0
    divergences: int = 0
    lam: float = math.nan
    bridge: int = 0
    bridges: int = 0
    point2: float = math.nan


_SINK: Callable[[Tick], None] | None = None  # set by ``reporting``
_TRACING = False  # whether the program being traced reports (set by ``traced``)
_EMITTED = 0  # reports put into programs so far (at trace time)


def sink() -> Callable[[Tick], None] | None:
    """The installed sink, or ``None``."""
    return _SINK


@contextlib.contextmanager
def reporting(fn: Callable[[Tick], None] | None):
    """Within the block, ticks go to ``fn`` (``None``: nowhere, and programs are compiled
    without callbacks)."""
    global _SINK
    before, _SINK = _SINK, fn
    try:
        yield
    finally:
        _SINK = before


def traced(fn: Callable, on: bool) -> Callable:
    """``fn`` that, while it runs (is traced), makes ``tick`` emit (``on``) or do nothing."""

    def run(*args):
        global _TRACING
        before, _TRACING = _TRACING, on
        try:
            return fn(*args)
        finally:
            _TRACING = before

    return run


def tracing() -> bool:
    """Whether the program being traced now reports (engines may build extra loop state,
    e.g. a divergence count, only then)."""
    return _TRACING


def emitted() -> int:
    """How many reports have been put into traced programs so far (a program traced for
    reports that got none needs no second compilation: ``CompiledCache``)."""
    return _EMITTED


def every(total: int, parts: int = 100) -> int:
    """``K``: report every ``K`` of ``total`` iterations, about ``parts`` times in all."""
    return max(1, -(-int(total) // parts))


def point_of(ctx):
    """``f32[2]``: the sweep point of a context (``Context.value``, or a dict's
    ``"value"``): a sweep value and NaN, a 2-D grid's cell ``f[2]`` as it is; NaN where the
    context carries none."""

    value = getattr(ctx, "value", None)
    if value is None and isinstance(ctx, dict):
        value = ctx.get("value")
    value = jnp.asarray(jnp.nan if value is None else value, jnp.float32).reshape(-1)
    return jnp.concatenate([value, jnp.full((2,), jnp.nan, jnp.float32)])[:2]


def _deliver(engine, total, warmup, bridges, packed):
    """Host side of the callback: one ``Tick`` per row of ``packed f32[..., 7]`` (point,
    point2, chain, done, divergences, lam, bridge)."""
    fn = _SINK
    if fn is None:
        return
    try:
        for p, p2, c, d, v, lm, b in np.asarray(packed, dtype=np.float64).reshape(-1, 7):
            fn(Tick(engine, float(p), int(c), int(d), int(total), int(warmup), int(v),
                    float(lm), int(b), int(bridges), float(p2)))
    except Exception:  # noqa: BLE001 - a display must never abort the sampling
        pass


class Source(NamedTuple):
    """What every tick of one loop shares, fixed when the loop is traced: the ``engine`` and,
    as in ``Tick``, NUTS's ``total`` and ``warmup`` transitions and ``smc_path``'s
    ``bridges``."""

    engine: str
    total: int = 0
    warmup: int = 0
    bridges: int = 0


def tick(source: Source, *, point, chain, done, divergences: Any = 0, lam: Any = math.nan,
         bridge: Any = 0, when: Any = None) -> None:
    """Inside a traced loop: report a ``Tick`` from ``source`` (its fixed fields) and the
    loop's values as operands (``point`` is ``point_of``'s ``f32[2]``; ``point f32[W, 2]``,
    ``chain i[W]``, ... give one tick per element) where ``when`` holds (a boolean scalar that
    must not be batched, e.g. ``due(i, k, total)`` of a scan index; ``None``: every time).
    Does nothing unless the program is traced for reporting (``traced``)."""
    global _EMITTED
    if not _TRACING:
        return

    _EMITTED += 1
    emit = partial(_deliver, source.engine, int(source.total), int(source.warmup),
                   int(source.bridges))
    # one operand, not six: each operand of a callback costs a conversion on the host
    # (measured on a CPU: ~40 us a call packed, ~270 us with six operands); float32 holds
    # the counts exactly (below 2^24)
    point = jnp.asarray(point, jnp.float32)  # f32[..., 2] (point_of)
    fields = [jnp.asarray(x, jnp.float32) for x in
              (point[..., 0], point[..., 1], chain, done, divergences, lam, bridge)]
    shape = jnp.broadcast_shapes(*(f.shape for f in fields))
    packed = jnp.stack([jnp.broadcast_to(f, shape) for f in fields], axis=-1)

    def call(packed):
        jax.debug.callback(emit, packed)

    if when is None:
        call(packed)
    else:
        jax.lax.cond(when, call, lambda _: None, packed)


def due(done, k: int, total: int):
    """Whether ``done`` (iterations finished, unbatched) is a multiple of ``k`` or the last."""
    return (done % k == 0) | (done == total)
