"""R-hat and ESS against hand computations and textbook formulas (no arviz needed)."""

import math
from statistics import NormalDist

import numpy as np
import pytest

from phasedsl.analysis.diagnostics import (chi2_sf, ess, ess_bulk, ess_within, normal_ppf, rank_normalise,
                                  split_rhat)


def ar1(rho, chains, draws, seed):
    rng = np.random.default_rng(seed)
    eps = rng.normal(size=(chains, draws))
    x = np.empty_like(eps)
    x[:, 0] = eps[:, 0] / math.sqrt(1 - rho**2)
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + eps[:, t]
    return x


def textbook_rhat(x):
    """Gelman-Rubin on split chains, straight from the definition."""
    half = x.shape[1] // 2
    chains = [c[:half] for c in x] + [c[-half:] for c in x]
    n = half
    means = np.array([c.mean() for c in chains])
    w = np.mean([c.var(ddof=1) for c in chains])
    b = n * means.var(ddof=1)
    return math.sqrt(((n - 1) / n * w + b / n) / w)


def textbook_ess(x):
    """Stan's ESS on split chains with autocovariances from explicit sums (no FFT)."""
    half = x.shape[1] // 2
    y = np.concatenate([x[:, :half], x[:, -half:]])
    m, n = y.shape
    yc = y - y.mean(axis=1, keepdims=True)
    acov = np.array([[np.dot(c[: n - t], c[t:]) / n for t in range(n)] for c in yc]).mean(0)
    w = np.mean([c.var(ddof=1) for c in y])
    var_plus = (n - 1) / n * w + y.mean(axis=1).var(ddof=1)
    rho = 1 - (w - acov) / var_plus
    rho[0] = 1.0
    # initial positive sequence of pair sums, made monotone
    pairs = []
    for t in range(0, n - 1, 2):
        s = rho[t] + rho[t + 1]
        if s < 0:
            break
        pairs.append(min(s, pairs[-1]) if pairs else s)
    tau = -1 + 2 * sum(pairs)
    return m * n / tau


def test_normal_ppf_matches_stdlib():
    p = np.array([1e-12, 1e-5, 0.01, 0.3, 0.5, 0.7, 0.975, 1 - 1e-9])
    ref = [NormalDist().inv_cdf(v) for v in p]
    np.testing.assert_allclose(normal_ppf(p), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7])
def test_chi2_sf(df):
    stats = pytest.importorskip("scipy.stats")
    for x in (0.05, 1.0, 5.0, 30.0):
        assert chi2_sf(x, df) == pytest.approx(stats.chi2.sf(x, df), rel=1e-10, abs=1e-15)
    # df = 2: P(X > x) = exp(-x/2) exactly
    assert chi2_sf(3.0, 2) == pytest.approx(math.exp(-1.5))


def test_rank_normalise_ties_and_scores():
    z = rank_normalise(np.array([[3.0, 1.0, 2.0, 2.0]]))
    # ranks 4, 1, 2.5, 2.5 out of N = 4: Phi^-1((r - 3/8) / 4.25)
    ref = [NormalDist().inv_cdf((r - 0.375) / 4.25) for r in (4, 1, 2.5, 2.5)]
    np.testing.assert_allclose(z[0], ref, atol=1e-12)


def test_iid_normal():
    x = np.random.default_rng(1).normal(size=(4, 1000))
    assert split_rhat(x) == pytest.approx(1.0, abs=0.01)
    assert ess(x) == pytest.approx(4000, rel=0.15)
    assert ess_bulk(x) == pytest.approx(4000, rel=0.15)


def test_bulk_rhat_equals_textbook_on_normal_scores():
    x = np.random.default_rng(2).normal(size=(3, 201))
    z = rank_normalise(x)
    folded = rank_normalise(np.abs(x - np.median(x)))
    assert split_rhat(x) == pytest.approx(max(textbook_rhat(z), textbook_rhat(folded)), rel=1e-12)


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_ar1_ess(rho):
    x = ar1(rho, 4, 5000, seed=3)
    expected = x.size * (1 - rho) / (1 + rho)
    assert ess(x) == pytest.approx(expected, rel=0.15)
    assert ess_bulk(x) == pytest.approx(expected, rel=0.15)
    assert split_rhat(x) < 1.01


def test_ess_matches_explicit_sums():
    x = ar1(0.6, 3, 300, seed=4)
    assert ess(x) == pytest.approx(textbook_ess(x), rel=1e-9)


def test_shifted_chains():
    x = np.random.default_rng(5).normal(size=(2, 1000))
    x[1] += 1.0
    assert split_rhat(x) > 1.1
    assert ess(x) < 100  # the between-chain variance swamps the within-chain one


def test_ess_within_ignores_disagreement():
    x = ar1(0.5, 4, 2000, seed=9)
    x[:2] += 3.0                         # two chains elsewhere: ess collapses, ess_within not
    assert ess(x) < 100
    assert ess_within(x) == pytest.approx(x.size / 3, rel=0.15)
    assert ess_within(np.zeros((2, 10))) == 20.0
    stuck = np.zeros((2, 10))
    stuck[1] = 1.0
    assert math.isnan(ess_within(stuck))


def test_binary_edge_cases():
    assert split_rhat(np.zeros((4, 100))) == 1.0
    assert split_rhat(np.ones((4, 100))) == 1.0
    assert ess(np.ones((4, 100))) == 400.0
    assert ess_bulk(np.zeros((4, 100))) == 400.0
    stuck = np.zeros((4, 100))
    stuck[[0, 2]] = 1.0
    assert split_rhat(stuck) == math.inf
    assert ess(stuck) < 10
    # a binary indicator that flips freely mixes fine
    flips = (np.random.default_rng(6).random((4, 1000)) < 0.3).astype(float)
    assert split_rhat(flips) < 1.01
    assert ess(flips) == pytest.approx(4000, rel=0.15)


def test_short_or_nan_input():
    assert math.isnan(split_rhat(np.ones((2, 3)) * [[1, 2, 3]]))
    assert math.isnan(ess(np.array([[0.0, 1.0, 2.0], [1.0, 2.0, 0.0]])))
    x = np.random.default_rng(7).normal(size=(2, 50))
    x[0, 3] = np.nan
    assert math.isnan(split_rhat(x)) and math.isnan(ess(x))
    # a 1-d input is one chain
    y = np.random.default_rng(8).normal(size=2000)
    assert ess(y) == pytest.approx(2000, rel=0.15)
