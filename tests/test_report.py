"""The terminal report against golden text, on a hand-made results document."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from phasedsl.output.report import event_text, render
from phasedsl.rundir import dumps

GOLDEN = Path(__file__).parent / "golden"


def point(value, a, b, se=0.01, mixing=True, notes=(), div=0):
    return {
        "value": value,
        "phases": {"nondegenerate": {"mass": a, "se": se, "free_energy": None, "chain_masses": [a] * 4},
                   "degenerate": {"mass": b, "se": se, "free_energy": None, "chain_masses": [b] * 4}},
        "other": {"mass": 1 - a - b, "se": se},
        "preferred": "nondegenerate" if a >= b else "degenerate",
        "overlap": {"nondegenerate|degenerate": 0.0}, "absolute": False, "log_z": None,
        "diagnostics": {"rhat_max": 1.01 if mixing else float("inf"), "ess_min": 400.0,
                        "mixing_ok": mixing, "mixing_notes": list(notes), "divergences": div,
                        "wall_s": 2.0, "sample_s": 1.5, "compile_s": 0.5,
                        "grad_evals_per_s": 40000.0, "steps_per_draw": 31.5,
                        "chain_method": "sequential"},
    }


RESULTS = {
    "schema": "phasedsl.results/1", "experiment": "PT1: deforming to degeneracy",
    "sampler": {"engine": "nuts", "chains": 4, "draws": 2000, "warmup": 1000, "seed": 0},
    "sweep": {"name": "theta", "values": [1.2, 1.24, 1.28, 1.32]},
    "phases": ["nondegenerate", "degenerate"], "report": {"floor": 0.005, "merge": 0.9},
    "status": "complete",
    "points": [point(1.2, 0.4, 0.05), point(1.24, 0.3, 0.12),
               point(1.28, 0.2, 0.3, mixing=False,
                     notes=["chains 1, 3 hold `degenerate` (0.41, 0.38); chains 2, 4 hold none of it"]),
               point(1.32, 0.15, 0.4, div=3)],
    "events": [{"order": 1, "kind": "crossover", "from": "nondegenerate", "to": "degenerate",
                "at": 1.2612, "interval": [1.25, 1.27], "between": [1.24, 1.28]}],
    "warnings": [],
}


def rendered(results) -> str:
    with open(os.devnull, "w") as sink:
        console = Console(width=100, color_system=None, force_terminal=False, record=True,
                          file=sink)
        console.print(render(results))
    return console.export_text()


def test_report_matches_golden_text():
    """The report as recorded. ``PHASEDSL_REGEN=1`` writes a differing report as the new golden
    text, and the test still fails (review the file's ``git diff``, then run it again): a
    changed report never passes unseen."""
    text = rendered(RESULTS)
    path = GOLDEN / "report_pt1.txt"
    want = path.read_text()
    if text != want and os.environ.get("PHASEDSL_REGEN") == "1":
        path.write_text(text)
        pytest.fail(f"{path} written again: review its git diff and run the test again")
    assert text == want


def test_event_sentences():
    assert event_text(RESULTS["events"][0], "theta") == (
        "first-order crossover nondegenerate -> degenerate at theta = 1.261 [1.25, 1.27]")
    assert event_text({"kind": "destruction", "phase": "cancelled", "between": [2.0, 2.25]},
                      "vartheta") == "second-order destruction of cancelled between vartheta = 2 and 2.25"
    assert event_text({"kind": "merge", "phases": ["left", "right"], "between": [0.9, 1.0]},
                      "theta") == "second-order merge of left and right between theta = 0.9 and 1"


def test_a_crossover_between_two_values_nothing_was_added_between_is_given_as_its_bracket():
    """Refinement off (``report.resolution = 0``, as on a whole-number sweep): the event is
    the step between the two values, the interpolated crossing only a guess beside it; a
    crossover refinement narrowed keeps its ``at``."""
    step = {"kind": "crossover", "from": "rank0", "to": "rank1", "at": 0.5,
            "interval": [0.0, 1.0], "between": [0.0, 1.0], "resolved": True,
            "refinement": {"width": 0.0, "status": "off", "bracket": [0.0, 1.0]}}
    assert event_text(step, "r") == (
        "first-order crossover rank0 -> rank1 between r = 0 and 1 (no values added between; "
        "the mass ratio's interpolation crosses 1 at 0.5)")
    located = {**step, "at": 0.43, "interval": [0.4, 0.45], "between": [0.4, 0.45],
               "refinement": {"width": 0.05, "status": "located", "bracket": [0.4, 0.45]}}
    assert event_text(located, "r") == "first-order crossover rank0 -> rank1 at r = 0.43 [0.4, 0.45]"


def test_json_is_strict_and_keeps_the_contract():
    doc = json.loads(dumps(RESULTS))
    assert doc["points"][2]["diagnostics"]["rhat_max"] is None  # inf is not JSON
    assert doc["events"][0]["at"] == 1.2612
    assert set(doc["points"][0]) >= {"value", "phases", "other", "preferred", "diagnostics"}


def test_markdown_table():
    from phasedsl.output.report import markdown

    text = markdown(RESULTS)
    lines = text.splitlines()
    assert lines[0] == "| theta | nondegenerate | degenerate | other | preferred | mixing |"
    assert lines[2] == "| 1.2 | 0.400 ± 0.010 | 0.050 ± 0.010 | 0.550 ± 0.010 | nondegenerate | ok |"
    assert "| 1.28 | 0.200 ± 0.010 | 0.300 ± 0.010 | 0.500 ± 0.010 | degenerate | **chains disagree** |" in lines
    assert lines[-1] == "- first-order crossover nondegenerate -> degenerate at theta = 1.261 [1.25, 1.27]"


def test_smc_diagnostics_speak_of_runs_not_chains():
    smc = {**RESULTS, "sampler": {"engine": "smc", "particles": 2000, "runs": 4, "seed": 0}}
    text = " ".join(rendered(smc).split())
    assert "runs disagree at 1 of 4 points (theta = 1.28): the independent runs disagree there: " \
           "raise particles or runs." in text
    assert "--engine smc" not in text
    clear = {**smc, "points": [point(1.2, 0.4, 0.05), point(1.24, 0.3, 0.12)]}
    assert "all clear: independent runs agree, enough effective samples." in rendered(clear)


def test_smc_reports_its_tempering():
    pts = [point(1.2, 0.4, 0.05), point(1.24, 0.3, 0.12)]
    for p, stages in zip(pts, ([12, 13], [15, 14])):
        p["diagnostics"].update(stages=stages, particle_ess=[900.5, 1800.2],
                                acceptance=[0.61, 0.8], reached_posterior=True)
    smc = {**RESULTS, "sampler": {"engine": "smc", "runs": 2, "seed": 0}, "points": pts}
    assert ("tempering (per run): stages 12-15, particle ESS 900-1,800, HMC acceptance "
            "0.61-0.80") in rendered(smc)
    pts[1]["diagnostics"]["reached_posterior"] = False
    assert "1 point stopped before the posterior (max_stages)" in " ".join(rendered(smc).split())


def test_unknown_errors_are_shown_and_never_all_clear():
    pts = [point(1.2, 0.4, 0.05), point(1.24, 0.3, 0.12)]
    for p in pts:
        for m in list(p["phases"].values()) + [p["other"]]:
            m["se"] = None
    smc = {**RESULTS, "sampler": {"engine": "smc", "runs": 2, "seed": 0}, "points": pts}
    text = " ".join(rendered(smc).split())
    assert "0.400 ± ?" in text and "± 0.000" not in text
    assert "standard errors unknown at 2 of 2 points (2 independent runs" in text
    assert "all clear" not in text
    tiny = {**smc, "points": [point(1.2, 0.4, 0.05, se=0.0002)]}
    assert "0.050 ± 2e-04" in rendered(tiny)


def test_the_report_says_where_the_mass_in_no_phase_sits():
    pts = [point(1.2, 0.1, 0.05), point(1.24, 0.3, 0.12)]
    pts[0]["modes"] = {"other_groups": [
        {"mass": 0.6, "key": "q = (+, -), |u| ~ (1, 1)", "point": {"u": [[0.7, 0.7], [0.1, 1.0]]}}]}
    text = " ".join(rendered({**RESULTS, "points": pts}).split())
    assert ("`other` (in no phase) holds more than half the posterior at 2 of 2 points "
            "(theta = 1.2, 1.24): a phase may be missing.") in text
    assert ("at theta = 1.2 (0.850 in no phase) it sits at: 0.600 q = (+, -), |u| ~ (1, 1) "
            "e.g. u = [[0.7, 0.7], [0.1, 1.0]]") in text
    assert ("`phasedsl discover SPEC --at 1.2 --into RUN_FOLDER` finds the posterior's basins "
            "there") in text


def test_mixing_notes_are_worded_from_the_recorded_findings():
    """The report words a point's findings when it renders (a wording fix reaches old runs);
    a run that recorded sentences only keeps them."""
    import json
    from dataclasses import asdict

    from phasedsl.analysis.mixing import Finding
    from phasedsl.output.notes import point_notes

    f = Finding("repeats", "a", (0.9, 0.1, 0.5, 0.5), None, (0,), (1,), (), "repeat")
    point = json.loads(json.dumps({"diagnostics": {"findings": [asdict(f)],
                                                   "mixing_notes": ["stale words"]}}))
    assert point_notes(point) == ["repeats disagree on `a`: masses 0.90, 0.10, 0.50, 0.50; "
                                  "repeat 1 holds 0.90 of it, repeat 2 0.10"]
    assert point_notes({"diagnostics": {"mixing_notes": ["stale words"]}}) == ["stale words"]
