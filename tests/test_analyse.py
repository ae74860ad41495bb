"""Masses, errors, free energies, mixing checks and sweep events, on hand-made draws."""

import json
import math

import numpy as np
import pytest

import dataclasses

from phasedsl.analysis import events
from phasedsl.analysis.diagnostics import ess
from phasedsl.analysis.masses import summarise_point as summarise_record
from phasedsl.analysis.records import Mass, PhaseMass, PointSummary
from phasedsl.lower.run_info import NutsInfo
from phasedsl.lower.target import Draws
from phasedsl.output.notes import note_lines


def summarise_point(draws, names):
    """The point as ``results.json`` holds it: the record, its findings in words."""
    s = summarise_record(draws, names)
    return dataclasses.replace(s, notes=tuple(x for f in s.findings for x in note_lines(f))).to_json()


def find_crossovers(*args):
    return [e.to_json() for e in events.find_crossovers(*args)]


def find_thresholds(*args):
    return [e.to_json() for e in events.find_thresholds(*args)]


def find_merges(*args):
    return [e.to_json() for e in events.find_merges(*args)]


def find_events(values, points, *args, **kw):
    points = [p if isinstance(p, PointSummary) else PointSummary.from_json(p) for p in points]
    return [e.to_json() for e in events.find_events(values, points, *args, **kw)]

NAMES = ("a", "b")


def make_draws(ind, method="exact", weights=None, logdensity=None, **kw):
    ind = np.asarray(ind, dtype=bool)
    g, s, _ = ind.shape
    if logdensity is None:
        logdensity = np.zeros((g, s))
    return Draws(params=np.zeros((g, s, 1)), indicators=ind, logdensity=logdensity,
                 weights=None if weights is None else np.asarray(weights, float),
                 method=method, **kw)


# group 0: a = 1100, b = 0110; group 1: a = 1000, b = 0000
IND = np.stack([np.array([[1, 1, 0, 0], [0, 1, 1, 0]]).T,
                np.array([[1, 0, 0, 0], [0, 0, 0, 0]]).T])


def assert_plain(x):
    """Only JSON-native Python types, all the way down."""
    if isinstance(x, dict):
        for k, v in x.items():
            assert type(k) is str
            assert_plain(v)
    elif isinstance(x, list):
        for v in x:
            assert_plain(v)
    else:
        assert x is None or type(x) in (bool, int, float, str), (x, type(x))


def test_masses_overlap_other_relative_free_energy():
    out = summarise_point(make_draws(IND), NAMES)
    a, b = out["phases"]["a"], out["phases"]["b"]
    assert a["mass"] == pytest.approx(0.375)          # (2/4 + 1/4) / 2
    assert b["mass"] == pytest.approx(0.25)           # (2/4 + 0) / 2
    assert a["chain_masses"] == pytest.approx([0.5, 0.25])
    assert b["chain_masses"] == pytest.approx([0.5, 0.0])
    assert out["other"]["mass"] == pytest.approx(0.5)  # (1/4 + 3/4) / 2
    assert out["overlap"] == {"a|b": pytest.approx(0.125 / 0.5)}
    assert out["preferred"] == "a"
    assert a["free_energy"] == pytest.approx(-math.log(0.375))
    assert b["free_energy"] == pytest.approx(-math.log(0.25))
    assert a["se"] == 0.0 and out["other"]["se"] == 0.0
    assert out["absolute"] is False and out["log_z"] is None
    d = out["diagnostics"]
    assert d["mixing_ok"] is True and d["rhat_max"] is None and d["mixing_notes"] == []
    assert_plain(out)
    json.dumps(out)


def test_weighted_masses_and_absolute_free_energy():
    w = [[0.4, 0.3, 0.2, 0.1], [0.1, 0.1, 0.1, 0.7]]
    out = summarise_point(make_draws(IND, weights=w, log_z=np.array([-1.0, -2.0])), NAMES)
    a, b = out["phases"]["a"], out["phases"]["b"]
    assert a["chain_masses"] == pytest.approx([0.7, 0.1])
    assert a["mass"] == pytest.approx(0.4)
    assert b["mass"] == pytest.approx(0.25)
    assert out["other"]["mass"] == pytest.approx((0.1 + 0.9) / 2)
    assert out["overlap"]["a|b"] == pytest.approx(0.15 / 0.5)
    assert out["absolute"] is True and out["log_z"] == pytest.approx(-1.5)
    assert a["free_energy"] == pytest.approx(1.5 - math.log(0.4))
    assert b["free_energy"] == pytest.approx(1.5 - math.log(0.25))


def test_phase_log_z_and_empty_phases():
    ind = np.zeros((2, 4, 2), bool)
    ind[:, :2, 0] = True                                   # a: mass 1/2, b: empty
    out = summarise_point(make_draws(ind, log_z=np.array([0.0, 0.0]),
                                     phase_log_z=np.array([[-3.0, -np.inf], [-5.0, -np.inf]])),
                          NAMES)
    assert out["phases"]["a"]["free_energy"] == pytest.approx(4.0)
    assert out["phases"]["b"]["free_energy"] is None
    assert out["phases"]["b"]["mass"] == 0.0
    assert out["overlap"]["a|b"] == 0.0
    # quadrature where b's weights underflowed to 0 but its integral is finite
    plz = np.array([[-3.0, -800.0], [-5.0, -802.0]])
    deep = summarise_point(make_draws(ind, log_z=np.zeros(2), phase_log_z=plz), NAMES)
    assert deep["phases"]["b"]["mass"] == 0.0
    assert deep["phases"]["b"]["free_energy"] == pytest.approx(801.0)
    # nothing anywhere: no preferred phase, overlap 0 when both are empty
    none = summarise_point(make_draws(np.zeros((1, 4, 2), bool)), NAMES)
    assert none["preferred"] is None and none["overlap"]["a|b"] == 0.0
    assert none["other"]["mass"] == 1.0
    assert none["phases"]["a"]["free_energy"] is None


def test_repeats_standard_error():
    ind = np.zeros((4, 10, 2), bool)
    for g, k in enumerate([3, 5, 4, 4]):
        ind[g, :k, 0] = True
    out = summarise_point(make_draws(ind, method="repeats"), NAMES)
    a = out["phases"]["a"]
    assert a["mass"] == pytest.approx(0.4)
    # 4 runs of 10 draws that agree better than 40 draws can: the se is what 40 draws say,
    # not their spread (std(ddof=1) / sqrt(4) = 0.041)
    q = (0.4 * 40 + 0.5) / 41
    assert math.sqrt(0.02 / 3) / 2 < a["se"] == pytest.approx(math.sqrt(q * (1 - q) / 40))
    q0 = 0.5 / 41   # b: no run drew it, its mass is below about 1 / 40, not exactly 0
    assert out["phases"]["b"]["se"] == pytest.approx(math.sqrt(q0 * (1 - q0) / 40))
    assert a["se_dof"] == 3
    assert out["diagnostics"]["mixing_ok"] is True
    # 1,000 draws per run: the runs' spread is far above what their draws say, and is the se
    big = np.zeros((4, 1000, 2), bool)
    for g, k in enumerate([300, 500, 400, 400]):
        big[g, :k, 0] = True
    a = summarise_point(make_draws(big, method="repeats"), NAMES)["phases"]["a"]
    assert a["se"] == pytest.approx(math.sqrt(0.02 / 3) / 2)   # std(ddof=1) / sqrt(4)
    # a single repeat has no spread to estimate
    one = summarise_point(make_draws(ind[:1], method="repeats"), NAMES)
    assert one["phases"]["a"]["se"] is None


def test_repeats_that_disagree():
    ind = np.zeros((3, 100, 2), bool)
    ind[0, :90, 0] = ind[1, :88, 0] = ind[2, :10, 0] = True
    out = summarise_point(make_draws(ind, method="repeats"), NAMES)
    d = out["diagnostics"]
    assert d["mixing_ok"] is False
    assert any("`a`" in n and "repeat 3" in n for n in d["mixing_notes"])


def test_mcmc_se_uses_multichain_ess():
    rng = np.random.default_rng(0)
    iid = rng.random((4, 500, 2)) < 0.3
    out = summarise_point(make_draws(iid, method="mcmc", logdensity=rng.normal(size=(4, 500))),
                          NAMES)
    a = out["phases"]["a"]
    p = a["mass"]
    n_eff = ess(iid[:, :, 0].astype(float))
    assert a["se"] == pytest.approx(math.sqrt(p * (1 - p) / n_eff), rel=1e-12)
    assert a["se"] == pytest.approx(math.sqrt(p * (1 - p) / 2000), rel=0.1)  # iid: ESS ~ N
    d = out["diagnostics"]
    assert d["mixing_ok"] is True, d["mixing_notes"]
    assert set(d["rhat"]) == {"logdensity", "a", "b"} == set(d["ess"])
    assert d["rhat_max"] < 1.05 and d["ess_min"] > 1000
    # sticky chains (blocks of 50 identical draws): same mass, a much larger error
    blocks = np.repeat(rng.random((4, 10, 2)) < 0.3, 50, axis=1)
    sticky = summarise_point(make_draws(blocks, method="mcmc"), NAMES)["phases"]["a"]
    q = sticky["mass"]
    assert sticky["se"] > 3 * math.sqrt(q * (1 - q) / 2000)


def test_chains_in_different_phases_are_flagged():
    rng = np.random.default_rng(1)
    ind = np.zeros((4, 200, 2), bool)
    ind[[0, 2], :, 1] = rng.random((2, 200)) < 0.4      # chains 1, 3 visit `b`
    ind[:, :, 0] = ~ind[:, :, 1]
    info = NutsInfo(engine="nuts", compile_s=0.0, sample_s=1.0, wall_s=np.float64(1.5),
                    grad_evals=np.int64(40), chain_method="vectorized", chains=4, draws=200,
                    warmup=10, divergences=np.int64(3), divergences_per_chain=[3, 0, 0, 0],
                    steps_per_draw=1.0, lockstep_factor=1.0, acceptance=[0.9, 0.8],
                    grad_evals_warmup=0, grad_evals_per_chain=[10] * 4, step_size=[0.1] * 4,
                    max_depth_hits=2)
    out = summarise_point(make_draws(ind, method="mcmc", info=info), NAMES)
    d = out["diagnostics"]
    assert d["mixing_ok"] is False
    note = [n for n in d["mixing_notes"] if "hold `b`" in n]
    assert note and note[0].startswith("chains 1, 3 hold `b` (")
    assert "chains 2, 4 hold none of it" in note[0]
    assert any("R-hat of `b`" in n for n in d["mixing_notes"])
    assert d["rhat"]["b"] > 1.05
    assert d["divergences"] == 3 and type(d["divergences"]) is int
    assert d["wall_s"] == 1.5 and d["acceptance"] == [0.9, 0.8]
    assert d["grad_evals_per_s"] == 40.0 and d["chain_method"] == "vectorized"
    assert "max_depth_hits" not in d and "step_size" not in d  # the record's own, not kept
    assert "unrelated" not in d
    assert_plain(out)


def test_chain_masses_that_disagree_beyond_noise():
    """One chain at 0.1, three at 0.4, all iid: R-hat can stay low, the chi-square test fires."""
    rng = np.random.default_rng(2)
    ind = np.zeros((4, 200, 2), bool)
    ind[:, :, 0] = rng.random((4, 200)) < [[0.4], [0.1], [0.4], [0.4]]
    d = summarise_point(make_draws(ind, method="mcmc", logdensity=rng.normal(size=(4, 200))),
                        NAMES)["diagnostics"]
    assert d["mixing_ok"] is False
    assert any(n.startswith("per-chain masses of `a`") and "chi-square" in n
               for n in d["mixing_notes"])


def test_stuck_chains_give_infinite_rhat():
    ind = np.zeros((2, 100, 2), bool)
    ind[0, :, 0] = True
    ind[1, :, 1] = True
    record = summarise_record(make_draws(ind, method="mcmc"), NAMES)
    assert record.diagnostics["rhat"]["a"] == math.inf
    assert record.diagnostics["rhat_max"] == math.inf
    d = summarise_point(make_draws(ind, method="mcmc"), NAMES)["diagnostics"]
    assert d["rhat"]["a"] is None and d["rhat_max"] is None  # JSON has no infinity
    assert d["rhat"]["logdensity"] == 1.0          # constant log density
    assert d["mixing_ok"] is False
    assert any("chain 1 holds `a` (1.00); chain 2 holds none of it" in n
               for n in d["mixing_notes"])


# --- events ---------------------------------------------------------------------------------

V = np.array([1.0, 1.1, 1.2, 1.3, 1.4, 1.5])
LINEAR = 0.5 * np.stack([np.exp(-(V - 1.26)), np.exp(V - 1.26)], axis=1)  # log(b/a) = 2(v-1.26)


def test_crossover_at_exact_linear_log_ratio():
    (ev,) = find_crossovers(V, LINEAR, np.zeros_like(LINEAR), NAMES)
    assert ev["order"] == 1 and ev["kind"] == "crossover"
    assert ev["from"] == "a" and ev["to"] == "b"
    assert ev["at"] == pytest.approx(1.26, abs=1e-12)
    assert ev["between"] == pytest.approx([1.2, 1.3])
    assert ev["interval"] == pytest.approx([1.26, 1.26], abs=1e-12)


def test_crossover_interval():
    # relative errors c: se_log = c sqrt(2); lines 2(v - 1.26) -+ 2 c sqrt(2) cross 0 at
    # v = 1.26 -+ c sqrt(2)
    (ev,) = find_crossovers(V, LINEAR, 0.01 * LINEAR, NAMES)
    w = 0.01 * math.sqrt(2)
    assert ev["interval"] == pytest.approx([1.26 - w, 1.26 + w], abs=1e-12)
    assert ev["at"] == pytest.approx(1.26, abs=1e-12)
    # wide errors are clipped to the two sweep points
    (wide,) = find_crossovers(V, LINEAR, 0.05 * LINEAR, NAMES)
    assert wide["interval"] == pytest.approx([1.2, 1.3])
    # unknown errors (NaN) give the whole step
    (unk,) = find_crossovers(V, LINEAR, np.full_like(LINEAR, np.nan), NAMES)
    assert unk["interval"] == pytest.approx([1.2, 1.3])


def test_crossover_hand_interpolation_and_zero_masses():
    values = [0.0, 1.0, 2.0, 3.0]
    masses = np.array([[0.8, 0.1], [0.0, 0.0], [0.2, 0.6], [0.1, 0.9]])
    (ev,) = find_crossovers(values, masses, np.zeros_like(masses), NAMES)
    r0, r1 = math.log(0.1 / 0.8), math.log(0.6 / 0.2)   # the all-zero point is skipped
    assert ev["between"] == [0.0, 2.0]
    assert ev["at"] == pytest.approx(-r0 / (r1 - r0) * 2.0)
    # a phase with no mass at one end is floored at 1e-12
    m2 = np.array([[0.5, 0.0], [0.1, 0.4]])
    (ev2,) = find_crossovers([0.0, 1.0], m2, np.zeros_like(m2), NAMES)
    r0 = math.log(1e-12 / 0.5)
    r1 = math.log(4.0)
    assert ev2["at"] == pytest.approx(-r0 / (r1 - r0))


def test_thresholds():
    values = [0.0, 1.0, 2.0, 3.0]
    masses = np.array([[0.5, 0.3], [0.1, 0.3], [0.001, 0.3], [0.005, 0.3]])
    ev = find_thresholds(values, masses, 0.005, NAMES)
    assert ev == [
        {"order": 2, "kind": "destruction", "phase": "a", "between": [1.0, 2.0]},
        {"order": 2, "kind": "creation", "phase": "a", "between": [2.0, 3.0]},
    ]


def test_noise_flicker_is_one_unresolved_crossover_or_none():
    """Across points where a and b are equal within 2 se the preference flickers; that is one
    unresolved change from the first phase to the last, or none where they are the same.
    Unknown errors (NaN) say nothing about noise: every change stays an event."""
    values = [0.0, 1.0, 2.0, 3.0, 4.0]
    flicker = np.array([[0.9, 0.1], [0.49, 0.51], [0.51, 0.49], [0.49, 0.51], [0.1, 0.9]])
    se = np.full_like(flicker, 0.02)
    (ev,) = find_crossovers(values, flicker, se, NAMES)
    assert (ev["from"], ev["to"], ev["between"], ev["resolved"]) == ("a", "b", [0.0, 3.0], False)
    back = flicker.copy()
    back[4] = [0.9, 0.1]  # a is preferred again at the end: the preference never changed
    assert find_crossovers(values, back, se, NAMES) == []
    assert len(find_crossovers(values, flicker, 0.001 * np.ones_like(flicker), NAMES)) == 3
    assert len(find_crossovers(values, flicker, np.full_like(flicker, np.nan), NAMES)) == 3
    # a clear point between two changes keeps them apart (a real excursion to b and back)
    real = back.copy()
    real[2] = [0.3, 0.7]
    assert [e["between"] for e in find_crossovers(values, real, 0.1 * real, NAMES)] == [
        [0.0, 1.0], [3.0, 4.0]]


def test_thresholds_flicker_at_the_floor():
    values = [0.0, 1.0, 2.0, 3.0, 4.0]
    a = np.array([0.02, 0.0049, 0.0051, 0.0048, 0.0])
    masses = np.stack([a, np.full(5, 0.3)], axis=1)
    se = np.stack([np.full(5, 0.001), np.zeros(5)], axis=1)
    assert find_thresholds(values, masses, 0.005, NAMES, se) == [
        {"order": 2, "kind": "destruction", "phase": "a", "between": [0.0, 3.0]}]
    masses[4, 0] = 0.02  # back above the floor: no event beyond the noise
    assert find_thresholds(values, masses, 0.005, NAMES, se) == []
    assert len(find_thresholds(values, masses, 0.005, NAMES)) == 4  # no se: each crossing


def test_merges():
    values = [0.0, 1.0, 2.0, 3.0]
    ov = np.zeros((4, 3, 3))
    ov[:, 0, 1] = [0.5, 0.95, 0.99, 0.9]    # merges, then falls back to 0.9 (not above)
    ov[:, 1, 2] = 0.99                       # merged throughout: no event
    ev = find_merges(values, ov, 0.9, ("a", "b", "c"))
    assert ev == [
        {"order": 2, "kind": "merge", "phases": ["a", "b"], "between": [0.0, 1.0]},
        {"order": 2, "kind": "split", "phases": ["a", "b"], "between": [2.0, 3.0]},
    ]


def point(ma, mb, jac, se=0.0):
    return PointSummary(0.0, {"a": PhaseMass(ma, se), "b": PhaseMass(mb, se)},
                        Mass(1 - ma - mb, se), None, {"a|b": jac}, False, None, {})


def test_find_events_composes_and_sorts():
    values = [3.0, 0.0, 1.0, 2.0]                      # unsorted on purpose
    points = [point(0.001, 0.9, 0.0), point(0.9, 0.05, 0.0), point(0.6, 0.3, 0.95),
              point(0.2, 0.7, 0.5)]
    ev = find_events(values, points, floor=0.005, merge=0.9)
    kinds = [(e["kind"], e["between"]) for e in ev]
    # a and b are merged at 1.0 (overlap 0.95 > 0.9): which of them is larger there is no
    # transition, so the change of preferred phase between 1.0 and 2.0 is not a crossover
    assert kinds == [("merge", [0.0, 1.0]), ("split", [1.0, 2.0]), ("destruction", [2.0, 3.0])]
    ev = find_events(values, points, floor=0.005, merge=0.99)
    kinds = [(e["kind"], e["between"]) for e in ev]
    assert kinds == [("crossover", [1.0, 2.0]), ("destruction", [2.0, 3.0])]
    cross = ev[0]
    r0, r1 = math.log(0.3 / 0.6), math.log(0.7 / 0.2)
    assert cross["at"] == pytest.approx(1.0 - r0 / (r1 - r0))
    assert json.loads(json.dumps(ev)) == ev


def test_flat_sweep_has_no_events():
    values = np.linspace(0.0, 1.0, 6)
    assert find_events(values, [point(0.6, 0.3, 0.2, se=0.01)] * 6, 0.005, 0.9) == []
    assert find_events([], [], 0.005, 0.9) == []


def test_events_from_summaries():
    """find_events reads what summarise_point writes."""
    pts, values = [], [0.0, 1.0]
    for frac_a in (3, 1):                               # a: 3/4 then 1/4; b the rest
        ind = np.zeros((1, 4, 2), bool)
        ind[0, :frac_a, 0] = True
        ind[0, frac_a:, 1] = True
        pts.append(summarise_point(make_draws(ind), NAMES))
    (ev,) = find_events(values, pts, 0.005, 0.9)
    assert (ev["from"], ev["to"]) == ("a", "b")
    assert ev["at"] == pytest.approx(0.5) and ev["interval"] == pytest.approx([0.5, 0.5])


def test_values_just_above_a_limit_print_above_it():
    from phasedsl.output.notes import shown_above
    from phasedsl.output.report import fmt

    assert shown_above(1.0504, 1.05) == "1.0504"
    assert shown_above(1.23456, 1.05) == "1.235"
    assert shown_above(1.0500001, 1.05) == "1.0500001"
    # the report table's significant digits: 1.0504 would print as 1.05
    assert shown_above(1.0504, 1.05, fmt) == "1.0504"
    assert shown_above(1.2534, 1.05, fmt) == "1.25"
    assert shown_above(float("inf"), 1.05, fmt) == "inf"


def test_fewer_than_four_repeats_give_an_unknown_error_never_zero():
    """Two SMC runs that agree exactly would have a spread of 0: the error is unknown."""
    ind = np.zeros((2, 10, 2), bool)
    ind[:, :4, 0] = True                                  # both repeats: a = 0.4 exactly
    out = summarise_point(make_draws(ind, method="repeats"), NAMES)
    assert out["phases"]["a"]["mass"] == pytest.approx(0.4)
    assert out["phases"]["a"]["se"] is None and out["other"]["se"] is None
    four = summarise_point(make_draws(np.concatenate([ind, ind]), method="repeats"), NAMES)
    # four agreeing repeats: quotable, and not 0: what their 40 draws say
    q = (0.4 * 40 + 0.5) / 41
    assert four["phases"]["a"]["se"] == pytest.approx(math.sqrt(q * (1 - q) / 40))


def test_a_crossover_inside_the_noise_is_not_resolved():
    """The seed's width-3 trap: 0.020 +- 0.005 against 0.024 +- 0.005 at one end."""
    values = [0.6, 0.75]
    masses = np.array([[0.05, 0.01], [0.020, 0.024]])
    se = np.array([[0.004, 0.003], [0.005, 0.005]])
    (ev,) = events.find_crossovers(values, masses, se, NAMES)
    assert ev.resolved is False
    assert ev.to_json()["resolved"] is False
    from phasedsl.output.report import event_text

    assert event_text(ev.to_json(), "t").startswith("unresolved crossover a -> b somewhere "
                                                    "between t = 0.6 and 0.75")
    sure = np.array([[0.05, 0.01], [0.010, 0.060]])
    (ev,) = events.find_crossovers(values, sure, np.full_like(sure, 0.002), NAMES)
    assert ev.resolved is True and "first-order crossover a -> b at t =" in \
        event_text(ev.to_json(), "t")
    (unknown,) = events.find_crossovers(values, sure, np.full_like(sure, np.nan), NAMES)
    assert unknown.resolved is False                       # an unknown error never resolves


def test_a_destruction_that_moves_with_the_floor_says_so():
    """A mass decaying smoothly (e^-v) crosses each floor at its own place."""
    values = np.linspace(0.0, 10.0, 11)
    masses = np.stack([0.5 * np.exp(-values), 0.5 + 0 * values], axis=1)
    (ev,) = events.with_floor_moves(events.find_thresholds(values, masses, 0.005, NAMES),
                                    values, masses, 0.005, NAMES)
    assert ev.between == (4.0, 5.0)                      # 0.5 e^-v = 0.005 at v = 4.6
    moves = [(m["floor"], m["between"]) for m in ev.extra["other_floors"]]
    assert moves == [(pytest.approx(0.0005), [6.0, 7.0]),  # 0.5 e^-v = 0.0005 at v = 6.9
                     (pytest.approx(0.05), [2.0, 3.0])]     # and 0.05 at v = 2.3
    from phasedsl.output.report import event_text

    assert "(floor 0.0005: 6-7; floor 0.05: 2-3)" in event_text(ev.to_json(), "v")


def test_where_the_mass_in_no_phase_sits():
    """Draws outside every phase grouped by sign pattern and effective-weight norm."""
    from phasedsl.analysis.modes import other_groups
    from phasedsl.language.layout import NetworkLayout

    lay = NetworkLayout(2, 1)                   # w[2,1], b[2], q[2], c: 7 numbers
    params = np.zeros((1, 4, 7))
    params[0, :, 0:2] = [[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [3.0, 0.0]]   # w
    params[0, :, 4:6] = [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [-1.0, 1.0]]  # q
    ind = np.zeros((1, 4, 1), bool)
    ind[0, 2, 0] = True                         # the third draw is in the phase
    logd = np.array([[0.0, 1.0, 5.0, -1.0]])
    groups = other_groups(params, ind, None, logd, lay)
    assert [(g["key"], g["mass"]) for g in groups] == [
        ("q = (+, +), |u| ~ (1, 2)", 0.5), ("q = (-, +), |u| ~ (3, 0)", 0.25)]
    assert groups[0]["point"]["u"] == [[1.0], [2.0]]   # the heaviest draw outside the phase
    energy = other_groups(np.array([[[0.1], [0.9], [1.1]]]), np.zeros((1, 3, 0), bool), None,
                          np.zeros((1, 3)))
    assert [(g["key"], round(g["mass"], 6)) for g in energy] == [("(1)", 0.666667),
                                                                  ("(0)", 0.333333)]


def test_thinned_indices_are_evenly_spread_distinct_and_keep_both_ends():
    from phasedsl.analysis.thinning import thin_indices

    assert thin_indices(22, 8) == [0, 3, 6, 9, 12, 15, 18, 21]
    assert thin_indices(5, 10) == [0, 1, 2, 3, 4]
    assert thin_indices(10, 1) == [0] and thin_indices(0, 3) == []
    for count in range(1, 40):
        for limit in range(1, 12):
            got = thin_indices(count, limit)
            assert got == sorted(set(got)) and len(got) <= limit
            assert got[0] == 0 and (limit == 1 or got[-1] == count - 1)
