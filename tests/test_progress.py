"""Progress a person can follow: header first, a row per finished point, timestamped lines
when stderr is not a terminal, nothing with --json."""

from __future__ import annotations

import io
import re

from phasedsl.output.progress import RunProgress, progress_mode
from phasedsl.pipeline import load_text

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
