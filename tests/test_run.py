"""`phasedsl run` end to end on the energy examples, whose answers are exact integrals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

from phasedsl.language.check import check
from phasedsl.cli import main
from phasedsl.language.errors import UsageError
from phasedsl.pipeline import Execution, run_spec
from phasedsl.language.syntax import parse

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"


def load(name: str, overrides=None):
    path = SPECS / name
    return check(parse(path.read_text(), str(path)), overrides)


def k_merge(w, t):
    return (w + 1 - t) ** 2 * (w - 1 + t) ** 4


def exact_free_energy(lo, hi, n, t):
    """-log of integral_lo^hi (1/4) exp(-n K(w)) dw, by adaptive quadrature."""
    val, _ = quad(lambda w: 0.25 * math.exp(-n * k_merge(w, t)), lo, hi, epsabs=0, epsrel=1e-12,
                  limit=200)
    return -math.log(val)


def test_merge_free_energies_match_scipy(merge_run):
    results = merge_run.results
    assert results["status"] == "complete"
    for p in results["points"]:
        t = p["value"]
        assert p["absolute"] is True
        assert -p["log_z"] == pytest.approx(exact_free_energy(-2, 2, 10, t), abs=1e-3)
        for name, centre in (("left", t - 1), ("right", 1 - t)):
            lo, hi = max(-2, centre - 0.5), min(2, centre + 0.5)
            assert p["phases"][name]["free_energy"] == pytest.approx(
                exact_free_energy(lo, hi, 10, t), abs=1e-3), (name, t)


def test_merge_event_and_no_crossover(merge_run):
    results = merge_run.results
    events = results["events"]
    merges = [e for e in events if e["kind"] == "merge"]
    assert [m["between"] for m in merges] == [[pytest.approx(0.9), 1.0]]
    assert merges[0]["phases"] == ["left", "right"]
    assert not [e for e in events if e["kind"] == "crossover"]
    # the right (quartic) phase is preferred throughout (the seed's claim)
    assert {p["preferred"] for p in results["points"][:-1]} == {"right"}


def test_first_order_in_n_matches_the_exact_crossover(tmp_path):
    t = (0.1 / 16) ** (1 / 3)

    def k(w):
        return (w + 1) ** 2 * ((w - 1 - t) ** 4 + 4 * t ** 3 - t ** 4)

    def log_ratio(n):
        acc = quad(lambda w: math.exp(-n * k(w)), -1.5, -0.5, epsabs=0, epsrel=1e-12)[0]
        simple = quad(lambda w: math.exp(-n * k(w)), 0.5, 1.5, epsabs=0, epsrel=1e-12)[0]
        return math.log(acc) - math.log(simple)

    n_c = brentq(log_ratio, 10, 25, xtol=1e-10)
    results = run_spec(load("example_4_1_first_order.phase", {"engine": "quadrature"}), tmp_path)
    (cross,) = [e for e in results["events"] if e["kind"] == "crossover"]
    assert (cross["from"], cross["to"]) == ("simple", "accurate")
    assert cross["at"] == pytest.approx(n_c, abs=0.2)
    assert cross["between"] == [15.0, 20.0]


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_without_recomputing(tmp_path):
    checked = load("example_4_2_merge.phase")
    calls = []

    def stop_after_three(point):
        if len(calls) == 3:
            raise KeyboardInterrupt

    def record(count, total, value):
        calls.append(value)

    with pytest.raises(KeyboardInterrupt):
        run_spec(checked, tmp_path,
                 execution=Execution(progress=record, on_point=stop_after_three))
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["status"] == "interrupted"
    assert [p["value"] for p in saved["points"]] == calls == list(checked.sweep_values[:3])
    assert len(list((tmp_path / "draws").glob("point_*.npz"))) == 3

    again = []
    results = run_spec(checked, tmp_path,
                       execution=Execution(progress=lambda c, t, v: again.append(v)))
    assert again == list(checked.sweep_values[3:])
    assert results["status"] == "complete"
    assert [p["value"] for p in results["points"]] == list(checked.sweep_values)
    fresh = run_spec(checked, tmp_path / "fresh")
    strip = lambda r: [{k: v for k, v in p.items() if k != "diagnostics"} for p in r["points"]]
    assert strip(results) == strip(fresh)
    assert results["events"] == fresh["events"]


def test_a_changed_spec_is_refused_not_overwritten(tmp_path):
    run_spec(load("example_4_2_merge.phase"), tmp_path)
    before = (tmp_path / "results.json").read_text()
    with pytest.raises(UsageError, match="different spec or settings"):
        run_spec(load("example_4_2_merge.phase", {"points": "2001"}), tmp_path)
    assert (tmp_path / "results.json").read_text() == before
    run_spec(load("example_4_2_merge.phase", {"points": "2001"}), tmp_path, fresh=True)
    assert json.loads((tmp_path / "results.json").read_text())["sampler"]["points"] == 2001


STUCK = """experiment "two wells NUTS cannot cross"
param w in [-1, 1]
energy K = (w^2 - t/2)^2
let n = 50
sweep t over 1, 1.5
phase left = w < 0
phase right = w > 0.5
sample nuts { chains = 4; draws = 100; warmup = 100 }
"""


def test_run_prints_what_report_prints(tmp_path, capsys):
    """The run's own report is rendered from what it saved: an infinite R-hat (chains stuck
    in different wells) is null in results.json, so `run` and `report` agree."""
    spec = tmp_path / "stuck.phase"
    spec.write_text(STUCK)
    assert main(["run", str(spec), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    ran = capsys.readouterr().out
    assert main(["report", str(tmp_path / "r")]) == 0
    again = capsys.readouterr().out
    assert ran.split("results:")[0] == again and "MIXING" in again


def test_cli_json_and_exit_codes(tmp_path, capsys):
    spec = str(SPECS / "example_4_2_merge.phase")
    assert main(["run", spec, "--out", str(tmp_path / "r"), "--json", "--no-plots"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert doc["schema"] == "phasedsl.results/1"
    assert doc["sampler"]["engine"] == "quadrature"
    assert len(doc["points"]) == 11 and doc["phases"] == ["left", "right"]
    assert main(["report", str(tmp_path / "r")]) == 0
    report = capsys.readouterr().out
    assert "second-order merge of left and right between theta = 0.9 and 1" in report
    assert main(["run", str(tmp_path / "missing.phase")]) == 2
    assert "no such spec file" in capsys.readouterr().err
    assert main(["run", spec, "--set", "nonsense=1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "no such setting" in err and "Traceback" not in err
    bad = tmp_path / "bad.phase"
    bad.write_text("sweep t over 1, 2\nparam w in [-1, 1]\nenergy K = w^2 * tt\nlet n = 3\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "bad.phase:3:18: error: unknown name `tt`" in err and "Traceback" not in err
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert main(["run", spec, "--chain-method", "flat", "--out", str(tmp_path / "c")]) == 2
    assert "--chain-method applies to the nuts engine, not quadrature" in capsys.readouterr().err


def test_check_and_help_do_not_import_jax():
    import subprocess
    import sys

    code = ("import sys; from phasedsl.cli import main; "
            f"rc = main(['check', {str(SPECS / 'pt1_degeneracy.phase')!r}]); "
            "assert rc == 0; assert 'jax' not in sys.modules, 'jax imported'; print('fine')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "fine" in out.stdout and "parameters" in out.stdout and "9: w[2,2] b[2] q[2] c" in out.stdout


def test_events_at_points_where_chains_disagree_are_not_trusted():
    from phasedsl.analysis.events import with_trust
    from phasedsl.analysis.records import Event, Mass, PointSummary
    from phasedsl.output.report import markdown

    points = [PointSummary(v, {}, Mass(1.0, 0.0), None, {}, False, None, {"mixing_ok": ok})
              for v, ok in ((1.0, False), (2.0, True), (3.0, True))]
    events = [Event(2, "creation", (1.0, 2.0), phase="a"),
              Event(2, "destruction", (2.0, 3.0), phase="a")]
    events = [e.to_json() for e in with_trust(events, points)]
    assert [e["trusted"] for e in events] == [False, True]
    doc = {"sweep": {"name": "t"}, "phases": [], "points": [], "events": events}
    lines = markdown(doc).splitlines()
    assert lines[-2] == ("- second-order creation of a between t = 1 and 2 "
                         "(chains disagree at an end: not trustworthy)")
    assert lines[-1] == "- second-order destruction of a between t = 2 and 3"


def test_batched_points_give_the_same_results_as_one_at_a_time(tmp_path):
    """`--batch K`: points x chains in one compiled call; same keys, same posterior."""
    text = (SPECS / "example_4_2_merge.phase").read_text()
    checked = check(parse(text, "merge.phase"),
                    {"engine": "nuts", "chains": "2", "draws": "300", "warmup": "200"})
    import dataclasses

    checked = dataclasses.replace(checked, sweep_values=(0.5, 0.7, 0.9))
    one = run_spec(checked, tmp_path / "one")
    many = run_spec(checked, tmp_path / "many", execution=Execution(batch=3))
    for a, b in zip(one["points"], many["points"]):
        assert a["value"] == b["value"]
        for name in one["phases"]:
            # vectorized chains differ from sequential ones by float32 rounding only, which
            # NUTS can amplify over a trajectory: the estimates agree within their errors
            ma, sa = a["phases"][name]["mass"], a["phases"][name]["se"]
            mb, sb = b["phases"][name]["mass"], b["phases"][name]["se"]
            assert abs(ma - mb) <= 4 * math.hypot(sa, sb) + 1e-3
    assert len(list((tmp_path / "many" / "draws").glob("point_*.npz"))) == 3
    assert many["status"] == "complete"
