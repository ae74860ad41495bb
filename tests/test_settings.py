"""The settings table: every engine key settable from a spec and from ``--set``."""

from __future__ import annotations

import pytest

from phasedsl.language.check import check
from phasedsl.language.errors import SpecError, UsageError
from phasedsl.language.settings import (TABLE, defaults, quick_overrides, result_keys,
                                        settable)
from phasedsl.language.syntax import parse

ENERGY = """sweep theta over linspace(0, 1, 11)
param w in [-2, 2]
prior uniform
energy K = (w - theta)^2
let n = 10
phase right = w > 0
"""


def checked(text: str, overrides=None):
    return check(parse(text, "t.phase"), overrides)


def test_every_entry_is_well_formed():
    for section, table in TABLE.items():
        for key, s in table.items():
            assert s.kind in ("int", "prob", "frac", "pos", "choice", "width"), (section, key)
            assert s.role in ("result", "execution", "analysis") and s.doc, (section, key)
            assert not (s.internal and s.role == "result"), (section, key)


def test_functions():
    assert quick_overrides("nuts") == {"draws": "200", "warmup": "300"}
    assert quick_overrides("smc") == {"particles": "200", "runs": "4"}  # 4 runs: a known se
    assert quick_overrides("quadrature") == {}
    assert quick_overrides("report") == {"resolution": "0.02", "refine_points": "4"}
    assert "chain_method" not in result_keys("nuts") and "seed" in result_keys("nuts")
    assert "particle_block" not in result_keys("smc") and "max_stages" in result_keys("smc")
    assert defaults("nuts")["chain_method"] is None and defaults("smc")["particle_block"] is None
    assert defaults("quadrature") == {"points": 0, "order": 5, "bisect": 48, "subdivisions": 8}
    assert set(defaults("smc", arguments_only=True)) == {
        "particles", "runs", "mutations", "integration_steps", "target_ess", "generations",
        "prior_draws", "step_min", "step_max", "target_accept", "initial_scale", "max_stages",
        "final_stages"}
    assert "devices" not in settable("nuts")


def test_tuning_keys_from_the_spec_and_from_set():
    c = checked(ENERGY + "sample smc { max_stages = 500; target_accept = 0.6 }\n")
    assert c.sample["max_stages"] == 500 and c.sample["target_accept"] == 0.6
    assert "initial_scale" not in c.sample  # tuning keys are there only when given
    c = checked(ENERGY, {"engine": "quadrature", "order": "3", "subdivisions": "4"})
    assert c.sample == {"points": None, "order": 3, "subdivisions": 4}
    c = checked(ENERGY + "sample nuts { chain_method = flat }\n")
    assert c.sample["chain_method"] == "flat"
    c = checked(ENERGY, {"engine": "nuts", "chain_method": "vectorized"})
    assert c.sample["chain_method"] == "vectorized"
    c = checked(ENERGY + "sample nuts { chain_method = auto }\n")
    assert c.sample["chain_method"] is None
    c = checked(ENERGY + "sample smc { particle_block = 0 }\n")
    assert c.sample["particle_block"] == 0


def test_bad_tuning_values():
    with pytest.raises(SpecError) as info:
        checked(ENERGY + "sample nuts { chain_method = flatt }\n")
    text = info.value.render()
    assert "`chain_method` must be one of sequential, vectorized, flat, auto" in text
    assert "did you mean `flat`?" in text
    with pytest.raises(SpecError, match="`max_stages` must be a whole number >= 1"):
        checked(ENERGY + "sample smc { max_stages = 0 }\n")
    with pytest.raises(SpecError, match="unknown key `devices`"):
        checked(ENERGY + "sample nuts { devices = 2 }\n")
    with pytest.raises(UsageError, match=r"^--set chain_method=3: `chain_method` must be one"):
        checked(ENERGY, {"engine": "nuts", "chain_method": "3"})


def test_set_errors_name_the_set_not_a_line():
    with pytest.raises(UsageError) as info:
        checked(ENERGY, {"engine": "nuts", "n": "12", "sample.draws": "0"})
    assert info.value.render() == ("phasedsl: error: --set sample.draws=0: `draws` must be a "
                                   "whole number >= 1 (expected a whole number >= 1; found 0)")


def test_switching_engine_keeps_only_the_seed():
    """`--set engine=smc` on a spec whose nuts block sets `target_accept`: that key steers
    NUTS's step size, and SMC's HMC moves under the same name, so it must not carry over."""
    from phasedsl.language.check import check
    from phasedsl.language.syntax import parse

    text = "param w in [-1, 1]\nlet n = 3\nenergy K = w^2\nsample nuts { target_accept = 0.9; seed = 7 }\n"
    checked = check(parse(text, "t.phase"), {"engine": "smc"})
    assert checked.engine == "smc"
    assert "target_accept" not in checked.sample and checked.sample["seed"] == 7
