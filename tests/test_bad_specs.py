"""Expect tests: every spec in tests/bad_specs/ is rejected with exactly the message beside it.

Each ``NAME.phase`` has a ``NAME.expected`` holding the full text ``phasedsl check`` writes to
stderr (location, source line, caret, expected, found, notes). To rewrite the expected files
after a deliberate change of wording, run

    PHASEDSL_REGEN=1 python -m pytest -q tests/test_bad_specs.py

and read every changed message (``git diff tests/bad_specs``) before committing it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from specfiles import REGEN, checked_error

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "bad_specs"
SPECS = sorted(BAD.glob("*.phase"))


def test_corpus_is_large_enough():
    assert len(SPECS) >= 35
    missing = [p.name for p in SPECS if not p.with_suffix(".expected").exists()]
    assert REGEN or not missing, f"no .expected file for {missing}"


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_bad_spec(path: Path, capsys, monkeypatch):
    err = checked_error(path, capsys, monkeypatch)
    rel = path.relative_to(ROOT).as_posix()
    first = err.splitlines()[0]
    assert first.startswith(f"{rel}:") and ": error: " in first
    assert "expected: " in err and "found: " in err
