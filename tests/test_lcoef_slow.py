"""The learning coefficient from sampled draws (SMC repeats, NUTS chains) against energies
whose lambda is known: within 5% and within 4 standard errors (measured values in
docs/learning_coefficient.md)."""

from __future__ import annotations

import pytest
from test_lcoef import ONE, TWO, estimates

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("energy,lam", [("w^2", 1 / 2), ("w^4", 1 / 4), ("w^6", 1 / 6)])
def test_smc_monomials(energy, lam):
    for n, est in estimates(energy, ONE, [100, 10000], "phase a = ball(w, 0, 1)",
                            engine="smc").items():
        e = est["a"]
        assert e.method == "mean" and 0 < e.se < 0.05 * lam
        assert abs(e.lam - lam) / lam < 0.05, (n, e)
        assert abs(e.lam - lam) < 4 * e.se, (n, e)
        assert abs(e.lam_var - lam) < 4 * e.var_se, (n, e)


def test_smc_two_parameters():
    est = estimates("w1^2 + w2^4", TWO, [1000], "phase a = ball([w1, w2], [0, 0], 1/2)",
                    engine="smc")[1000]["a"]
    assert abs(est.lam - 0.75) / 0.75 < 0.05 and abs(est.lam - 0.75) < 4 * est.se


@pytest.mark.parametrize("energy,lam", [("w^2", 1 / 2), ("w^4", 1 / 4)])
def test_nuts_monomials(energy, lam):
    e = estimates(energy, ONE, [1000], "phase a = ball(w, 0, 1)", engine="nuts")[1000]["a"]
    assert abs(e.lam - lam) / lam < 0.1 and abs(e.lam - lam) < 4 * e.se, e
