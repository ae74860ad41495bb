"""The lowered JAX functions against plain numpy written here, from the documented maths.

Every expected number is computed independently in numpy (float64): the dataset is
regenerated from the documented recipe (``default_rng(seed)``, inputs, then unit noise), the
network and the truth are written out node by node, energies are typed in by hand, and the
priors' normalising constants come from ``math.erf``.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasedsl.language.check import check
from phasedsl.lower.compile import compile_spec
from phasedsl.language.syntax import parse

SPECS = Path(__file__).resolve().parents[1] / "specs"
PT1_TEXT = (SPECS / "pt1_degeneracy.phase").read_text()
PT2_TEXT = (SPECS / "pt2_cancellation.phase").read_text()
EX41_TEXT = (SPECS / "example_4_1_first_order.phase").read_text()
EX42_TEXT = (SPECS / "example_4_2_merge.phase").read_text()
LOG_2PI = math.log(2 * math.pi)
RTOL = 1e-4


def compile_text(text: str, name: str = "test.phase"):
    return compile_spec(check(parse(text, name)))


def small(text: str, n: int = 200) -> str:
    assert "n = 10000" in text
    return text.replace("n = 10000", f"n = {n}")


# A network whose inputs are normal, with its own seed, a sweep-dependent noise, a tanh model
# of width 3 and a truth of width 1 (m != d).
VARIANT_TEXT = """
sweep theta over 1, 1.5
data { n = 150; x ~ normal(0.5, 2)^2; noise = theta / 2; seed = 5 }
beta = 1 / log(n)
model network(width = 3, activation = tanh)
prior normal(0, 1)
truth network(width = 1, activation = relu) {
  w[1] = [cos(theta), sin(theta)]
  b = 0.1; q = 2; c = 0.5
}
let u[i] = q[i] * w[i]
phase big = any i: norm(u[i]) > 1
"""

# The sample size is the sweep variable: one dataset of max(n) rows, the first n used.
SWEEP_N_TEXT = """
sweep n over 50, 120, 200
data { x ~ uniform(-1, 1)^2; seed = 3 }
beta = 1 / log(n)
model network(width = 2)
truth network(width = 2) {
  w[1] = [1, 0]; w[2] = [0, 1]
  b = -0.3; q = 1; c = 0
}
"""

# Truncated normal priors on boxes.
TRUNC1_TEXT = """
sweep theta over 0, 1
param w in [-2, 2]
prior normal(0, 1)
energy K = (w - theta)^2
let n = 3
phase mid = ball(w, theta, 0.5)
"""

TRUNC2_TEXT = """
sweep theta over 0, 1
param w in [-1, 3]
param v[2]
prior normal(0.5, 2)
energy K = (w - theta)^2 + dot(v, v)
let n = 2
phase near = ball(v, [1, 0], 0.5)
phase left = ball(w, theta - 1, 1/2)
"""


# ---------------------------------------------------------------- numpy reference maths
def relu(z):
    return np.maximum(z, 0.0)


def np_forward(params, x, d, k, act=relu):
    """``c + sum_i q_i act(<w_i, x> + b_i)``, node by node, layout ``w[d,k], b[d], q[d], c``."""
    params = np.asarray(params, np.float64)
    out = np.full(x.shape[0], params[d * k + 2 * d])
    for i in range(d):
        pre = params[d * k + i] + sum(params[i * k + t] * x[:, t] for t in range(k))
        out = out + params[d * k + d + i] * act(pre)
    return out


def pt1_truth(x, theta):
    w1 = (math.cos(theta), math.sin(theta))
    w2 = (-math.cos(theta), math.sin(theta))
    return (relu(w1[0] * x[:, 0] + w1[1] * x[:, 1] - 0.3)
            + relu(w2[0] * x[:, 0] + w2[1] * x[:, 1] - 0.3))


PT2_W = np.array([[0.5, math.sqrt(3) / 2], [-1.0, 0.0], [0.5, -math.sqrt(3) / 2]])


def pt2_truth(x, v):
    q = (1.0, v, 1.0)
    return sum(q[i] * relu(PT2_W[i, 0] * x[:, 0] + PT2_W[i, 1] * x[:, 1] - 0.3) for i in range(3))


def variant_truth(x, theta):
    return 0.5 + 2.0 * relu(math.cos(theta) * x[:, 0] + math.sin(theta) * x[:, 1] + 0.1)


def np_dataset(seed, n, k, dist, truth, noise):
    rng = np.random.default_rng(seed)
    kind, a, b = dist
    x = rng.uniform(a, b, size=(n, k)) if kind == "uniform" else rng.normal(a, b, size=(n, k))
    z = rng.standard_normal(n)
    return x, truth(x) + noise * z


def np_network_logdensity(params, x, y, n_used, noise, d, k, act=relu):
    """``log N(0,1)(params) + beta * sum_j log N(y_j | f(x_j), noise^2)``, beta = 1/log n."""
    params = np.asarray(params, np.float64)
    x, y = x[:n_used], y[:n_used]
    resid = y - np_forward(params, x, d, k, act)
    loglik = np.sum(-0.5 * resid ** 2 / noise ** 2 - 0.5 * np.log(2 * math.pi * noise ** 2))
    logprior = np.sum(-0.5 * params ** 2 - 0.5 * LOG_2PI)
    return logprior + loglik / math.log(n_used)


def Phi(z):
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def phi(z):
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def trunc_logmass(lo, hi, mean, sd):
    return math.log(Phi((hi - mean) / sd) - Phi((lo - mean) / sd))


def np_normal_logpdf(x, mean, sd):
    return -0.5 * ((x - mean) / sd) ** 2 - math.log(sd) - 0.5 * LOG_2PI


_JITTED: dict = {}


def _jitted(c, what):
    """One jitted, vmapped function per compiled spec (the cache keeps ``c`` alive)."""
    key = (id(c), what)
    if key not in _JITTED:
        fn = {"logdensity": c.target.logdensity, "indicators": c.target.indicators,
              "margins": c.target.margins}[what]
        _JITTED[key] = (c, jax.jit(jax.vmap(fn, in_axes=(0, None))))
    return _JITTED[key][1]


def _padded(fn, params, ctx):
    """Pad the batch to a multiple of 16 rows so that small calls share one compilation."""
    params = np.atleast_2d(np.asarray(params, np.float64))
    rows = len(params)
    pad = -rows % 16
    full = np.concatenate([params, np.zeros((pad, params.shape[1]))]) if pad else params
    return np.asarray(fn(jnp.asarray(full, jnp.float32), ctx))[:rows]


def batched(c):
    """``(params f[B, D], value) -> f[B]``, jitted once per compiled spec."""
    fn = _jitted(c, "logdensity")
    return lambda params, value: _padded(fn, params, c.context(value))


def indicators(c, params, value):
    return _padded(_jitted(c, "indicators"), params, c.context(value))


def margins(c, params, value):
    return _padded(_jitted(c, "margins"), params, c.context(value))


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def pt1():
    return compile_text(small(PT1_TEXT), "pt1_small.phase")


@pytest.fixture(scope="module")
def pt2():
    return compile_text(small(PT2_TEXT), "pt2_small.phase")


@pytest.fixture(scope="module")
def ex42():
    return compile_text(EX42_TEXT, "merge.phase")


@pytest.fixture(scope="module")
def trunc1():
    return compile_text(TRUNC1_TEXT, "trunc1.phase")


@pytest.fixture(scope="module")
def trunc2():
    return compile_text(TRUNC2_TEXT, "trunc2.phase")


@pytest.fixture(scope="module")
def pt1_full():
    return compile_text(PT1_TEXT, "pt1_degeneracy.phase")


# ---------------------------------------------------------------- network log-densities
def test_pt1_dataset_matches_numpy(pt1):
    for theta in (1.0, 1.26, math.pi / 2):
        x, y = np_dataset(0, 200, 2, ("uniform", -1, 1), lambda x: pt1_truth(x, theta), 1.0)
        cx, cy = pt1.dataset(theta)
        np.testing.assert_allclose(cx, x, rtol=0, atol=1e-6)
        np.testing.assert_allclose(cy, y, rtol=0, atol=1e-5)


@pytest.mark.parametrize("theta", [1.0, 1.14, 1.26, 1.43, math.pi / 2, 1.2345])
def test_pt1_logdensity_matches_numpy(pt1, theta):
    rng = np.random.default_rng(11)
    params = np.concatenate([rng.standard_normal((5, 9)), 2.5 * rng.standard_normal((2, 9))])
    truth = np.array([math.cos(theta), math.sin(theta), -math.cos(theta), math.sin(theta),
                      -0.3, -0.3, 1, 1, 0])
    params = np.concatenate([params, truth[None]])
    x, y = np_dataset(0, 200, 2, ("uniform", -1, 1), lambda x: pt1_truth(x, theta), 1.0)
    want = [np_network_logdensity(p, x, y, 200, 1.0, 2, 2) for p in params]
    np.testing.assert_allclose(batched(pt1)(params, theta), want, rtol=RTOL)
    # the unbatched convenience method agrees
    np.testing.assert_allclose(float(pt1.logdensity(params[0], theta)), want[0], rtol=RTOL)


@pytest.mark.parametrize("vartheta", [1.0, 1.5, 2.25, 3.0])
def test_pt2_logdensity_matches_numpy(pt2, vartheta):
    rng = np.random.default_rng(12)
    params = np.concatenate([rng.standard_normal((6, 13)), 2.0 * rng.standard_normal((2, 13))])
    x, y = np_dataset(0, 200, 2, ("uniform", -1, 1), lambda x: pt2_truth(x, vartheta), 1.0)
    want = [np_network_logdensity(p, x, y, 200, 1.0, 3, 2) for p in params]
    np.testing.assert_allclose(batched(pt2)(params, vartheta), want, rtol=RTOL)


def test_variant_network_matches_numpy():
    """Normal inputs, seed 5, noise = theta/2, tanh model of width 3, truth of width 1."""
    c = compile_text(VARIANT_TEXT, "variant.phase")
    assert c.dim == 13
    rng = np.random.default_rng(13)
    params = rng.standard_normal((6, 13))
    f = batched(c)
    for theta in (1.0, 1.5, 1.3):
        noise = theta / 2
        x, y = np_dataset(5, 150, 2, ("normal", 0.5, 2), lambda x: variant_truth(x, theta), noise)
        cx, cy = c.dataset(theta)
        np.testing.assert_allclose(cx, x, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(cy, y, rtol=1e-5, atol=1e-5)
        want = [np_network_logdensity(p, x, y, 150, noise, 3, 2, act=np.tanh) for p in params]
        np.testing.assert_allclose(f(params, theta), want, rtol=RTOL)
    # phase `big` = any node with |q_i w_i| > 1
    u = c.unflatten(params)["u"]
    want = np.any(np.linalg.norm(u, axis=-1) > 1, axis=-1)
    np.testing.assert_array_equal(indicators(c, params, 1.0)[:, 0], want)


def test_sweep_n_uses_the_first_n_rows():
    c = compile_text(SWEEP_N_TEXT, "sweep_n.phase")
    w = np.array([[1.0, 0.0], [0.0, 1.0]])

    def truth(x):
        return relu(x @ w[0] - 0.3) + relu(x @ w[1] - 0.3)

    x, y = np_dataset(3, 200, 2, ("uniform", -1, 1), truth, 1.0)
    params = np.random.default_rng(14).standard_normal((5, 9))
    f = batched(c)
    for n in (50, 120, 200):
        want = [np_network_logdensity(p, x, y, n, 1.0, 2, 2) for p in params]
        np.testing.assert_allclose(f(params, n), want, rtol=RTOL)


def test_shipped_pt1_every_sweep_value_one_trace(pt1_full):
    """n = 10000: numpy agrees at every sweep value, and the sweep value is traced (one
    compilation serves all 22 points)."""
    c = pt1_full
    assert len(c.checked.sweep_values) == 22
    np.testing.assert_allclose(c.checked.sweep_values[-1], math.pi / 2)
    traces = [0]

    def logdensity(params, ctx):
        traces[0] += 1
        return c.target.logdensity(params, ctx)

    fn = jax.jit(logdensity)
    params = np.random.default_rng(15).standard_normal(9)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(10000, 2))
    z = rng.standard_normal(10000)
    for theta in c.checked.sweep_values:
        got = float(fn(jnp.asarray(params, jnp.float32), c.context(theta)))
        y = pt1_truth(x, theta) + z
        np.testing.assert_allclose(got, np_network_logdensity(params, x, y, 10000, 1.0, 2, 2),
                                   rtol=RTOL)
    assert traces[0] == 1


# ---------------------------------------------------------------- truths
def test_pt1_truth_values(pt1):
    for theta in (1.0, 1.3, math.pi / 2):
        t = pt1.truth(theta)
        w = np.array([[math.cos(theta), math.sin(theta)], [-math.cos(theta), math.sin(theta)]])
        np.testing.assert_allclose(t["w"], w, atol=1e-6)
        np.testing.assert_allclose(t["b"], [-0.3, -0.3], atol=1e-6)
        np.testing.assert_allclose(t["q"], [1, 1], atol=1e-6)
        np.testing.assert_allclose(t["c"], 0, atol=1e-6)
        np.testing.assert_allclose(t["u"], w, atol=1e-6)


def test_pt1_truth_at_half_pi_is_one_node(pt1):
    t = pt1.truth(math.pi / 2)
    flat = np.concatenate([t["w"].ravel(), t["b"], t["q"], [t["c"]]])
    x = np.random.default_rng(16).uniform(-1, 1, size=(2000, 2))
    np.testing.assert_allclose(np_forward(flat, x, 2, 2), relu(2 * x[:, 1] - 0.6), atol=1e-5)


def pt2_flat(t):
    return np.concatenate([np.asarray(t["w"]).ravel(), t["b"], t["q"], [t["c"]]]).astype(np.float64)


def reversed_params(flat, d=3, k=2):
    """w_i -> -w_i, b_i -> -b_i, q_i unchanged, c -> c - 0.9."""
    out = flat.copy()
    out[: d * k + d] *= -1
    out[-1] -= 0.9
    return out


def permute_nodes(flat, perm, d, k=2):
    """Node i of the result is node perm[i] of ``flat``."""
    w = flat[: d * k].reshape(d, k)
    b, q = flat[d * k: d * k + d], flat[d * k + d: d * k + 2 * d]
    perm = list(perm)
    return np.concatenate([w[perm].ravel(), b[perm], q[perm], flat[-1:]])


def test_pt2_reversal_at_one(pt2):
    t = pt2.truth(1.0)
    np.testing.assert_allclose(t["u"], PT2_W, atol=1e-6)
    np.testing.assert_allclose(t["q"], [1, 1, 1], atol=1e-6)
    truth = pt2_flat(t)
    rev = reversed_params(truth)
    x = np.random.default_rng(17).uniform(-1, 1, size=(2000, 2))
    f_truth = np_forward(truth, x, 3, 2)
    np.testing.assert_allclose(f_truth, pt2_truth(x, 1.0), atol=1e-5)
    np.testing.assert_allclose(np_forward(rev, x, 3, 2), f_truth, atol=1e-5)

    ind = indicators(pt2, np.stack([truth, rev]), 1.0)
    names = pt2.phase_names
    assert names == ("outward", "cancelled")
    np.testing.assert_array_equal(ind, [[True, False], [False, True]])

    # same function -> same likelihood: the log densities differ by the prior on c alone
    got = batched(pt2)(np.stack([truth, rev]), 1.0)
    np.testing.assert_allclose(got[0] - got[1], -0.5 * (0.0 ** 2 - 0.9 ** 2), atol=2e-3)


def test_pt2_truth_moves_with_vartheta(pt2):
    t = pt2.truth(2.0)
    np.testing.assert_allclose(t["q"], [1, 2, 1], atol=1e-6)
    np.testing.assert_allclose(t["u"], PT2_W * np.array([1, 2, 1])[:, None], atol=1e-6)
    truth = pt2_flat(t)
    # u_2 = (-2, 0) reached through w_2 = (-2, 0), q_2 = 1 is the same phase point
    other = truth.copy()
    other[2:4] = [-2.0, 0.0]
    other[6 + 3 + 1] = 1.0
    ind = indicators(pt2, np.stack([truth, other, reversed_params(truth)]), 2.0)
    np.testing.assert_array_equal(ind, [[True, False], [True, False], [False, True]])


# ---------------------------------------------------------------- phase predicates
def pt1_point(u1, u2, q=(1.0, 1.0), b=(0.1, -0.2), c=0.3):
    w1, w2 = np.asarray(u1, float) / q[0], np.asarray(u2, float) / q[1]
    return np.concatenate([w1, w2, b, q, [c]])


def direction(angle):
    return np.array([math.cos(angle), math.sin(angle)])


@pytest.mark.parametrize("case", [
    # (|u_1|, |u_2|, q, nondegenerate, degenerate)
    (0.1, 2.1, (1, 1), False, True),
    (2.1, 0.1, (1, 1), False, True),         # nodes swapped: `symmetric`
    (0.1, 2.1, (2.0, -0.5), False, True),    # u = q w, not w
    (2.1, 0.1, (-3.0, 0.25), False, True),
    (1.0, 1.0, (1, 1), True, False),
    (1.0, 1.0, (0.5, -2.0), True, False),
    (0.29, 2.0, (1, 1), False, True),        # disc: |u| < 0.3
    (0.31, 2.0, (1, 1), False, False),
    (0.0, 1.71, (1, 1), False, True),        # annulus(2): 1.7 < |u| < 2.3
    (0.0, 1.69, (1, 1), False, False),
    (0.0, 2.29, (1, 1), False, True),
    (0.0, 2.31, (1, 1), False, False),
    (2.29, 0.29, (1, 1), False, True),
    (2.31, 0.29, (1, 1), False, False),
    (0.71, 1.0, (1, 1), True, False),        # annulus(1): 0.7 < |u| < 1.3
    (0.69, 1.0, (1, 1), False, False),
    (1.0, 1.29, (1, 1), True, False),
    (1.0, 1.31, (1, 1), False, False),
    (1.29, 0.71, (1, 1), True, False),
    (0.1, 0.1, (1, 1), False, False),
    (2.0, 2.0, (1, 1), False, False),
])
def test_pt1_phase_points(pt1, case):
    n1, n2, q, nondeg, deg = case
    assert pt1.phase_names == ("nondegenerate", "degenerate")
    for a1, a2 in ((0.3, 2.0), (-2.5, 1.1)):
        p = pt1_point(n1 * direction(a1), n2 * direction(a2), q=q)
        for theta in (1.0, math.pi / 2):
            np.testing.assert_array_equal(indicators(pt1, p, theta)[0], [nondeg, deg])


def np_pt1_phases(u, eps=0.3):
    r = np.linalg.norm(u, axis=-1)  # [B, 2]

    def ann(x, centre):
        return (centre - eps < x) & (x < centre + eps)

    nondeg = ann(r[:, 0], 1) & ann(r[:, 1], 1)
    deg = (ann(r[:, 0], 0) & ann(r[:, 1], 2)) | (ann(r[:, 1], 0) & ann(r[:, 0], 2))
    return np.stack([nondeg, deg], axis=1)


def pt1_random_points(rng, count: int):
    """``(params f[count, 9], u f[count, 2, 2])``: PT1 parameters whose nodes ``u_i = q_i w_i``
    sit near radius 0, 1 or 2 in random directions, with random signs and scales of ``q``."""
    radii = rng.choice([0.0, 1.0, 2.0], size=(count, 2)) + 0.45 * rng.standard_normal((count, 2))
    angles = rng.uniform(-math.pi, math.pi, size=(count, 2))
    u = np.abs(radii)[..., None] * np.stack([np.cos(angles), np.sin(angles)], -1)
    q = rng.choice([-1.0, 1.0], size=(count, 2)) * rng.uniform(0.3, 2.0, size=(count, 2))
    w = u / q[..., None]
    params = np.concatenate([w.reshape(count, 4), rng.standard_normal((count, 2)), q,
                             rng.standard_normal((count, 1))], axis=1)
    return params, q[..., None] * w


def test_pt1_phases_random_points(pt1):
    params, u = pt1_random_points(np.random.default_rng(18), 3000)
    want = np_pt1_phases(u)
    got = indicators(pt1, params, 1.26)
    # both phases are exercised
    assert want[:, 0].sum() > 100 and want[:, 1].sum() > 100
    np.testing.assert_array_equal(got, want)


def test_pt1_margins_by_hand_and_signed_like_the_phases(pt1):
    """A phase's margin is positive exactly where it holds, and is the distance to the
    nearest edge of the comparisons: ``annulus(u, r, eps)``: ``eps - ||u| - r|``;
    ``disc(u, eps)``: ``eps - |u|``; ``and``: the least; ``symmetric``: the best order."""
    params, u = pt1_random_points(np.random.default_rng(20), 2000)
    r = np.linalg.norm(u, axis=-1)  # f[count, 2]
    eps = 0.3
    nondegenerate = np.minimum(eps - np.abs(r[:, 0] - 1), eps - np.abs(r[:, 1] - 1))
    degenerate = np.maximum(np.minimum(eps - r[:, 0], eps - np.abs(r[:, 1] - 2)),
                            np.minimum(eps - r[:, 1], eps - np.abs(r[:, 0] - 2)))
    got = margins(pt1, params, 1.0)
    np.testing.assert_allclose(got, np.stack([nondegenerate, degenerate], 1), atol=2e-5)
    inside = indicators(pt1, params, 1.0)
    clear = np.abs(got) > 1e-5  # ties at an edge are rounding's to decide
    assert inside.sum(0).min() > 100 and (~inside).sum(0).min() > 100
    np.testing.assert_array_equal((got > 0)[clear], inside[clear])


def test_margins_of_not_and_or_are_signed_like_the_phases():
    c = compile_text("""experiment "m"
sweep t over 0, 1
param x in [-2, 2]
param y in [-2, 2]
prior uniform
energy K = x^2 + y^2
let n = 10
phase a = not (x > t or y <= -0.5)
phase b = disc([x, y], 1) or x >= 1.5
sample quadrature { points = 11 }
""", "m.phase")
    pts = np.random.default_rng(21).uniform(-2, 2, size=(500, 2))
    got = margins(c, pts, 1.0)
    x, y = pts.T
    want_a = -np.maximum(x - 1.0, -0.5 - y)
    want_b = np.maximum(1 - np.hypot(x, y), x - 1.5)
    np.testing.assert_allclose(got, np.stack([want_a, want_b], 1), atol=1e-5)
    np.testing.assert_array_equal((got > 0)[np.abs(got) > 1e-5],
                                  indicators(c, pts, 1.0)[np.abs(got) > 1e-5])


def np_pt2_phases(u, centres, eps=0.25):
    """``symmetric(all i: |u_i - centre_i| <= eps)`` over the 6 permutations."""
    out = np.zeros(len(u), bool)
    for perm in itertools.permutations(range(3)):
        out |= np.all(np.linalg.norm(u[:, list(perm)] - centres, axis=-1) <= eps, axis=-1)
    return out


def test_pt2_outward_under_every_permutation(pt2):
    for vartheta in (1.0, 1.7):
        truth = pt2_flat(pt2.truth(vartheta))
        rev = reversed_params(truth)
        perms = list(itertools.permutations(range(3)))
        pts = np.stack([permute_nodes(truth, p, 3) for p in perms]
                       + [permute_nodes(rev, p, 3) for p in perms])
        want = np.array([[True, False]] * 6 + [[False, True]] * 6)
        np.testing.assert_array_equal(indicators(pt2, pts, vartheta), want)
        # one node moved out of its ball (0.26 > eps) breaks it, whatever the order
        moved = truth.copy()
        moved[0] += 0.26
        pts = np.stack([permute_nodes(moved, p, 3) for p in perms])
        np.testing.assert_array_equal(indicators(pt2, pts, vartheta), [[False, False]] * 6)
        moved[0] -= 0.02  # 0.24 < eps
        pts = np.stack([permute_nodes(moved, p, 3) for p in perms])
        np.testing.assert_array_equal(indicators(pt2, pts, vartheta), [[True, False]] * 6)


def test_pt2_phases_random_points(pt2):
    rng = np.random.default_rng(19)
    count = 2000
    vartheta = 1.4
    tu = PT2_W * np.array([1, vartheta, 1])[:, None]
    sign = rng.choice([-1.0, 1.0], size=(count, 1, 1))
    perm = np.stack([rng.permutation(3) for _ in range(count)])
    u = sign * tu[perm] + 0.12 * rng.standard_normal((count, 3, 2))
    q = rng.choice([-1.0, 1.0], size=(count, 3)) * rng.uniform(0.3, 2.0, size=(count, 3))
    w = u / q[..., None]
    params = np.concatenate([w.reshape(count, 6), rng.standard_normal((count, 3)), q,
                             rng.standard_normal((count, 1))], axis=1)
    u = q[..., None] * w
    want = np.stack([np_pt2_phases(u, tu), np_pt2_phases(u, -tu)], axis=1)
    assert want[:, 0].sum() > 50 and want[:, 1].sum() > 50 and (~want).all(1).sum() > 50
    np.testing.assert_array_equal(indicators(pt2, params, vartheta), want)


def test_energy_balls(ex42, trunc2):
    c = ex42
    assert c.phase_names == ("left", "right")
    # theta = 0.5: left = [-1, 0], right = [0, 1] (balls are closed)
    pts = np.array([[-1.0], [-0.5], [0.0], [1.0], [-1.01], [1.01], [0.5], [1.9]])
    want = [[1, 0], [1, 0], [1, 1], [0, 1], [0, 0], [0, 0], [0, 1], [0, 0]]
    np.testing.assert_array_equal(indicators(c, pts, 0.5), np.array(want, bool))
    # theta = 0.2: left = [-1.3, -0.3], right = [0.3, 1.3]
    pts = np.array([[-1.29], [-1.31], [-0.31], [-0.29], [0.29], [0.31], [1.29], [1.31]])
    want = [[1, 0], [0, 0], [1, 0], [0, 0], [0, 0], [0, 1], [0, 1], [0, 0]]
    np.testing.assert_array_equal(indicators(c, pts, 0.2), np.array(want, bool))
    # theta = 1: both centred at 0
    np.testing.assert_array_equal(indicators(c, np.array([[0.49], [-0.51]]), 1.0),
                                  [[True, True], [False, False]])

    c = trunc2
    assert c.phase_names == ("near", "left")
    # params: w, v1, v2; near = |v - (1, 0)| <= 0.5, left = |w - (theta - 1)| <= 0.5
    pts = np.array([[0.0, 1.3, 0.39], [0.0, 1.3, 0.41], [-1.0, 0.6, 0.0], [-0.45, 0.0, 0.0],
                    [-0.55, 1.0, -0.49]])
    want = [[1, 1], [0, 1], [1, 0], [0, 1], [1, 0]]  # theta = 1: left = [-0.5, 0.5]
    np.testing.assert_array_equal(indicators(c, pts, 1.0), np.array(want, bool))
    want = [[1, 0], [0, 0], [1, 1], [0, 0], [1, 1]]  # theta = 0: left = [-1.5, -0.5]
    np.testing.assert_array_equal(indicators(c, pts, 0.0), np.array(want, bool))


# ---------------------------------------------------------------- energy log-densities
def k41(w):
    t = (0.1 / 16) ** (1 / 3)
    return (w + 1) ** 2 * ((w - 1 - t) ** 4 + 4 * t ** 3 - t ** 4)


def k42(w, theta):
    return (w + 1 - theta) ** 2 * (w - 1 + theta) ** 4


W_GRID = np.concatenate([np.linspace(-2, 2, 41), [-1.0, 1.0, 0.123, -1.777]])


def test_example_4_1_logdensity():
    c = compile_text(EX41_TEXT, "first_order.phase")
    f = batched(c)
    for n in (1, 5, 10, 30, 7.5):
        want = -math.log(4) - n * k41(W_GRID)
        np.testing.assert_allclose(f(W_GRID[:, None], n), want, rtol=RTOL, atol=1e-5)
    out = f(np.array([[2.01], [-2.01], [5.0], [-100.0]]), 10)
    assert np.all(out == -np.inf)


def test_example_4_2_logdensity(ex42):
    c = ex42
    f = batched(c)
    for theta in (0.0, 0.3, 0.5, 1.0):
        want = -math.log(4) - 10 * k42(W_GRID, theta)
        np.testing.assert_allclose(f(W_GRID[:, None], theta), want, rtol=RTOL, atol=1e-5)
    out = f(np.array([[2.01], [-2.01], [3.0]]), 0.5)
    assert np.all(out == -np.inf)
    # the prior alone is the normalised uniform on [-2, 2]
    ctx = c.context(0.5)
    np.testing.assert_allclose(float(c.target.logprior(jnp.array([0.7]), ctx)), -math.log(4),
                               rtol=1e-6)


def test_truncated_normal_prior_on_a_box(trunc1):
    c = trunc1
    f = batched(c)
    log_mass = trunc_logmass(-2, 2, 0, 1)
    for theta in (0.0, 1.0, 0.4):
        want = np_normal_logpdf(W_GRID, 0, 1) - log_mass - 3 * (W_GRID - theta) ** 2
        np.testing.assert_allclose(f(W_GRID[:, None], theta), want, rtol=RTOL, atol=1e-5)
    assert np.all(f(np.array([[2.01], [-2.5]]), 0.0) == -np.inf)
    # normalised on the box: the prior density integrates to 1 over [-2, 2]
    grid = np.linspace(-2, 2, 4001)
    ctx = c.context(0.0)
    lp = np.asarray(jax.vmap(c.target.logprior, in_axes=(0, None))(
        jnp.asarray(grid[:, None], jnp.float32), ctx), np.float64)
    np.testing.assert_allclose(np.trapezoid(np.exp(lp), grid), 1.0, rtol=1e-5)


def test_truncated_normal_prior_mixed_box(trunc2):
    """w in [-1, 3] (truncated N(0.5, 2)), v[2] unbounded (plain N(0.5, 2))."""
    c = trunc2
    rng = np.random.default_rng(20)
    pts = np.column_stack([rng.uniform(-1, 3, 30), 3 * rng.standard_normal((30, 2))])
    log_mass = trunc_logmass(-1, 3, 0.5, 2)
    f = batched(c)
    for theta in (0.0, 1.0):
        want = (np_normal_logpdf(pts, 0.5, 2).sum(1) - log_mass
                - 2 * ((pts[:, 0] - theta) ** 2 + (pts[:, 1:] ** 2).sum(1)))
        np.testing.assert_allclose(f(pts, theta), want, rtol=RTOL, atol=1e-5)
    out = f(np.array([[-1.01, 0.0, 0.0], [3.01, 0.0, 0.0], [0.0, 50.0, -50.0]]), 0.0)
    assert out[0] == -np.inf and out[1] == -np.inf and np.isfinite(out[2])


# ---------------------------------------------------------------- unflatten
def test_unflatten_network(pt1, pt2):
    rng = np.random.default_rng(21)
    for c, d in ((pt1, 2), (pt2, 3)):
        dim = 4 * d + 1
        params = rng.standard_normal((3, 4, dim))
        out = c.unflatten(params)
        assert set(out) == {"w", "b", "q", "c", "u"}
        w = np.empty((3, 4, d, 2))
        for i in range(d):
            for t in range(2):
                w[..., i, t] = params[..., 2 * i + t]
        b = params[..., 2 * d: 3 * d]
        q = params[..., 3 * d: 4 * d]
        assert out["w"].shape == (3, 4, d, 2) and out["u"].shape == (3, 4, d, 2)
        assert out["b"].shape == (3, 4, d) and out["q"].shape == (3, 4, d)
        assert out["c"].shape == (3, 4)
        np.testing.assert_allclose(out["w"], w)
        np.testing.assert_allclose(out["b"], b)
        np.testing.assert_allclose(out["q"], q)
        np.testing.assert_allclose(out["c"], params[..., -1])
        np.testing.assert_allclose(out["u"], q[..., None] * w, rtol=1e-6, atol=1e-6)
        # one vector, no batch axes
        one = c.unflatten(params[0, 0])
        assert one["w"].shape == (d, 2) and one["c"].shape == ()
        np.testing.assert_allclose(one["u"], q[0, 0, :, None] * w[0, 0], rtol=1e-6, atol=1e-6)


def test_unflatten_energy(trunc2):
    c = trunc2
    params = np.random.default_rng(22).standard_normal((5, 2, 3))
    out = c.unflatten(params)
    assert set(out) == {"w", "v"}
    assert out["w"].shape == (5, 2) and out["v"].shape == (5, 2, 2)
    np.testing.assert_allclose(out["w"], params[..., 0])
    np.testing.assert_allclose(out["v"], params[..., 1:])


# ---------------------------------------------------------------- init draws from the prior
def draws(c, value, count=4000, seed=0):
    keys = jax.random.split(jax.random.PRNGKey(seed), count)
    return np.asarray(jax.vmap(c.target.init, in_axes=(0, None))(keys, c.context(value)),
                      np.float64)


def test_init_normal_prior(pt1):
    x = draws(pt1, 1.0)
    assert x.shape == (4000, 9) and np.all(np.isfinite(x))
    np.testing.assert_allclose(x.mean(0), 0, atol=0.07)
    np.testing.assert_allclose(x.std(0), 1, atol=0.05)
    # not all coordinates identical (independent draws per coordinate)
    assert np.abs(np.corrcoef(x.T) - np.eye(9)).max() < 0.08


def test_init_uniform_prior(ex42):
    c = ex42
    x = draws(c, 0.5)[:, 0]
    assert np.all((x >= -2) & (x <= 2))
    np.testing.assert_allclose(x.mean(), 0, atol=0.07)
    np.testing.assert_allclose(x.std(), 4 / math.sqrt(12), atol=0.05)
    assert x.min() < -1.95 and x.max() > 1.95


def trunc_moments(lo, hi, mean, sd):
    a, b = (lo - mean) / sd, (hi - mean) / sd
    z = Phi(b) - Phi(a)
    m = (phi(a) - phi(b)) / z
    var = 1 + (a * phi(a) - b * phi(b)) / z - m * m
    return mean + sd * m, sd * math.sqrt(var)


def test_init_truncated_normal_prior(trunc1, trunc2):
    c = trunc1
    x = draws(c, 0.0)[:, 0]
    assert np.all((x >= -2) & (x <= 2))
    mean, sd = trunc_moments(-2, 2, 0, 1)
    np.testing.assert_allclose(x.mean(), mean, atol=0.05)
    np.testing.assert_allclose(x.std(), sd, atol=0.04)

    c = trunc2
    x = draws(c, 0.0, seed=1)
    assert np.all((x[:, 0] >= -1) & (x[:, 0] <= 3))
    mean, sd = trunc_moments(-1, 3, 0.5, 2)
    np.testing.assert_allclose(x[:, 0].mean(), mean, atol=0.06)
    np.testing.assert_allclose(x[:, 0].std(), sd, atol=0.05)
    np.testing.assert_allclose(x[:, 1:].mean(0), 0.5, atol=0.12)
    np.testing.assert_allclose(x[:, 1:].std(0), 2, atol=0.1)


# ---------------------------------------------------------------- known bug (see the report)
TAIL_TEXT = """
sweep theta over 0, 1
param w in [6, 7]
prior normal(0, 1)
energy K = (w - theta)^2
let n = 1
"""


def test_truncated_normal_prior_in_the_tail():
    c = compile_text(TAIL_TEXT, "tail.phase")
    upper_tail = 0.5 * math.erfc(6 / math.sqrt(2)) - 0.5 * math.erfc(7 / math.sqrt(2))
    want = np_normal_logpdf(6.5, 0, 1) - math.log(upper_tail)
    got = float(c.target.logprior(jnp.array([6.5], jnp.float32), c.context(0.0)))
    np.testing.assert_allclose(got, want, rtol=1e-4)
    x = draws(c, 0.0)[:, 0]
    mean = (phi(6) - phi(7)) / upper_tail  # E[z | 6 < z < 7], about 6.158
    assert np.all((x >= 6) & (x <= 7))
    np.testing.assert_allclose(x.mean(), mean, atol=0.02)
    assert x.std() > 0.1


def test_network_layout_indices_split_and_permutations():
    from phasedsl.language.layout import NetworkLayout

    lay = NetworkLayout(width=3, inputs=2)
    assert lay.dim == 3 * 2 + 2 * 3 + 1
    assert (lay.w(2, 2), lay.b(1), lay.q(3), lay.c) == (3, 6, 11, 12)  # 1-based names
    params = np.arange(2 * lay.dim, dtype=float).reshape(2, lay.dim)
    w, b, q, c = lay.split(params)
    assert w.shape == (2, 3, 2) and b.shape == q.shape == (2, 3) and c.shape == (2,)
    np.testing.assert_array_equal(np.concatenate([w.reshape(2, -1), b, q, c[:, None]], 1), params)
    perms = lay.permutations()
    assert perms.shape == (6, lay.dim) and perms.dtype == np.int32
    np.testing.assert_array_equal(perms[0], np.arange(lay.dim))
    for row, perm in zip(perms, itertools.permutations(range(3))):
        pw, pb, pq, pc = lay.split(params[0][row])
        np.testing.assert_array_equal(pw, w[0][list(perm)])
        np.testing.assert_array_equal(pb, b[0][list(perm)])
        np.testing.assert_array_equal(pq, q[0][list(perm)])
        assert pc == c[0]


def test_context_is_a_record(pt1, ex42):
    from phasedsl.lower.target import Context

    ctx = pt1.context(1.2)
    assert isinstance(ctx, Context) and ctx.value.shape == ()
    n = ctx.y.shape[0]
    assert ctx.xt.shape == (2, n) and ctx.mask.shape == (n,)
    energy = ex42.context(0.5)
    assert isinstance(energy, Context) and energy.xt is None and energy.y is None
    assert float(energy.value) == 0.5
