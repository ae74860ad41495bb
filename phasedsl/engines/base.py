"""What the engines share: their settings, the box transform, the compile-once cache.

- ``settings_with_defaults``: an engine's settings from its ``DEFAULTS`` and the spec's.
- ``Box``/``unconstrained``: the map from unconstrained ``z`` to the prior's support, in which
  the gradient-based engines (NUTS, SMC's HMC moves) work.
- ``CompiledCache``: each engine traces and compiles its work once per context *shape* and
  re-uses the executable for every sweep value (the context is a traced argument, never a
  closed-over constant).

The engines themselves: ``phasedsl.engines.registry`` (by name), ``phasedsl.engines.protocol``
(their interface).
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

import numpy as np
import jax
import jax.numpy as jnp

from phasedsl.lower.target import Target

__all__ = ["Box", "CompiledCache", "TimedRun", "ZTarget", "as_arrays", "as_key", "settings_with_defaults",
           "unconstrained"]


def settings_with_defaults(defaults: dict, settings: dict) -> dict:
    """``defaults`` overridden by the known keys of ``settings``; ints stay ints."""
    out = dict(defaults)
    for key, default in defaults.items():
        if key in settings and settings[key] is not None:
            value = settings[key]
            if isinstance(default, bool):
                value = bool(value)
            elif isinstance(default, int):
                value = int(value)
            elif isinstance(default, float):
                value = float(value)
            out[key] = value
    return out


# ----------------------------------------------------------------------------------------------
# The box transform
# ----------------------------------------------------------------------------------------------


class Box:
    """Maps unconstrained ``z: f[D]`` to parameters ``x: f[D]`` in the prior's box.

    Coordinates with finite ``lower``/``upper`` use ``x = lower + (upper-lower) * sigmoid(z)``,
    with log-Jacobian ``log(upper-lower) + log sigmoid(z) + log sigmoid(-z)``; unbounded
    coordinates pass through (``x = z``, log-Jacobian 0). Functions are for one vector; vmap
    them for batches.
    """

    def __init__(self, lower, upper):
        lower = np.asarray(lower, dtype=float).reshape(-1)
        upper = np.asarray(upper, dtype=float).reshape(-1)
        bounded = np.isfinite(lower) & np.isfinite(upper)
        half = np.isfinite(lower) ^ np.isfinite(upper)
        if half.any():
            raise ValueError("a coordinate must be unbounded or bounded on both sides")
        if np.any(upper[bounded] <= lower[bounded]):
            raise ValueError("box with upper <= lower")
        self.bounded = bounded
        self.any_bounded = bool(bounded.any())
        # Safe finite values where unbounded, so that masked-out branches never make NaNs.
        self.lo = np.where(bounded, lower, 0.0)
        self.width = np.where(bounded, upper - lower, 1.0)
        self.hi = self.lo + self.width

    def to_x(self, z):
        """``x(z)``; bounded coordinates are clipped into the closed box (float32 rounding)."""
        if not self.any_bounded:
            return z

        lo = jnp.asarray(self.lo, z.dtype)
        width = jnp.asarray(self.width, z.dtype)
        inside = jnp.clip(lo + width * jax.nn.sigmoid(z), lo, jnp.asarray(self.hi, z.dtype))
        return jnp.where(self.bounded, inside, z)

    def to_z(self, x):
        """``z(x)``, the inverse; points on the box's faces map to large finite ``|z|``."""
        if not self.any_bounded:
            return x

        dtype = x.dtype
        u = (x - jnp.asarray(self.lo, dtype)) / jnp.asarray(self.width, dtype)
        tiny = jnp.finfo(dtype).eps
        u = jnp.clip(u, tiny, 1.0 - tiny)
        return jnp.where(self.bounded, jnp.log(u) - jnp.log1p(-u), x)

    def log_jacobian(self, z):
        """``log |det dx/dz|: f[]``."""
        if not self.any_bounded:

            return jnp.zeros((), z.dtype)

        per = (
            jnp.log(jnp.asarray(self.width, z.dtype))
            + jax.nn.log_sigmoid(z)
            + jax.nn.log_sigmoid(-z)
        )
        return jnp.sum(jnp.where(self.bounded, per, 0.0))


class ZTarget(NamedTuple):
    """The target seen in unconstrained coordinates (all functions of one ``z: f[D]``)."""

    logprior: Callable  # (z, ctx) -> f[]: log prior density of z (Jacobian included)
    loglik: Callable  # (z, ctx) -> f[]
    logdensity: Callable  # (z, ctx) -> f[]: logprior + loglik
    to_x: Callable  # z -> x
    to_z: Callable  # x -> z
    log_jacobian: Callable  # z -> f[]: log |det dx/dz|


def unconstrained(target: Target) -> ZTarget:
    """``target`` in the unconstrained coordinates of its box (see ``Box``)."""
    box = Box(target.lower, target.upper)

    def logprior(z, ctx):
        return target.logprior(box.to_x(z), ctx) + box.log_jacobian(z)

    def loglik(z, ctx):
        return target.loglik(box.to_x(z), ctx)

    def logdensity(z, ctx):
        x = box.to_x(z)
        return target.logprior(x, ctx) + target.loglik(x, ctx) + box.log_jacobian(z)

    return ZTarget(logprior, loglik, logdensity, box.to_x, box.to_z, box.log_jacobian)


# ----------------------------------------------------------------------------------------------
# Compile once per argument shapes
# ----------------------------------------------------------------------------------------------


def as_arrays(tree):
    """Every leaf as a JAX array (Python floats become weakly typed scalars)."""

    return jax.tree.map(jnp.asarray, tree)


def as_key(key):
    """A JAX PRNG key; an ``int`` seed is accepted for convenience."""
    if isinstance(key, (int, np.integer)):

        return jax.random.PRNGKey(int(key))
    return key


def _signature(args) -> Any:

    leaves, treedef = jax.tree.flatten(args)
    return treedef, tuple(
        (np.shape(x), str(getattr(x, "dtype", type(x))), bool(getattr(x, "weak_type", False)))
        for x in leaves
    )


class CompiledCache:
    """Ahead-of-time compiled versions of ``fn`` keyed by the shapes/dtypes of its arguments.

    ``call(*args)`` returns ``(outputs, compile_s)`` where ``compile_s`` is the time spent
    tracing and compiling in this call (0.0 when an executable was re-used). ``traces`` counts
    compilations, for tests and diagnostics.

    Where a sink for progress ticks is set (``phasedsl.engines.ticks.reporting``) the function
    is traced and compiled a second time, with the loops' reports in it; without one the
    program has none. A function that reports nothing (quadrature) is compiled once.
    """

    def __init__(self, fn: Callable, x64: bool = False):
        self._fn = fn
        self._jitted: dict[bool, Any] = {}  # by whether the program reports ticks
        self._x64 = x64
        self._compiled: dict = {}
        self._silent = False  # traced for reports, it held none: one program serves both
        self.traces = 0

    def call(self, *args):
        import contextlib


        from phasedsl.engines import ticks

        ctxmgr = jax.enable_x64(True) if self._x64 else contextlib.nullcontext()
        with ctxmgr:
            reports = ticks.sink() is not None and not self._silent
            sig = (_signature(args), reports)
            compiled = self._compiled.get(sig)
            compile_s = 0.0
            if compiled is None:
                t0 = time.perf_counter()
                jitted = self._jitted.get(reports)
                if jitted is None:  # a function of its own: jit's trace cache is per function
                    jitted = self._jitted[reports] = jax.jit(ticks.traced(self._fn, reports))
                emitted = ticks.emitted()
                compiled = jitted.lower(*args).compile()
                compile_s = time.perf_counter() - t0
                if reports and ticks.emitted() == emitted:
                    self._silent = True
                    sig = (sig[0], False)
                self._compiled[sig] = compiled
                self.traces += 1
            out = compiled(*args)
        return out, compile_s


class TimedRun:
    """The ``run`` of an engine whose point is one call of its compiled function
    (``self._cache``, a ``CompiledCache``): called with ``_arguments(key, ctx)``, waited
    for, brought to numpy and turned into ``Draws`` by the engine's
    ``_draws(out, compile_s, sample_s, wall_s)`` (the conversion ``run_many`` uses too), the
    timing done here once for every engine. ``Draws.info["compile_s"]`` is 0.0 when a
    compiled function was re-used."""

    _cache: CompiledCache

    def _arguments(self, key, ctx) -> tuple:
        """The compiled function's arguments for one point: ``(key, ctx)`` as arrays."""
        return as_key(key), as_arrays(ctx)

    def _draws(self, out, compile_s: float, sample_s: float, wall_s: float):
        raise NotImplementedError  # pragma: no cover - every engine has its own

    def run(self, key, ctx):
        """Sample at one sweep point (``engines.protocol.Engine.run``)."""

        t0 = time.perf_counter()
        out, compile_s = self._cache.call(*self._arguments(key, ctx))
        out = jax.block_until_ready(out)
        sample_s = time.perf_counter() - t0 - compile_s
        out = jax.tree.map(np.asarray, out)
        return self._draws(out, compile_s, sample_s, time.perf_counter() - t0)
