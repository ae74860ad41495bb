"""Progress a person can follow: header first, a row per finished point, timestamped lines
when stderr is not a terminal, nothing with --json."""

from __future__ import annotations

import io
import re

import pytest

from phasedsl.output.progress import RunProgress, progress_mode
from phasedsl.pipeline import load_text
from test_provenance import VALLEY as PROVENANCE_VALLEY

SPEC = """experiment "progress"
param w in [-1, 1]
energy K = w^2
let n = 10
sweep t over 1, 2, 3
phase left = w < 0
sample nuts { draws = 10; warmup = 10 }
"""


def _point(value, div=0):
    return {"value": value, "phases": {"left": {"mass": 0.5, "se": 0.1}},
            "other": {"mass": 0.5, "se": 0.1}, "preferred": "left",
            "diagnostics": {"mixing_ok": True, "divergences": div, "wall_s": 0.25}}


def test_log_lines_are_timestamped_rows_after_the_header():
    spec = load_text(SPEC, "p.phase")
    out = io.StringIO()
    with RunProgress(spec.checked, "log", stream=out) as watch:
        watch.update(0, 3, 1.0)
        watch.point(_point(1.0))
        watch.update(1, 3, 2.0)
        watch.point(_point(2.0, div=2))
    lines = out.getvalue().splitlines()
    assert all(re.match(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] ", line) for line in lines)
    assert "progress" in lines[0] and "engine nuts" in lines[1]  # the header first
    assert any("sampling t = 1 (point 1 of 3)" in line for line in lines)
    assert any("t = 2  left 0.500 ± 0.100" in line and "div=2" in line for line in lines)
    assert any("sampling t = 2 (point 2 of 3), eta" in line for line in lines)
    assert watch.divergences == 2 and watch.eta() is not None
    assert "sampling done: 2 points" in lines[-1]


def test_quiet_with_json():
    assert progress_mode(json_output=True) == "quiet"
    spec = load_text(SPEC, "p.phase")
    out = io.StringIO()
    with RunProgress(spec.checked, "quiet", stream=out) as watch:
        watch.update(0, 3, 1.0)
        watch.point(_point(1.0))
    assert out.getvalue() == ""


# -- reports from inside the compiled loops (phasedsl.engines.ticks)

VALLEY = PROVENANCE_VALLEY.replace("draws = 100", "draws = 40")  # NUTS diverges there


def _engine(text, **settings):
    from phasedsl.engines.registry import make_engine
    from phasedsl.lower.compile import compile_spec

    spec = load_text(text, "v.phase")
    compiled = compile_spec(spec.checked)
    return make_engine(spec.checked.engine, compiled.target,
                       {**spec.checked.sample, **settings}), compiled


def _same(a, b):
    import numpy as np

    return all(np.array_equal(x, y) for x, y in
               zip((a.params, a.indicators, a.logdensity, a.divergent),
                   (b.params, b.indicators, b.logdensity, b.divergent)))


def test_nuts_ticks_leave_the_draws_bitwise_alone_and_count_what_happened():
    import numpy as np

    from phasedsl.engines import ticks

    engine, compiled = _engine(VALLEY, chain_method="sequential")
    plain = engine.run(5, compiled.context(2.0))
    got = []
    with ticks.reporting(got.append):
        reported = engine.run(5, compiled.context(2.0))
    assert _same(plain, reported)  # same key, same draws, with and without a consumer
    assert plain.divergent.shape == (2, 40) and plain.divergent.sum() > 0
    assert engine.traces == 2  # one program without reports, one with
    assert {t.point for t in got} == {2.0} and {t.chain for t in got} == {0, 1}
    for chain in (0, 1):
        mine = [t for t in got if t.chain == chain]
        # TICKS = 20 in each of warmup (30: every 2nd) and draws (40: every 2nd), in order
        assert [t.done for t in mine] == list(range(2, 31, 2)) + list(range(32, 71, 2))
        assert {(t.total, t.warmup, t.engine) for t in mine} == {(70, 30, "nuts")}
        assert all(t.divergences == 0 for t in mine if t.done <= 30)  # warmup: not counted
        # the divergences so far among the draws; at the end, the chain's count
        so_far = np.cumsum(plain.divergent[chain])
        assert [t.divergences for t in mine if t.done > 30] == list(so_far[1::2])
        assert mine[-1].divergences == int(plain.divergent[chain].sum())
    # without a sink the program without reports is used again: nothing reported
    got.clear()
    assert _same(engine.run(5, compiled.context(2.0)), plain) and got == []


def test_every_k_iterations():
    from phasedsl.engines import ticks

    assert ticks.every(30) == 1 and ticks.every(200) == 2 and ticks.every(20_000) == 200
    assert [d for d in range(1, 11) if ticks.due(d, 3, 10)] == [3, 6, 9, 10]


def _ticks(engine, point, chain, done, total=0, warmup=0, divergences=0, lam=float("nan"),
           bridge=0, bridges=0):
    from phasedsl.engines.ticks import Tick

    return Tick(engine, point, chain, done, total, warmup, divergences, lam, bridge, bridges)


def test_log_speaks_of_a_running_point_at_most_every_log_every(monkeypatch):
    import phasedsl.output.progress as progress

    spec = load_text(SPEC.replace("draws = 10", "draws = 10; chains = 2"), "p.phase")
    out = io.StringIO()
    with RunProgress(spec.checked, "log", stream=out) as watch:
        watch.update(0, 3, 1.0)
        monkeypatch.setattr(progress, "LOG_EVERY", 0.0)
        watch.tick(_ticks("nuts", 1.0, 0, 15, 20, 10, divergences=1))
        watch.tick(_ticks("nuts", 1.0, 1, 8, 20, 10))
        monkeypatch.setattr(progress, "LOG_EVERY", 3600.0)
        for done in range(9, 20):  # throttled: no more lines for this point
            watch.tick(_ticks("nuts", 1.0, 1, done, 20, 10))
        watch.point(_point(1.0, div=2))
        watch.tick(_ticks("nuts", 1.0, 1, 20, 20, 10))  # late: the point is finished
    lines = out.getvalue().splitlines()
    live = [line for line in lines if "div" in line and "±" not in line]
    assert re.match(r"\[.*\] t = 1  draws 5/10 \(2 chains, 1 not started\)  div 1$", live[0])
    assert re.match(r"\[.*\] t = 1  warmup 8/10 to draws 5/10 \(2 chains\)  div 1  eta ",
                    live[1])
    assert len(live) == 2  # then throttled; and nothing after the point's row
    assert "t = 1  left 0.500" in lines[-2] and not watch.running and watch.divergences == 2


def test_live_display_has_a_line_per_running_point():
    from rich.console import Console

    spec = load_text(SPEC, "p.phase")
    with RunProgress(spec.checked, "quiet") as watch:
        watch.mode = "live"  # render without a terminal
        watch.update(0, 4, 1.0)
        watch.tick(_ticks("nuts", 1.0, 0, 5, 20, 10))
        watch.tick(_ticks("nuts", 2.0, 0, 12, 20, 10, divergences=3))
        watch.tick(_ticks("smc", 3.0, 0, 7, lam=0.0312))
        watch.tick(_ticks("smc", 3.0, 1, 6, lam=0.0151))
        watch.tick(_ticks("smc_path", 4.0, 1, 2, lam=0.5, bridge=3, bridges=21))
        watch.tick(_ticks("smc", 5.0, 0, 11, lam=1.0))  # tempered: a final stage
        watch.tick(_ticks("smc", 5.0, 1, 12, lam=1.0))
        console = Console(width=120, record=True, file=io.StringIO(), color_system=None)
        console.print(watch)
    text = console.export_text()
    assert "sampling  0/4 points" in text and "div 3" in text.splitlines()[0]
    assert "t = 1  warmup 5/10 (4 chains, 3 not started)  div 0" in text
    assert "t = 2  draws 2/10 (4 chains, 3 not started)  div 3" in text
    assert "t = 3  tempering stage 7  lambda 0.0151 (2 runs)" in text  # the least tempered
    assert "t = 4  bridge 3/21  stage 2  t 0.50" in text
    assert "t = 5  stage 12 at the posterior (2 runs)" in text
    assert watch.eta() is not None


SHARDED = r"""
import jax, numpy as np
from collections import Counter
from test_progress import VALLEY, _engine, _same
from phasedsl.engines import ticks
assert jax.device_count() == 2
keys = [jax.random.PRNGKey(i) for i in range(3)]
for method, settings in (("sequential", {}), ("flat", {}),
                         ("sequential", {"engine": "smc", "particles": 32, "runs": 2})):
    text = VALLEY if "engine" not in settings else VALLEY.replace(
        "sample nuts { chains = 2; draws = 40; warmup = 30 }",
        "sample smc { particles = 32; runs = 2 }")
    engine, compiled = _engine(text)
    ctxs = [compiled.context(v) for v in (1.0, 2.0, 1.5)]
    plain = engine.run_many(keys, ctxs, method=method)  # 3 points padded to 4, on 2 devices
    got = []
    with ticks.reporting(got.append):
        reported = engine.run_many(keys, ctxs, method=method)
    assert all(d.info.devices == 2 for d in reported)
    for a, b in zip(plain, reported):
        assert np.array_equal(a.params, b.params) and np.array_equal(a.weights, b.weights)
        assert a.divergent is None or np.array_equal(a.divergent, b.divergent)
    # every point and chain (run) speaks for itself; the padded copy of the last repeats it
    seen = {(t.point, t.chain) for t in got}
    chains = (0, 1)
    assert seen == {(v, c) for v in (1.0, 2.0, 1.5) for c in chains}, (method, seen)
    if engine.name == "nuts":
        for v, d in zip((1.0, 2.0, 1.5), plain):
            for c in chains:
                last = max((t for t in got if (t.point, t.chain) == (v, c)), key=lambda t: t.done)
                assert last.done == 70 and last.divergences == int(d.divergent[c].sum())
    else:
        assert all(t.engine == "smc" for t in got)
        finals = {(t.point, t.chain): t for t in got if t.lam == 1.0}
        assert set(finals) == seen
print("ok")
"""


@pytest.mark.slow  # six compilations in a fresh process: about a minute on 2 cores
def test_ticks_under_shard_map_name_their_point_and_chain(tmp_path):
    """Two CPU devices (set before JAX starts, hence a subprocess), as ``phasedsl run`` uses by
    default on a CPU: NUTS chains one after another and flat, and SMC runs, with their
    points split across the devices: the draws are bitwise those without a consumer, and the
    ticks name every point and chain."""
    from specfiles import run_on_two_devices

    run_on_two_devices(SHARDED)


def test_an_engine_without_loops_to_report_compiles_once():
    import numpy as np

    from phasedsl.engines import ticks

    text = VALLEY.replace("param u in [-1, 1]\n", "").replace("(w^2 - u)^2", "w^2").replace(
        "sample nuts { chains = 2; draws = 40; warmup = 30 }", "sample quadrature { points = 101 }")
    engine, compiled = _engine(text)
    got = []
    with ticks.reporting(got.append):
        reported = engine.run(0, compiled.context(1.0))
    plain = engine.run(0, compiled.context(1.0))
    assert engine.traces == 1 and got == []  # traced for reports, it had none: reused
    assert np.array_equal(plain.weights, reported.weights)


def test_a_grid_cell_is_one_point_of_two_values():
    import jax.numpy as jnp

    from phasedsl.engines import ticks

    cell = ticks.point_of({"value": jnp.array([1.5, 10.0])})
    assert cell.tolist() == [1.5, 10.0]
    one = ticks.point_of({"value": jnp.float32(2.0)})
    assert one[0] == 2.0 and jnp.isnan(one[1])
    spec = load_text(SPEC, "p.phase")
    with RunProgress(spec.checked, "quiet") as watch:
        watch.mode = "live"
        watch.update(0, 2, 1.5)
        watch.tick(_ticks("nuts", 1.5, 0, 5, 20, 10)._replace(point2=10.0))
        watch.tick(_ticks("nuts", 1.5, 0, 7, 20, 10)._replace(point2=20.0))
        assert len(watch.running) == 2  # two cells with the same first value
        watch.point({**_point(1.5), "value2": 10.0})
        assert [p.value2 for p in watch.running.values()] == [20.0]
