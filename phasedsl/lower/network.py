"""The forward pass of a one-hidden-layer network, ``f(x) = c + sum_i q_i act(<w_i, x> + b_i)``.

Parameters are one flat vector ``params: f[D]`` in ``NetworkLayout(d, k)``'s layout
(``w[d, k], b[d], q[d], c``); inputs are feature-major, ``xt: f[k, N]``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ..language.layout import NetworkLayout


def activation(name: str):
    """The activation function ``f[...] -> f[...]`` of a network."""
    return {"relu": jax.nn.relu, "tanh": jnp.tanh, "swish": jax.nn.swish}[name]


def network_forward_t(params, xt, d: int, k: int, act):
    """``f(x_n)`` for each input, ``params: f[D]``, ``xt: f[k, N]`` -> ``f[N]``.

    For the narrow layers of these experiments a matrix product ``[N, k] @ [k, d]`` wastes
    most of its time on layout; written as ``d * k`` scalar-times-row operations, XLA fuses
    the forward into one loop over N. The derivative is given by hand (a ``custom_jvp``):
    the tangent is ``params_dot @ J`` with ``J: f[D, N]`` the Jacobian of the outputs, built
    in the same loop, so reverse mode needs one matrix-vector product ``J @ cotangent``
    instead of one reduction over N per parameter (its speed: ``benchmarks/README.md``,
    "Gradient micro-benchmark"; same values and gradients to float32 rounding).
    Wide layers use the matrix product and plain autodiff.
    """
    layout = NetworkLayout(d, k)
    if d * k > 64:
        w, b, q, c = layout.split(params)
        return c + q @ act(w @ xt + b[:, None])
    return _narrow_forward(layout, act, params, xt)


def _narrow_hidden(layout: NetworkLayout, params, xt):
    """Pre-activations ``h_i = b_i + sum_j w_ij x_j``, ``d`` arrays ``f[N]``, as
    scalar-times-rows."""
    hs = []
    for i in range(layout.width):
        h = params[layout.b(i + 1)]
        for j in range(layout.inputs):
            h = h + params[layout.w(i + 1, j + 1)] * xt[j]
        hs.append(h)
    return hs


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def _narrow_forward(layout: NetworkLayout, act, params, xt):
    out = params[layout.c]
    for i, h in enumerate(_narrow_hidden(layout, params, xt)):
        out = out + params[layout.q(i + 1)] * act(h)
    return out


def _narrow_forward_jvp(layout: NetworkLayout, act, primals, tangents):
    params, xt = primals
    params_dot, xt_dot = tangents
    d, k = layout.width, layout.inputs
    zero = jax.custom_derivatives.SymbolicZero
    out = params[layout.c]
    acts, slopes = [], []
    for i, h in enumerate(_narrow_hidden(layout, params, xt)):
        a, da = jax.jvp(act, (h,), (jnp.ones_like(h),))
        q = params[layout.q(i + 1)]
        out = out + q * a
        acts.append(a)
        slopes.append(q * da)  # d out / d h_i
    tangent = jnp.zeros_like(out)
    if not isinstance(params_dot, zero):
        # J: f[D, N], rows in the parameter layout w[d,k], b[d], q[d], c
        g, a = jnp.stack(slopes), jnp.stack(acts)
        jac_w = (g[:, None, :] * xt[None, :, :]).reshape(d * k, -1)
        jac = jnp.concatenate([jac_w, g, a, jnp.ones_like(out)[None]])
        tangent = params_dot @ jac
    if not isinstance(xt_dot, zero):
        for i in range(d):
            for j in range(k):
                tangent = tangent + slopes[i] * params[layout.w(i + 1, j + 1)] * xt_dot[j]
    return out, tangent


_narrow_forward.defjvp(_narrow_forward_jvp, symbolic_zeros=True)
