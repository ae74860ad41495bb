"""Helpers shared by the test modules.

- ``run_cli(*argv)`` / the ``cli`` fixture: ``phasedsl ARGV`` run in this process, its exit
  code and what it wrote to stdout and stderr (never a traceback).
- ``merge_run``: the shipped Example 4.2 spec (``specs/example_4_2_merge.phase``: exact
  quadrature) run once per test session (once per worker under pytest-xdist) with its own
  settings, shared by the modules that read it; tests may write figures into its folder,
  never change its results.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import NamedTuple

import pytest

SPECS = Path(__file__).resolve().parents[1] / "specs"
MERGE = SPECS / "example_4_2_merge.phase"


class CliRun(NamedTuple):
    """What one command wrote: its exit ``code``, ``out`` (stdout) and ``err`` (stderr)."""

    code: int
    out: str
    err: str


def run_cli(*argv) -> CliRun:
    """Run ``phasedsl ARGV`` here (``cli.main``) with stdout and stderr captured; a traceback
    in either fails the test."""
    from phasedsl.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text, text[-3000:]
    return CliRun(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    """``run_cli``."""
    return run_cli


class MergeRun(NamedTuple):
    folder: Path
    results: dict
    checked: object


@pytest.fixture(scope="session")
def merge_run(tmp_path_factory) -> MergeRun:
    """Example 4.2 run as shipped (``run_spec``), once per session."""
    from phasedsl.language.check import check
    from phasedsl.language.syntax import parse
    from phasedsl.pipeline import run_spec

    checked = check(parse(MERGE.read_text(), str(MERGE)))
    folder = tmp_path_factory.mktemp("merge")
    return MergeRun(folder, run_spec(checked, folder), checked)
