"""Where the tests find spec texts: the shipped specs, the language contract, our reference."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.phase"))
DOCS_MD = ROOT / "docs" / "language.md"


CONTRACT_EXAMPLES = ROOT / "tests" / "contract_examples.md"


def _language_md() -> Path:
    """The contract: ``$PHASEDSL_LANGUAGE_MD``, else ``shared/`` beside the checkout (a
    developer's work tree), else the contract's examples shipped in ``tests/`` (a fresh
    clone, CI), so that the tests of the contract's examples never skip."""
    if os.environ.get("PHASEDSL_LANGUAGE_MD"):
        return Path(os.environ["PHASEDSL_LANGUAGE_MD"])
    beside = ROOT.parent / "shared" / "LANGUAGE.md"
    return beside if beside.exists() else CONTRACT_EXAMPLES


LANGUAGE_MD = _language_md()


def fenced_blocks(path: Path) -> list[str]:
    """The fenced code blocks of a markdown file."""
    return re.findall(r"^```[a-z]*\n(.*?)^```", path.read_text(encoding="utf-8"), re.M | re.S)


REGEN = os.environ.get("PHASEDSL_REGEN") == "1"  # rewrite the expected files of expect tests


def checked_error(path: Path, capsys, monkeypatch) -> str:
    """What ``phasedsl check`` writes to stderr for the rejected spec ``path`` (run from the
    repository root, so messages name ``tests/...``), asserted to be exit code 1, nothing on
    stdout, no traceback, and exactly ``path``'s ``.expected`` text (written instead under
    ``PHASEDSL_REGEN=1``)."""
    from phasedsl.cli import main

    monkeypatch.chdir(ROOT)
    code = main(["check", path.relative_to(ROOT).as_posix()])
    captured = capsys.readouterr()
    err = captured.err
    assert code == 1, f"exit code {code}\n{err}{captured.out}"
    assert "Traceback" not in err + captured.out
    assert captured.out == "", "a rejected spec prints no summary"
    expected_path = path.with_suffix(".expected")
    if REGEN:
        expected_path.write_text(err, encoding="utf-8")
    assert err == expected_path.read_text(encoding="utf-8")
    return err


def run_on_two_devices(script: str, timeout: int = 600) -> None:
    """Run ``script`` in a Python subprocess whose JAX sees two CPU devices (XLA's
    host-platform device count is read when JAX starts, hence the subprocess), with the
    tests and the repository importable; assert it succeeds and prints ``ok`` last."""
    import subprocess
    import sys

    here = ROOT / "tests"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "PYTHONPATH": os.pathsep.join([str(here), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


def sampled_and_exact(folder: Path, spec_file: Path, overrides: dict | None = None):
    """``(run, exact)``: ``spec_file`` run as written (with ``overrides``) into
    ``folder/sampled`` and with exact quadrature into ``folder/exact`` (energies of one or
    two bounded parameters) at the sampled run's points (its added values included), both
    ``phasedsl.Run``s, no figures."""
    import phasedsl

    overrides = dict(overrides or {})
    run = phasedsl.run(phasedsl.load(spec_file, overrides), folder / "sampled", plots=False)
    exact_overrides = {k: v for k, v in overrides.items() if k.startswith("report.")}
    exact = phasedsl.load(spec_file, {**exact_overrides, "engine": "quadrature",
                                      "report.resolution": "0"})
    exact = phasedsl.run(at_values(exact, [p.value for p in run.points]), folder / "exact",
                         plots=False)
    return run, exact


def at_values(spec, values):
    """``spec`` (a ``phasedsl.Spec``) with its sweep replaced by ``values``: the exact answer
    at a sampled run's points, the values refinement added included (pair them with
    ``exact`` run at ``report.resolution = 0``, so that it adds none of its own)."""
    import dataclasses

    return dataclasses.replace(spec, checked=dataclasses.replace(
        spec.checked, sweep_values=tuple(float(v) for v in values)))


def tilted_well(sweep: str = "linspace(0, 2, 11)", tail: str = "") -> str:
    """A one-parameter spec whose answers are integrals: the double well ``w^4 - 2 w^2``
    tilted by the sweep variable, phases ``right`` (``w > 0``) and ``left``; ``tail``: more
    statements (a ``sample`` or ``report`` block)."""
    return (f'experiment "tilted double well"\nsweep theta over {sweep}\nparam w in [-2, 2]\n'
            "prior uniform\nenergy K = w^4 - 2*w^2 + theta*w\nlet n = 20\n"
            f"phase right = w > 0\nphase left = w <= 0\n{tail}")


def two_node_network(sweep: str = "1", tail: str = "") -> str:
    """PT1's model at a small n: a two-node ReLU network on inputs uniform on the box
    ``[-1, 1]^2`` against a truth whose nodes sit at angles ``+-theta``; ``tail``: more
    statements (lets, phases)."""
    return (f'experiment "tiny network"\nsweep theta over {sweep}\n'
            "data { n = 200; x ~ uniform(-1, 1)^2; noise = 1 }\nbeta = 1 / log(n)\n"
            "model network(width = 2)\nprior normal(0, 1)\ntruth network(width = 2) {\n"
            "  w[1] = [cos(theta), sin(theta)]\n  w[2] = [-cos(theta), sin(theta)]\n"
            f"  b = -0.3; q = 1; c = 0\n}}\n{tail}")
