"""``symmetric(P)`` in tensor specs: the hidden units found from the model expression
(``language.hidden_units``), the model's invariance under their permutations (the compiled
log likelihood, so the inference is sound), and the phase indicator against an OR over the
permutations worked out by hand in numpy."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasedsl.language.check import check
from phasedsl.language.syntax import parse
from phasedsl.lower.compile import compile_spec

GAUSS = "data {{ n = 64; x ~ normal(0, 1)^{k}; noise = 1; seed = 2 }}\n"
LABELS = "data {{ n = 64; x ~ normal(0, 1)^{k}; seed = 2 }}\n"

# name -> (spec body, inputs, likelihood head, the hidden layers worked out by hand)
MODELS = {
    "two_layer": (
        "param W1[3, 2]\nparam b1[3]\nparam W2[1, 3]\n"
        "model y = W2 @ tanh(W1 @ x + b1)\ntruth y = [x[1]]\n", 2, GAUSS,
        [(3, [("W1", 0), ("b1", 0), ("W2", 1)])]),
    "deep_linear": (
        "param W1[3, 2]\nparam W2[2, 3]\nparam W3[2, 2]\n"
        "model y = W3 @ W2 @ W1 @ x\ntruth y = x\n", 2, GAUSS,
        [(3, [("W1", 0), ("W2", 1)]), (2, [("W2", 0), ("W3", 1)])]),
    "deep_relu_let": (
        "param W1[3, 2]\nparam b1[3]\nparam W2[2, 3]\nparam W3[2, 2]\n"
        "let h = relu(W1 @ x + b1)\nmodel y = W3 @ gelu(W2 @ h)\ntruth y = x\n", 2, GAUSS,
        [(3, [("W1", 0), ("b1", 0), ("W2", 1)]), (2, [("W2", 0), ("W3", 1)])]),
    "superposition": (
        "param W[2, 6]\nparam b[6]\nmodel y = relu(W.T @ W @ x + b)\ntruth y = x\n", 6, GAUSS,
        [(2, [("W", 0)])]),
    "invariant_reductions": (
        "param W1[3, 2]\nparam W2[1, 3]\n"
        "model y = (W2 @ sigmoid(W1 @ x)) * (1 + sv(W1, 1) + norm(W2) + sum(W1))\n"
        "truth y = [x[1]]\n", 2, GAUSS,
        [(3, [("W1", 0), ("W2", 1)])]),
    "bernoulli": (
        "param W[3, 2]\nparam b[3]\nparam v[3]\nparam c\n"
        "model y ~ bernoulli(logits = dot(v, tanh(W @ x + b)) + c)\n"
        "truth y ~ bernoulli(logits = x[1])\n", 2, LABELS,
        [(3, [("W", 0), ("b", 0), ("v", 0)])]),
    "categorical": (
        "param W1[4, 2]\nparam W2[3, 4]\n"
        "model y ~ categorical(logits = W2 @ relu(W1 @ x))\n"
        "truth y ~ categorical(logits = [x[1], x[2], 0])\n", 2, LABELS,
        [(4, [("W1", 0), ("W2", 1)])]),
    "linear": (
        "param W[2, 2]\nmodel y = W @ x\ntruth y = x\n", 2, GAUSS, []),
    "square_chain": (  # W's rows tied to its columns, and those to x
        "param W[2, 2]\nparam V[2, 2]\nmodel y = V @ W @ W @ x\ntruth y = x\n", 2, GAUSS, []),
    "subscripted": (
        "param W1[3, 2]\nparam W2[1, 3]\nmodel y = W2 @ tanh(W1 @ x) + W1[2, 1]\n"
        "truth y = [x[1]]\n", 2, GAUSS, []),
    "literal_weights": (
        "param W1[3, 2]\nparam W2[1, 3]\nmodel y = W2 @ ([1, 2, 3] * tanh(W1 @ x))\n"
        "truth y = [x[1]]\n", 2, GAUSS, []),
    "eye": (
        "param W1[3, 2]\nparam W2[1, 3]\nmodel y = W2 @ (eye(3) @ tanh(W1 @ x))\n"
        "truth y = [x[1]]\n", 2, GAUSS, []),
    "count": (  # the index picks W1's rows one by one
        "param W1[3, 2]\nparam W2[1, 3]\n"
        "model y = W2 @ tanh(W1 @ x) * (count i: norm(W1[i, :]) > 1)\n"
        "truth y = [x[1]]\n", 2, GAUSS, []),
}


def spec_text(name: str, phases: str = "") -> str:
    body, k, head, _ = MODELS[name]
    return head.format(k=k) + body + phases


def checked_of(name: str, phases: str = ""):
    return check(parse(spec_text(name, phases), f"{name}.phase"))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_hidden_units_by_hand(name):
    hidden = checked_of(name).tensor.hidden
    got = [(layer.size, list(layer.axes)) for layer in hidden.layers]
    assert got == MODELS[name][3]
    assert hidden.group_size == math.prod(math.factorial(s) for s, _ in got)


def test_deep_group_is_the_product_of_the_layers_permutations():
    assert checked_of("deep_linear").tensor.hidden.group_size == 3 * 2 * 2


def test_layers_in_words():
    checked = checked_of("two_layer")
    dims = {s.name: s.shape for s in checked.slots}
    assert checked.tensor.hidden.layers[0].text(dims) == (
        "3 units (rows of W1, entries of b1, columns of W2)")


def group(hidden) -> list[tuple[tuple[int, ...], ...]]:
    """Every element: one permutation per layer (itertools, not the code under test)."""
    return list(itertools.product(*(itertools.permutations(range(layer.size))
                                    for layer in hidden.layers)))


def permuted(flat: np.ndarray, checked, layers, element) -> np.ndarray:
    """``flat f[D]`` with each layer's axes reordered: ``W'[i, :] = W[perm[i], :]``."""
    blocks = {s.name: flat[s.start: s.start + s.size].reshape(s.shape) for s in checked.slots}
    for layer, perm in zip(layers, element):
        for name, axis in layer.axes:
            blocks[name] = np.take(blocks[name], np.asarray(perm), axis=axis)
    return np.concatenate([blocks[s.name].reshape(-1) for s in checked.slots])


def logliks(comp, points: np.ndarray) -> np.ndarray:
    ctx = comp.context(0.0)
    return np.asarray(jax.jit(jax.vmap(comp.target.loglik, in_axes=(0, None)))(
        jnp.asarray(points, jnp.float32), ctx), float)


@pytest.mark.parametrize("name", [n for n in sorted(MODELS) if MODELS[n][3]])
def test_model_is_unchanged_by_every_permutation_of_the_hidden_units(name):
    checked = checked_of(name)
    comp = compile_spec(checked)
    hidden = checked.tensor.hidden
    rng = np.random.default_rng(7)
    for _ in range(3):
        w = rng.normal(size=checked.dim).astype(np.float32)
        points = np.stack([permuted(w, checked, hidden.layers, g) for g in group(hidden)])
        got = logliks(comp, points)
        np.testing.assert_allclose(got, got[0], rtol=2e-5, atol=1e-3)


def test_a_permutation_of_an_axis_that_is_not_hidden_changes_the_model():
    """The check above can fail: reordering W1's columns (tied to ``x``) moves the
    likelihood, and so does reordering W1's rows alone (without b1 and W2's columns)."""
    checked = checked_of("two_layer")
    comp = compile_spec(checked)
    w = np.random.default_rng(3).normal(size=checked.dim).astype(np.float32)
    from phasedsl.language.hidden_units import HiddenLayer

    columns = [HiddenLayer(2, (("W1", 1),))]
    rows_alone = [HiddenLayer(3, (("W1", 0),))]
    got = logliks(comp, np.stack([w, permuted(w, checked, columns, [(1, 0)]),
                                  permuted(w, checked, rows_alone, [(1, 2, 0)])]))
    assert abs(got[1] - got[0]) > 1e-2 and abs(got[2] - got[0]) > 1e-2


def indicators(comp, points: np.ndarray) -> np.ndarray:
    ctx = comp.context(0.0)
    return np.asarray(jax.jit(jax.vmap(comp.target.indicators, in_axes=(0, None)))(
        jnp.asarray(points, jnp.float32), ctx))


ROWS = ("phase sym = symmetric(norm(W1[1, :]) < 0.3 and norm(W1[2, :]) > 1)\n"
        "phase plain = norm(W1[1, :]) < 0.3 and norm(W1[2, :]) > 1\n")


def row_points(checked, count: int, seed: int) -> np.ndarray:
    """Points whose W1 rows have norms 0.1, 0.6 or 2 (so the condition both holds and
    fails, for some row orders only)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(count, checked.dim))
    rows = rng.normal(size=(count, 3, 2))
    rows /= np.linalg.norm(rows, axis=2, keepdims=True)
    rows *= rng.choice([0.1, 0.6, 2.0], size=(count, 3, 1))
    w[:, :6] = rows.reshape(count, 6)  # W1 is the first block
    return w.astype(np.float32)


def test_symmetric_indicator_is_the_or_over_row_orders_by_hand():
    checked = checked_of("two_layer", ROWS)
    comp = compile_spec(checked)
    points = row_points(checked, 300, 0)
    got = indicators(comp, points)
    norms = np.linalg.norm(points[:, :6].reshape(-1, 3, 2).astype(float), axis=2)
    # some row order puts a short row first and a long one second: two distinct rows
    want = np.array([any(n[a] < 0.3 and n[b] > 1 for a in range(3) for b in range(3) if a != b)
                     for n in norms])
    plain = (norms[:, 0] < 0.3) & (norms[:, 1] > 1)
    np.testing.assert_array_equal(got[:, 0], want)
    np.testing.assert_array_equal(got[:, 1], plain)
    assert 0 < want.sum() < len(want) and (want & ~plain).any()


DEEP = ("phase sym = symmetric(W2[1, 2] > 1 and W1[1, 1] > 0)\n"
        "phase nested = symmetric(symmetric(W1[1, 1] > 1) and W3[1, 1] > 0)\n")


def test_product_group_and_nested_symmetric_by_hand():
    """Two layers permuted independently: ``W2'[a, b] = W2[s(a), t(b)]``,
    ``W1'[a, :] = W1[t(a), :]``, so the first phase holds where some ``W2[i, j] > 1`` and
    ``W1[k, 1] > 0`` with ``k != j``. A nested ``symmetric`` is invariant, so the second
    holds where some ``W1[r, 1] > 1`` and some ``W3[1, c] > 0``."""
    checked = checked_of("deep_linear", DEEP)
    comp = compile_spec(checked)
    rng = np.random.default_rng(1)
    points = (rng.normal(size=(400, checked.dim)) * rng.choice([0.3, 1.5], size=(400, 1)))
    got = indicators(comp, points.astype(np.float32))
    p = points.astype(np.float32).astype(float)
    w1, w2, w3 = p[:, :6].reshape(-1, 3, 2), p[:, 6:12].reshape(-1, 2, 3), p[:, 12:].reshape(-1, 2, 2)
    first = np.array([any(w2[n, i, j] > 1 and w1[n, k, 0] > 0 for i in range(2)
                          for j in range(3) for k in range(3) if k != j) for n in range(len(p))])
    second = (w1[:, :, 0] > 1).any(axis=1) & (w3[:, 0, :] > 0).any(axis=1)
    np.testing.assert_array_equal(got[:, 0], first)
    np.testing.assert_array_equal(got[:, 1], second)
    assert 0 < first.sum() < len(p) and 0 < second.sum() < len(p)


def test_symmetric_indicator_is_invariant_under_the_group():
    checked = checked_of("deep_relu_let", "phase sym = symmetric(norm(W1[1, :]) < 0.8 and "
                                          "W3[2, 1] > 0.5 and b1[2] > 0)\n"
                                          "phase plain = norm(W1[1, :]) < 0.8 and W3[2, 1] > 0.5 "
                                          "and b1[2] > 0\n")
    comp = compile_spec(checked)
    hidden = checked.tensor.hidden
    rng = np.random.default_rng(4)
    w = rng.normal(size=(40, checked.dim)).astype(np.float32)
    elements = group(hidden)
    points = np.stack([permuted(p, checked, hidden.layers, g) for p in w for g in elements])
    got = indicators(comp, points).reshape(len(w), len(elements), 2)
    assert (got[:, :, 0] == got[:, :1, 0]).all()  # the same at every element
    assert (got[:, :, 1] != got[:, :1, 1]).any()  # the plain phase is not invariant
    assert 0 < got[:, 0, 0].sum() < len(w)
    np.testing.assert_array_equal(got[:, 0, 0], got[:, :, 1].any(axis=1))


LETS = """sweep theta over 0, 1
data { n = 50; x ~ normal(0, 1)^2; noise = 1 }
param W1[3, 2]
param W2[1, 3]
let big = W1[1, 1] > theta
let s = norm(W1[1, :])
model y = W2 @ tanh(W1 @ x)
truth y = [x[1]]
phase each = all i: symmetric(W1[i, 1] > 0)
phase let_cond = symmetric(big)
phase let_number = s < 0.5 or symmetric(s < 0.5)
"""


@pytest.mark.parametrize("theta", [0.0, 1.0])
def test_lets_the_sweep_and_an_index_inside_symmetric(theta):
    """Lets are evaluated afresh on the permuted parameters (``s`` is used outside the
    ``symmetric`` too), the sweep variable and an enclosing index are kept."""
    comp = compile_spec(check(parse(LETS, "lets.phase")))
    w = np.random.default_rng(5).normal(size=(300, 9)).astype(np.float32)
    ind = np.asarray(jax.vmap(comp.target.indicators, in_axes=(0, None))(
        jnp.asarray(w), comp.context(theta)))
    rows = w[:, :6].reshape(-1, 3, 2).astype(float)
    np.testing.assert_array_equal(ind[:, 0], (rows[:, :, 0] > 0).any(axis=1))
    np.testing.assert_array_equal(ind[:, 1], (rows[:, :, 0] > theta).any(axis=1))
    np.testing.assert_array_equal(ind[:, 2], (np.linalg.norm(rows, axis=2) < 0.5).any(axis=1))
    assert 0 < ind[:, 1].sum() < len(w)
