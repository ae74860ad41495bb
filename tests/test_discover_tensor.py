"""``phasedsl discover`` on tensor specs: ends that are one function merged whatever exact
parameter symmetry relates them (the compiled model's predictions on probes), words from
matrix invariants (a TMS 5-gon reads as 5 active columns 72 degrees apart), and conditions
from those invariants that check and select the points they were fitted on."""

from __future__ import annotations

import numpy as np
import pytest

from phasedsl.analysis.tensor_basins import (describe_tensor, features, fit_condition,
                                             matrix_summary, same_function, signature)
from phasedsl.pipeline.spec import load_text

LINEAR = """experiment "a linear network"
sweep n over 200
data { x ~ normal(0, 1)^3; noise = 1 }
param W1[3, 3]
param W2[3, 3]
prior normal(0, 1)
model y = W2 @ W1 @ x
truth y = diag([1, 0.5, 0]) @ x
"""

TMS = """experiment "tms"
sweep n over 200
data { x ~ sparse(c = 6, k = 1); noise = 0.5; seed = 0 }
param W[2, 6]
param b[6]
prior normal(0, 1)
model y = relu(W.T @ W @ x + b)
truth y = x
"""


def gon(k: int, c: int = 6, r: float = 1.2, turn: float = 0.3) -> np.ndarray:
    """``f[2, c]``: a k-gon, its ``k`` first columns of norm ``r`` at 360/k degrees, the
    others 0."""
    ang = turn + 2 * np.pi * np.arange(k) / k
    w = np.zeros((2, c))
    w[:, :k] = r * np.stack([np.cos(ang), np.sin(ang)])
    return w


def compiled_model(text):
    from phasedsl.lower.compile import compile_spec
    from phasedsl.pipeline.tensor_discovery import TensorBasins

    spec = load_text(text)
    compiled = compile_spec(spec.checked)
    return spec, compiled, TensorBasins(compiled, text)


def predictions(compiled, model, params):
    import jax.numpy as jnp

    ctx = compiled.context(200.0)
    probe = model.probe(ctx, jnp.float32)
    return np.asarray(model.outputs(jnp.asarray(params, jnp.float32), probe))


def test_linear_network_copies_under_gauge_and_permutation_are_one_function():
    _, compiled, model = compiled_model(LINEAR)
    rng = np.random.default_rng(0)
    w1 = np.diag([1.0, 0.5, 0.0]) @ rng.normal(size=(3, 3)) * 0.7
    w2 = rng.normal(size=(3, 3))
    a = rng.normal(size=(3, 3)) + 2 * np.eye(3)  # an invertible gauge
    perm = np.eye(3)[[2, 0, 1]]
    copies = [(w1, w2), (a @ w1, w2 @ np.linalg.inv(a)), (perm @ w1, w2 @ perm.T)]
    low = w1.copy()
    low[1] = 0  # one rank less: a different function
    params = [np.concatenate([x.ravel(), y.ravel()]) for x, y in copies + [(low, w2)]]
    out = predictions(compiled, model, np.stack(params))
    pairs = same_function(out)
    assert sorted(pairs) == [(0, 1), (0, 2)]  # the three copies; the lower rank alone
    assert model.map_text == "W2 @ W1"


def test_tms_rotation_is_one_function_a_dead_feature_elsewhere_is_not():
    _, compiled, model = compiled_model(TMS)
    w = gon(5)
    t = 0.9
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    flip = np.diag([1.0, -1.0])
    b = np.full(6, -0.2)
    other = w[:, [5, 0, 1, 2, 3, 4]]  # the dead column is feature 1's
    params = [np.concatenate([m.ravel(), b]) for m in (w, rot @ w, flip @ w, other)]
    out = predictions(compiled, model, np.stack(params))
    assert sorted(same_function(out)) == [(0, 1), (0, 2)]


def test_a_hand_built_five_gon_reads_as_five_active_columns_72_degrees_apart():
    w = gon(5)
    w[:, 5] = [0.02, -0.01]
    words = describe_tensor({"W": w, "b": np.zeros(6)})
    assert words.startswith("W: 5 of 6 columns active")
    assert "72 deg apart" in words and "rank 2" in words
    s = matrix_summary(w)
    assert list(s["active"]) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(s["gaps"], 72.0, atol=1e-9)
    # one kind of critical point whichever feature is dead and however it is turned
    assert signature({"W": w}) == signature({"W": gon(5, turn=2.0)[:, [1, 5, 0, 2, 3, 4]]})
    assert signature({"W": w}) != signature({"W": gon(6)})
    assert signature({"W": w}) == (("W", 5, 2, True),)


def test_linear_map_words_give_the_end_to_end_rank():
    j = np.diag([2.0, 0.3, 1e-5])
    assert describe_tensor({}, j).startswith("map x -> y: rank 2, sv [2, 0.3, 1e-05]")


def _draws(rng, k: int, m: int) -> np.ndarray:
    """``f[m, 18]``: TMS parameters near a k-gon (noise 0.1), biases -0.1."""
    w = gon(k)[None] + 0.1 * rng.normal(size=(m, 2, 6))
    return np.concatenate([w.reshape(m, -1), np.full((m, 6), -0.1)], axis=1)


def test_the_fitted_condition_checks_and_selects_its_basin():
    """Draws near 5-gons and near 6-gons: the 5-gons' condition, written from column norms,
    passes ``phasedsl check`` and, compiled, holds on the 5-gon draws and not the 6-gons'."""
    import jax
    import jax.numpy as jnp

    from phasedsl.lower.compile import compile_spec

    rng = np.random.default_rng(1)
    draws = np.concatenate([_draws(rng, 5, 60), _draws(rng, 6, 40)])
    mine = np.arange(100) < 60
    weight = np.full(100, 0.01)
    blocks = {"W": draws[:, :12].reshape(-1, 2, 6), "b": draws[:, 12:]}
    at = {"W": gon(5), "b": np.full(6, -0.1)}
    feats = features(blocks, at)
    values = [np.linalg.norm(at["W"], axis=0), np.linalg.svd(at["W"], compute_uv=False)]
    cond = fit_condition(feats, mine, weight, values)
    assert cond.startswith("(count i: norm(W[:, i]) > ") and cond.endswith(") == 5")
    spec = load_text(TMS + f"phase five = {cond}\n")  # checks, or raises
    compiled = compile_spec(spec.checked)
    ind = jax.vmap(compiled.target.indicators, in_axes=(0, None))
    got = np.asarray(ind(jnp.asarray(draws, jnp.float32), compiled.context(200.0)))[:, 0]
    assert got[mine].all() and not got[~mine].any()


def test_one_basin_gets_a_condition_all_its_draws_pass():
    rng = np.random.default_rng(2)
    draws = _draws(rng, 6, 50)
    blocks = {"W": draws[:, :12].reshape(-1, 2, 6)}
    at = {"W": gon(6)}
    feats = features(blocks, at)
    values = [np.linalg.norm(at["W"], axis=0), np.linalg.svd(at["W"], compute_uv=False)]
    cond = fit_condition(feats, np.ones(50, bool), np.full(50, 0.02), values)
    t = float(cond.split("> ")[1].split(")")[0])
    assert (feats[0].holds(t)).all()


def test_discover_on_a_linear_network_finds_the_one_full_rank_minimum():
    """End to end on a small linear network (small sampling): every local minimum of a
    linear network's loss is global, so the flows from all draws end on one critical set,
    the least-squares map (rank 3: the noise fills the truth's zero singular value), its
    copies under the gauge ``W2 A^-1, A W1`` merged into one basin; its words are the
    end-to-end map's rank and singular values and its condition, checked on the draws,
    takes in all of them."""
    from phasedsl.pipeline.discovery import discover

    text = LINEAR + "sample smc { particles = 64; runs = 2; mutations = 4 }\n"
    (point,) = discover(load_text(text), [200], source=text).points
    (b,) = point.basins
    assert b.mass == pytest.approx(1.0) and point.coverage == pytest.approx(1.0)
    assert b.description.startswith("map x -> y: rank 3, sv [")
    assert b.condition.startswith("rank(W2 @ W1, ") and b.condition.endswith(") == 3")
    assert b.captured == pytest.approx(1.0) and b.leak == pytest.approx(0.0)


def test_kind_groups_gathers_basins_of_one_signature_most_massive_first():
    from phasedsl.pipeline.tensor_discovery import kind_groups, kind_words

    five, six = (("W", 5, 2, False),), (("W", 6, 2, True),)
    assert kind_groups([six, five, six, five, (("W", 4, 2, True),), six]) == [[0, 2, 5],
                                                                               [1, 3]]
    assert kind_groups([five, six]) == []  # every kind alone: nothing to gather
    assert kind_words(six) == "W 6 active columns, rank 2 (a 6-gon)"


def test_squares_whose_columns_go_round_in_other_orders_are_one_kind_phase():
    """TMS with 4 features at n = 400: the flows end on squares whose 4 labelled columns go
    round in different orders (no exact symmetry maps one onto another, so each is a basin
    of its own), every basin's flows converge, and ``discover`` gathers every basin of one kind into one phase: its mass
    is the basins' sum, its condition checks, holds on the basins' own draws and on few
    others', and ``--write`` writes it in place of its basins."""
    from phasedsl.pipeline.discovery import discover, spec_with_phases
    from phasedsl.pipeline.tensor_discovery import kind_groups

    text = (TMS.replace("sweep n over 200", "sweep n over 400").replace("c = 6", "c = 4")
            .replace("W[2, 6]", "W[2, 4]").replace("b[6]", "b[4]")
            + "sample smc { particles = 64; runs = 2; mutations = 4 }\n")
    (point,) = discover(load_text(text), [400], source=text, steps=500).points
    assert len(point.basins) >= 2 and point.kind_phases
    # the flows end at stationary points though the loss's kinks keep the gradient at
    # ~0.004 there: Goldstein's test, and a step set by the curvature, not the spread
    assert all(b.converged for b in point.basins if b.starts >= 5)
    groups = kind_groups(point.kinds)
    assert [k.basins for k in point.kind_phases] == [
        tuple(point.basins[i].name for i in g) for g in groups]
    for kind, g in zip(point.kind_phases, groups):
        assert len({point.kinds[i] for i in g}) == 1
        assert kind.mass == pytest.approx(sum(point.basins[i].mass for i in g), abs=1e-9)
        assert kind.captured >= 0.95 and kind.leak <= 0.1
    square = point.kind_phases[0]
    assert square.description.startswith("W 4 active columns")
    assert square.condition.startswith("(count i: norm(W[:, i]) > ")
    written = point.written()
    assert square in written and not set(square.basins) & {p.name for p in written}
    load_text(spec_with_phases(text, written))  # the written spec checks, or raises
    assert point.to_json()["kinds"][0]["basins"] == list(square.basins)


def test_a_dead_column_large_by_norm_is_not_counted_when_the_function_does_not_use_it():
    """A TMS 5-gon whose dead column keeps norm 0.45 (over a quarter of the others' 1.2),
    pointing where it feeds no output (every bias -0.6 keeps its products off): by norm it
    is a sixth active column, by function it is not, so the words, the kind and the
    condition's count say 5. A 6-gon's columns are all used."""
    from phasedsl.pipeline.discovery import _Flows
    from phasedsl.pipeline.tensor_discovery import kind_words

    _, compiled, model = compiled_model(TMS)
    flows = _Flows(compiled, 10, x64=False)
    probe = model.probe(compiled.context(200.0), np.float32)
    w = gon(5)
    w[:, 5] = 0.45 * np.array([np.cos(1.0), np.sin(1.0)])
    five = np.concatenate([w.ravel(), np.full(6, -0.6)])
    used = model.used(flows, five, probe)["W"]
    assert used.tolist() == [True] * 5 + [False]
    words, kind = model.describe(flows, five, probe)
    assert words.startswith("W: 5 of 6 columns active") and kind_words(kind).startswith(
        "W 5 active columns")
    six = np.concatenate([gon(6).ravel(), np.full(6, -0.6)])
    assert model.used(flows, six, probe)["W"].all()
