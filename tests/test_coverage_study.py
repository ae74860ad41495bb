"""The pure helpers of the coverage study (``benchmarks/coverage.py``): no sampling."""

import importlib.util
from pathlib import Path

import numpy as np

from phasedsl.lower.run_info import SmcInfo
from phasedsl.lower.target import Draws

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "coverage.py"
_SPEC = importlib.util.spec_from_file_location("coverage_study", _PATH)
coverage = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(coverage)


def test_neighbourhoods_at_the_shipped_spacing():
    groups = coverage.neighbourhoods((1.0, 1.18), 0.02, 1)
    assert groups == [[0.98, 1.0, 1.02], [1.16, 1.18, 1.2]]
    assert coverage.neighbourhoods((1.3,), 0.02, 0) == [[1.3]]


def test_with_sweep_replaces_only_the_values():
    text = 'experiment "x"\nsweep theta over linspace(1, 1.36, 19), 1.43\nparam w in [-1, 1]\n'
    out = coverage.with_sweep(text, [1.16, 1.18])
    assert "sweep theta over 1.16, 1.18\n" in out
    assert out.startswith('experiment "x"\n') and out.endswith("param w in [-1, 1]\n")


def test_split_groups_keeps_each_runs_draws_and_masses():
    rng = np.random.default_rng(0)
    g, s, d, p = 6, 5, 2, 2
    w = rng.random((g, s))
    draws = Draws(params=rng.normal(size=(g, s, d)), indicators=rng.random((g, s, p)) < 0.4,
                  logdensity=rng.normal(size=(g, s)), weights=w / w.sum(1, keepdims=True),
                  method="repeats", log_z=rng.normal(size=g),
                  info=SmcInfo(engine="smc", compile_s=0.0, sample_s=1.0, wall_s=1.0,
                                 particle_block=None, particles=5, runs=g,
                                 stages=list(range(g)), ess=[5.0] * g, acceptance=[0.9] * g,
                                 reached_posterior=True))
    parts = coverage.split_groups(draws, 3)
    assert len(parts) == 3 and all(x.params.shape == (2, s, d) for x in parts)
    assert parts[1].info.stages == [2, 3] and parts[1].info.runs == 2
    assert parts[2].info.particles == 5
    np.testing.assert_array_equal(parts[2].log_z, draws.log_z[4:])
    whole = coverage.group_masses(draws)
    np.testing.assert_allclose(np.concatenate([coverage.group_masses(x) for x in parts]), whole)
    np.testing.assert_allclose(whole[0], (draws.weights[0][:, None]
                                          * draws.indicators[0]).sum(0))


def test_masked_scores_one_value():
    exact = np.arange(6.0).reshape(3, 2)
    out = coverage.masked(exact, 1)
    assert np.isnan(out[[0, 2]]).all() and (out[1] == exact[1]).all()
