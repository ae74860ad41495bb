"""Expect tests for broken data files: every spec in tests/bad_data/ (each naming a broken
data file beside it, or a data block that cannot go with a file) is rejected by
``phasedsl check`` with exactly the message in ``NAME.expected``: located in the data file
(``FILE:LINE:COLUMN`` of a CSV cell, the row and column of a NumPy array) or, where the
spec is at fault (a missing file, `n` past the rows), in the spec. Exit code 1, never a
traceback. Regenerate after a deliberate change of wording with

    PHASEDSL_REGEN=1 python -m pytest -q tests/test_bad_data.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from specfiles import REGEN, checked_error

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "bad_data"
SPECS = sorted(BAD.glob("*.phase"))


def test_every_case_has_its_message():
    missing = [p.name for p in SPECS if not p.with_suffix(".expected").exists()]
    assert len(SPECS) >= 25 and (REGEN or not missing), missing


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_bad_data(path: Path, capsys, monkeypatch):
    err = checked_error(path, capsys, monkeypatch)
    first = err.splitlines()[0]
    assert first.startswith("tests/bad_data/") and ": error: " in first
    assert "expected: " in err and "found: " in err
