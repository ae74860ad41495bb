"""NUTS against exact quadrature on the energy examples, at every sweep value (slow).

Where the posterior has two wells that NUTS chains cannot cross, each chain stays in the well
it settled in, so a phase's mass is the share of chains in its well (about half of them on
example 4.1 at large n, whatever the exact mass) and its error is not covered by any number of
standard errors: what phasedsl promises there is the flag (``mixing_ok: false``), not the
number. So: a point not flagged must be within 4 standard errors of the exact mass, every
visible error (above 0.05) must be flagged, and each example must have points not flagged
(where the wells merge or the chains cross), so that the first check has something to check.
A confident wrong answer cannot pass.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from phasedsl.language.check import check
from phasedsl.pipeline import run_spec
from phasedsl.language.syntax import parse

SPECS = Path(__file__).resolve().parents[1] / "specs"


@pytest.mark.slow
@pytest.mark.parametrize("chain_method", ["sequential", "flat"])
@pytest.mark.parametrize("name", ["example_4_2_merge.phase", "example_4_1_first_order.phase"])
def test_nuts_agrees_with_quadrature_within_4_se(name, chain_method, tmp_path):
    text = (SPECS / name).read_text()
    nuts = run_spec(check(parse(text, name), {"engine": "nuts", "chains": "8", "draws": "2000"}),
                    tmp_path / "n", chain_method=chain_method)
    exact = check(parse(text, name), {"engine": "quadrature", "report.resolution": "0"})
    exact = run_spec(dataclasses.replace(exact, sweep_values=tuple(
        p["value"] for p in nuts["points"])), tmp_path / "q")  # added values included
    unflagged = 0
    for pn, pq in zip(nuts["points"], exact["points"]):
        assert pn["value"] == pq["value"]
        flagged = pn["diagnostics"]["mixing_ok"] is False
        unflagged += not flagged
        for phase in nuts["phases"]:
            m, se = pn["phases"][phase]["mass"], pn["phases"][phase]["se"]
            want = pq["phases"][phase]["mass"]
            if not flagged:
                assert abs(m - want) <= 4 * se + 1e-3, (pn["value"], phase, m, se, want)
            if abs(m - want) > 0.05:  # a visible error must come with a mixing flag
                assert flagged, (pn["value"], phase, m, want)
    assert unflagged >= 1
