"""The learning coefficient of a phase against energies whose lambda is known exactly.

Quadrature (exact integrals) in the default suite; SMC and NUTS in ``test_lcoef_slow.py``.
Measured values and the finite-n biases are in ``docs/learning_coefficient.md``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from phasedsl.analysis.lcoef import LearningCoefficient, PhaseDraws, PhaseMinimum, phase_estimate
from phasedsl.analysis.records import PointSummary
from phasedsl.engines.quadrature import DEFAULT_POINTS

ROOT = Path(__file__).resolve().parents[1]


def estimates(energy: str, params: str, ns, phases: str, engine: str = "quadrature",
              extra: str = "", seed: int = 0) -> dict:
    """``{n: {phase: LearningCoefficient}}`` for the energy ``K`` at each ``n``."""
    import jax

    from phasedsl.engines.registry import make_engine
    from phasedsl.lower.compile import compile_spec
    from phasedsl.measure.lcoef import LcoefStep
    from phasedsl.pipeline.spec import load_text

    src = (f"sweep n over {', '.join(map(str, ns))}\n{params}\nprior uniform\n"
           f"energy K = {energy}\n{phases}\nsample {engine} {{ {extra} }}\n")
    checked = load_text(src).checked
    compiled = compile_spec(checked)
    settings = dict(checked.sample)
    eng = make_engine(engine, compiled.target, settings)
    step = LcoefStep(compiled, 200, (lambda t: make_engine(engine, t, settings))
                     if engine == "quadrature" else None)
    out = {}
    for i, n in enumerate(ns):
        draws = eng.run(jax.random.PRNGKey(seed + i), compiled.context(n))
        out[n] = step.estimate(n, draws)
    return out


ONE = "param w in [-2, 2]"
TWO = "param w1 in [-1, 1]\nparam w2 in [-1, 1]"
H1 = 4 / (DEFAULT_POINTS[1] - 1)  # the 1-D grid's spacing on ONE's [-2, 2]
FAST2 = "points = 401; subdivisions = 4"  # 2-D grids: enough here (checked against 801 x 8)


@pytest.mark.parametrize("energy,lam", [("w^2", 1 / 2), ("w^4", 1 / 4), ("w^6", 1 / 6)])
def test_monomials_exact(energy, lam):
    # exp(-t w^(2k)) on a box much wider than the posterior: E[t K] = Var[t K] = 1/(2k)
    # at every t (a Gamma(1/(2k)) variable), so the estimate is exact up to quadrature
    for n, est in estimates(energy, ONE, [100, 1000, 10000], "phase a = ball(w, 0, 1)").items():
        e = est["a"]
        assert e.method == "logz" and e.se == 0.0
        assert abs(e.lam - lam) / lam < 1e-4, (n, e)
        assert abs(e.lam_var - lam) / lam < 1e-3, (n, e)
        # the bottom of w^(2k) is flat to many grid nodes (spacing H1): which near-equal node
        # (or optimiser end point) wins depends on the last bits of the arithmetic, so ask
        # for a minimiser within one node of 0 whose loss is the minimum up to rounding
        (w,) = e.minimiser
        assert abs(w) <= H1 * (1 + 1e-9) and w ** (2 * round(1 / (2 * lam))) < 1e-12, (n, e)
        assert abs(e.loss_min) < 1e-12 and e.in_phase


def test_sum_of_regular_and_quartic():
    for n, est in estimates("w1^2 + w2^4", TWO, [1000, 10000],
                            "phase a = ball([w1, w2], [0, 0], 1/2)", extra=FAST2).items():
        e = est["a"]
        assert abs(e.lam - 0.75) / 0.75 < 1e-3, (n, e)
        assert abs(e.lam_var - 0.75) / 0.75 < 2e-3, (n, e)


def _normal_crossing_mean(t: float) -> float:
    """E[t K] for K = w1^2 w2^2 uniform on [-1, 1]^2, exactly: Z(t) = sqrt(pi) / (2 sqrt t)
    * I(sqrt t) with I(a) = int_0^a erf(u)/u du, so -t d log Z/dt = 1/2 - erf(a) / (2 I(a))."""
    a = math.sqrt(t)
    u = np.linspace(1e-9, a, 400001)
    f = np.array([math.erf(x) / x for x in u])
    integral = float(np.sum((f[1:] + f[:-1]) * np.diff(u)) / 2)
    return 0.5 - math.erf(a) / (2 * integral)


def test_multiplicity_two_bias_is_measured_not_hidden():
    # K = w1^2 w2^2: lambda = 1/2 with multiplicity m = 2. The estimator is exact for the
    # finite-t quantity E[tK] - tK(w*), which tends to 1/2 only like 1/2 - 1/(log t + c)
    # (c = 1.97 on this box): 30% low at t = 100, still 15% low at t = 1e5.
    rel = {}
    for n, est in estimates("w1^2 * w2^2", TWO, [100, 1000, 10000, 100000],
                            "phase a = ball([w1, w2], [0, 0], 2)", extra=FAST2).items():
        e = est["a"]
        exact = _normal_crossing_mean(n)
        assert abs(e.lam - exact) < 2e-3, (n, e.lam, exact)
        assert abs((0.5 - e.lam) * (math.log(n) + 1.97) - 1) < 0.02, (n, e.lam)
        rel[n] = (e.lam - 0.5) / 0.5
    assert rel[100] < -0.25 and -0.17 < rel[100000] < -0.13  # the measured bias, documented


def test_example_4_1_wells():
    # Both wells are quadratic at their minima: K(-1 + x) = 22.78 x^2 + ..., K(1 + x) = 0.1 +
    # 0.739 x^2 - 2.16 x^3 + 1.26 x^4: lambda = 1/2 for both once n is large. The simple
    # well's flat quadratic makes it look quartic-ish (lambda_eff well below 1/2) at the n of
    # the seed's crossover, n_c = 17.6. Energy, prior and phases: the shipped spec's.
    text = (ROOT / "specs/example_4_1_first_order.phase").read_text().splitlines()
    energy = next(ln for ln in text if ln.startswith("energy")).split("=", 1)[1]
    params = "\n".join(ln for ln in text if ln.startswith(("param", "let")))
    phases = "\n".join(ln for ln in text if ln.startswith("phase"))
    ns = [10, 17.633, 30, 1000, 10000]
    est = estimates(energy, params, ns, phases)
    for n in (1000, 10000):
        for phase in ("accurate", "simple"):
            e = est[n][phase]
            assert abs(e.lam - 0.5) / 0.5 < 0.05, (n, phase, e)
    assert abs(est[10000]["accurate"].lam - 0.5) < 1e-3
    assert abs(est[1000]["simple"].loss_min - 0.1) < 1e-9
    assert abs(est[1000]["simple"].minimiser[0] - 1) < 1e-6
    # measured pre-asymptotic values (docs/learning_coefficient.md)
    assert abs(est[17.633]["accurate"].lam - 0.5057) < 1e-3
    assert abs(est[17.633]["simple"].lam - 0.3674) < 1e-3
    assert est[10]["simple"].lam < est[17.633]["simple"].lam < est[30]["simple"].lam < 0.45


def test_estimator_statistics_by_hand():
    # two groups of draws, energies e, a phase indicator; mean and variance estimates
    rng = np.random.default_rng(0)
    e = rng.gamma(0.5, 1.0, size=(4, 5000)) + 3.0  # t K ~ Gamma(1/2) above e_min = 3
    inside = np.ones_like(e, bool)
    est = phase_estimate("a", PhaseDraws(e, None, inside, "repeats"), PhaseMinimum(3.0), 100.0)
    assert abs(est.lam - 0.5) < 5 * est.se and est.se < 0.01
    assert abs(est.lam_var - 0.5) < 5 * est.var_se
    assert est.loss_min == pytest.approx(0.03)
    none = phase_estimate("a", PhaseDraws(e, None, np.zeros_like(inside), "mcmc"),
                          PhaseMinimum(3.0), 100.0)
    assert none.lam is None and none.draws == 0.0
    back = LearningCoefficient.from_json("a", est.to_json())
    assert back.to_json() == est.to_json()


def test_run_records_lcoef_and_setting_turns_it_off(tmp_path):
    import phasedsl

    spec = phasedsl.load(str(ROOT / "specs/example_4_1_first_order.phase"),
                         {"engine": "quadrature"})
    run = phasedsl.run(spec, tmp_path / "on", plots=True)
    results = json.loads((tmp_path / "on" / "results.json").read_text())
    point = results["points"][-1]
    rec = point["lcoef"]["accurate"]
    for key in ("lambda", "lambda_se", "loss_min", "minimiser", "lambda_method", "lambda_var",
                "lambda_var_se", "lambda_sys", "minimiser_in_phase", "n_beta"):
        assert key in rec
    assert rec["lambda_method"] == "logz" and abs(rec["lambda"] - 0.5034) < 1e-3
    assert point["diagnostics"]["lcoef_s"] >= 0
    assert PointSummary.from_json(point).lcoef == point["lcoef"]
    assert (tmp_path / "on" / "lambda.png").exists(), run.figure_error
    assert "learning coefficients" in run.text()
    off = phasedsl.load(str(ROOT / "specs/example_4_1_first_order.phase"),
                        {"engine": "quadrature", "lcoef": "0"})
    phasedsl.run(off, tmp_path / "off", plots=False)
    results = json.loads((tmp_path / "off" / "results.json").read_text())
    assert "lcoef" not in results["points"][0]


def test_settings_table_has_the_keys():
    from phasedsl.language.settings import TABLE

    assert TABLE["report"]["lcoef"].default == 1
    assert TABLE["report"]["lcoef_steps"].default == 200


def test_path_fit_recovers_the_coefficients_of_its_model():
    # lambda_eff(t') = lambda - a / log t' + b s along a tempering ladder t' = s t: the fit
    # over the last PATH_WINDOW units of log t' returns lambda, a and b exactly
    from phasedsl.analysis.lcoef import PATH_FLOOR, PATH_SPAN, PATH_WINDOW, path_curve, path_fit

    t, e_min, lam, a, b = 8686.0, 1234.5, 3.5, 1.0, 0.4
    s = np.exp(np.linspace(-9.0, 0.0, 19))  # a ladder of 19 stages up to the target
    x = np.log(s * t)
    y = lam - a / x + b * s
    energy = e_min + y / s  # the stage's mean -loglik
    xc, yc, sc = path_curve(s, energy, e_min, t)
    assert np.allclose(xc, x) and np.allclose(yc, y)
    fit = path_fit(xc, yc, sc, math.log(t))
    assert fit is not None
    assert fit[:3] == pytest.approx((lam, a, b), abs=1e-8)
    assert fit[3] == int(np.sum(x >= math.log(t) - PATH_WINDOW))
    assert path_fit(xc[-3:], yc[-3:], sc[-3:], math.log(t)) is None  # too few stages
    # at a small n beta the window would reach t' < e^5, where the expansion does not hold:
    # only the stages above PATH_FLOOR count, and with fewer than 4 of them there is no fit
    small = 300.0
    xs, ys, ss = path_curve(s, e_min + y / s, e_min, small)
    assert np.sum(xs >= PATH_FLOOR) < 4 and path_fit(xs, ys, ss, math.log(small)) is None
    # log t = 7.6: 6 stages above the floor, but they span 2.6 < PATH_SPAN units of log t'
    short = 2000.0
    xh, yh, sh = path_curve(s, e_min + y / s, e_min, short)
    assert np.sum(xh >= PATH_FLOOR) >= 4 and path_fit(xh, yh, sh, math.log(short)) is None
    mid = 5000.0  # log t = 8.5: the window stops at the floor, 5, not at 4.5
    xm, ym, sm = path_curve(s, e_min + y / s, e_min, mid)
    fit = path_fit(xm, ym, sm, math.log(mid))
    assert fit[3] == int(np.sum(xm >= PATH_FLOOR)) and math.log(mid) - PATH_SPAN >= PATH_FLOOR


def test_path_estimate_se_is_the_spread_of_the_runs():
    from phasedsl.analysis.lcoef import path_curve, path_estimate, path_fit

    t, e_min = 8686.0, 100.0
    s = np.exp(np.linspace(-6.0, 0.0, 13))
    x = np.log(s * t)
    shifts = np.array([-0.1, 0.0, 0.05, 0.25])  # each run's curve, offset
    path = {"lam": [list(s)] * 4,
            "energy": [list(e_min + (4.0 + d - 1.0 / x) / s) for d in shifts]}
    rec = LearningCoefficient("posterior", 3.8, 0.01, 3.7, 0.05, e_min / t, None, True, t,
                              1000.0)
    out = path_estimate(rec, path)
    assert out.method == "path" and out.lam_beta == 3.8 and out.beta_se == 0.01
    assert out.lam == pytest.approx(4.0 + shifts.mean(), abs=1e-8)
    gain = path_fit(*path_curve(s, path["energy"][0], e_min, t), math.log(t))[4]
    assert 1.0 < gain and 0.01 * gain < shifts.std(ddof=1) / 2
    assert out.path_linear == pytest.approx(0.0, abs=1e-8)  # no data term in these curves
    assert out.se == pytest.approx(shifts.std(ddof=1) / 2, abs=1e-8)
    # runs that agree by chance: the se is the floor, the sampled beta's se times the gain
    same = path_estimate(rec, {"lam": path["lam"], "energy": [path["energy"][1]] * 4})
    assert same.lam == pytest.approx(4.0, abs=1e-8)
    assert same.se == pytest.approx(0.01 * gain, rel=1e-6)
    # a data term b s in the curves: fitted, and its size at s = 1 added to the se
    bumped = {"lam": path["lam"], "energy": [list(np.asarray(e) + 0.3) for e in path["energy"]]}
    data = path_estimate(rec, bumped)  # energy + 0.3: lambda_eff + 0.3 s
    assert data.lam == pytest.approx(out.lam, abs=1e-6)
    assert data.path_linear == pytest.approx(0.3, abs=1e-6)
    assert data.se == pytest.approx(math.hypot(out.path_runs_se, 0.3), rel=1e-6)
    assert out.path_loglog == pytest.approx(1.0, abs=1e-8)
    back = LearningCoefficient.from_json("posterior", out.to_json())
    assert back == out
    # no path (NUTS, quadrature): the record as it was
    assert path_estimate(rec, None) is rec


def test_curvature_steps_are_the_rate_over_each_coordinates_curvature_capped_by_the_spread():
    """``curvature_steps``: ``rate / |d^2 E / dw_i^2|`` at the start, at most ``largest``
    (where the curvature is 0 the cap alone: a flat coordinate moves by the spread's
    step, not by an infinite one); off-diagonal curvature does not enter."""
    import jax
    import jax.numpy as jnp

    from phasedsl.measure.lcoef import curvature_steps

    def energy(p, ctx):
        return 50.0 * p[0] ** 2 + 0.5 * p[1] ** 2 - 2.0 * p[2] ** 2 + 3.0 * p[0] * p[1] + p[3]

    with jax.enable_x64(True):
        dt = curvature_steps(energy, jnp.array([0.3, -1.0, 0.5, 2.0]), None, 0.2,
                             jnp.array([1.0, 1.0, 1.0, 0.7]))
        np.testing.assert_allclose(dt, [0.2 / 100, 0.2, 0.2 / 4, 0.7], rtol=1e-12)
