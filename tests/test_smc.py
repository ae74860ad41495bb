"""Tempered SMC through whole specs: phase masses and absolute free energies against
quadrature, on energy specs whose integrals are exact."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from phasedsl.language.check import check
from phasedsl.pipeline import run_spec
from phasedsl.language.syntax import parse

SPECS = Path(__file__).resolve().parents[1] / "specs"

RING_2D = """
experiment "held-out: a ring and a ball in 2-D"
sweep s over 0.5, 1.5
param v[2] in [-2, 2]
prior uniform
energy K = (norm(v)^2 - 1)^2 * (1 + s * (v[1] - 1)^2) + 0.3 * s * norm(v - [1, 0])^2
let n = 8
phase near = ball(v, [1, 0], 0.5)
phase ring = annulus(v, 1, 0.25) and not ball(v, [1, 0], 0.5)
"""


def runs(text: str, name: str, tmp: Path, overrides: dict, values=None):
    """SMC and quadrature results of one spec, at ``values`` (default: its whole sweep);
    quadrature at every SMC point, the values its refinement added included."""
    checked = check(parse(text, name), {"engine": "smc", **overrides})
    if values is not None:
        checked = dataclasses.replace(checked, sweep_values=tuple(values))
    smc = run_spec(checked, tmp / "smc")
    exact = check(parse(text, name), {"engine": "quadrature", "report.resolution": "0"})
    exact = dataclasses.replace(exact, sweep_values=tuple(p["value"] for p in smc["points"]))
    return smc, run_spec(exact, tmp / "quadrature")


def assert_agree(smc: dict, exact: dict, sigmas: float = 4.0, log_z_tol: float = 0.05):
    for ps, pq in zip(smc["points"], exact["points"]):
        assert ps["value"] == pq["value"]
        assert ps["absolute"] and pq["absolute"]
        assert ps["log_z"] == pytest.approx(pq["log_z"], abs=log_z_tol), ps["value"]
        for name in smc["phases"]:
            m, se = ps["phases"][name]["mass"], ps["phases"][name]["se"]
            want = pq["phases"][name]["mass"]
            assert abs(m - want) <= sigmas * se + 2e-3, (ps["value"], name, m, se, want)
            # absolute free energy of the phase: F - log mass, against the exact integral
            if want > 0.05:
                assert ps["phases"][name]["free_energy"] == pytest.approx(
                    pq["phases"][name]["free_energy"], abs=log_z_tol + 4 * se / want)


@pytest.mark.slow  # statistical: 1,000 particles x 4 runs against quadrature
def test_smc_matches_quadrature_on_the_merge_example(tmp_path):
    text = (SPECS / "example_4_2_merge.phase").read_text()
    smc, exact = runs(text, "merge.phase", tmp_path, {"particles": "1000", "runs": "4"},
                      values=[0.0, 0.9])
    assert_agree(smc, exact)


@pytest.mark.slow
def test_smc_matches_quadrature_on_every_energy_spec(tmp_path):
    for name in ("example_4_2_merge.phase", "example_4_1_first_order.phase"):
        text = (SPECS / name).read_text()
        smc, exact = runs(text, name, tmp_path / name, {"particles": "2000", "runs": "4"})
        assert_agree(smc, exact)


@pytest.mark.slow
def test_smc_matches_quadrature_on_a_held_out_2d_energy(tmp_path):
    smc, exact = runs(RING_2D, "ring.phase", tmp_path, {"particles": "2000", "runs": "4"})
    assert_agree(smc, exact)
    assert all(np.isfinite(p["log_z"]) for p in smc["points"])


@pytest.mark.slow
def test_smc_path_matches_quadrature_on_the_merge_example(tmp_path):
    """The merge example walked as one tempering path: every mass within 4 se of the exact
    integral and log Z within 0.05 at every sweep value."""
    from specfiles import sampled_and_exact

    spec = Path(__file__).resolve().parents[1] / "specs" / "example_4_2_merge.phase"
    path, exact = sampled_and_exact(tmp_path, spec, {"engine": "smc_path", "particles": "1000",
                                                     "runs": "4"})
    for p, q in zip(path.points, exact.points):
        assert p.value == q.value
        for name in ("left", "right"):
            assert abs(p.phases[name].mass - q.phases[name].mass) <= 4 * p.phases[name].se + 1e-3
        assert abs(p.log_z - q.log_z) < 0.05
