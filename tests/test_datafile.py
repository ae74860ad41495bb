"""A network's data from a file: the same data given by a truth and by a file (CSV, NPY,
NPZ) give the same posterior, to the bit; nested subsets for a sweep over n; the file's
contents in the run key and the provenance. Broken files: ``test_bad_data.py``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from phasedsl.language.datafile import read_data
from phasedsl.language.errors import UsageError
from phasedsl.pipeline import load_text, run_spec
from phasedsl.rundir import load_draws, posterior_identity, run_key

BODY = """sweep eps over 0.2, 0.5
model network(width = 1)
let u[i] = q[i] * w[i]
phase pos = u[1][1] > eps
sample nuts { chains = 2; draws = 40; warmup = 40 }
report { lcoef = 0 }
"""
TRUTH = ('experiment "data"\n'
         "data { n = 40; x ~ uniform(-1, 1)^2; noise = 0.5; seed = 3 }\n"
         "truth network(width = 1) { w[1] = [1, -0.5]; b = 0.1; q = 1.5; c = 0.2 }\n" + BODY)


def from_file(name: str, extra: str = "") -> str:
    return f'experiment "data"\ndata {{ file = "{name}"; noise = 0.5{extra} }}\n' + BODY


def truth_data() -> tuple[np.ndarray, np.ndarray]:
    """The truth spec's data set (``x f32[40, 2]``, ``y f32[40]``), as its run sees it."""
    from phasedsl.lower.compile import compile_spec

    x, y = compile_spec(load_text(TRUTH).checked).dataset(0.2)
    return x, y


def write_csv(path: Path, x: np.ndarray, y: np.ndarray, header: str | None = "x1,x2,y"):
    """Every float32 value written as its exact float64 decimal (reads back bit for bit)."""
    lines = [] if header is None else [header]
    lines += [",".join(repr(float(v)) for v in row) for row in np.c_[x, y]]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    x, y = truth_data()
    write_csv(folder / "data.csv", x, y)
    np.save(folder / "data.npy", np.c_[x, y].astype(np.float64))
    np.savez(folder / "data.npz", x=x, y=y)
    return folder, x, y


def checked_from(folder: Path, text: str, name: str = "file.phase"):
    return load_text(text, str(folder / name)).checked


def test_formats_read_the_same_table(files):
    folder, x, y = files
    for name in ("data.csv", "data.npy", "data.npz"):
        table = read_data(folder / name, name)
        assert table.rows == 40 and table.inputs == 2
        np.testing.assert_array_equal(table.x.astype(np.float32), x)
        np.testing.assert_array_equal(table.y.astype(np.float32), y)
    # no header: the inputs, then y; a header in another order: columns by name
    write_csv(folder / "plain.csv", x, y, header=None)
    table = read_data(folder / "plain.csv", "plain.csv")
    np.testing.assert_array_equal(table.y.astype(np.float32), y)
    rows = ["y,x2,x1"] + [f"{float(b)!r},{float(a2)!r},{float(a1)!r}"
                          for (a1, a2), b in zip(x, y)]
    (folder / "named.csv").write_text("\n".join(rows) + "\n")
    table = read_data(folder / "named.csv", "named.csv")
    np.testing.assert_array_equal(table.x.astype(np.float32), x)
    np.testing.assert_array_equal(table.y.astype(np.float32), y)


@pytest.mark.parametrize("name", ["data.csv", "data.npy", "data.npz"])
def test_file_and_truth_give_the_same_log_density(files, name):
    """At fixed parameters the two targets agree: the same rows, summed in float32 by two
    compilations (equal up to the order of the sum)."""
    from phasedsl.lower.compile import compile_spec

    folder, _, _ = files
    a = compile_spec(load_text(TRUTH).checked)
    b = compile_spec(checked_from(folder, from_file(name)))
    params = np.random.default_rng(0).normal(size=(16, a.dim)).astype(np.float32)
    for value in (0.2, 0.5):
        for p in params:
            # the same rows, summed by two compilations: equal up to float32 reordering
            assert float(a.logdensity(p, value)) == pytest.approx(float(b.logdensity(p, value)),
                                                                  rel=1e-5)


@pytest.mark.slow
def test_file_run_draws_equal_truth_run_draws(files, tmp_path):
    """Both specs run end to end: the same draws, bit for bit, and the same masses."""
    folder, _, _ = files
    truth = run_spec(load_text(TRUTH).checked, tmp_path / "truth")
    run = run_spec(checked_from(folder, from_file("data.npy")), tmp_path / "file")
    for p, q in zip(truth["points"], run["points"]):
        assert p["phases"]["pos"]["mass"] == q["phases"]["pos"]["mass"]
    for i in range(2):
        a, b = load_draws(tmp_path / "truth", i), load_draws(tmp_path / "file", i)
        np.testing.assert_array_equal(a["params"], b["params"])


def test_file_run_records_the_file_and_a_changed_file_is_another_run(files, tmp_path):
    """A run on the CSV file: its draws' log densities are the truth spec's at the same
    parameters; path and sha256 in the results; a changed file changes the run key."""
    from phasedsl.lower.compile import compile_spec

    folder, _, _ = files
    checked = checked_from(folder, from_file("data.csv"))
    run = run_spec(checked, tmp_path / "file")
    truth, compiled = compile_spec(load_text(TRUTH).checked), compile_spec(checked)
    draws = load_draws(tmp_path / "file", 1)
    params = draws["params"].reshape(-1, truth.dim)[::7]
    assert len(params) >= 10
    for p in params:
        assert float(truth.logdensity(p, 0.5)) == pytest.approx(
            float(compiled.logdensity(p, 0.5)), rel=1e-5)
    digest = hashlib.sha256((folder / "data.csv").read_bytes()).hexdigest()
    assert run["data_file"]["sha256"] == digest
    assert run["data_file"]["path"] == str(folder / "data.csv")
    assert run["data_file"]["rows"] == 40 and run["seeds"]["data"] is None
    saved = json.loads((tmp_path / "file" / "results.json").read_text())
    assert saved["data_file"]["sha256"] == digest

    # a changed file (one value) is another run: its key differs and the folder refuses it
    text = (folder / "data.csv").read_text().split("\n")
    changed = folder / "changed"
    changed.mkdir()
    (changed / "data.csv").write_text("\n".join(text[:5] + ["0.5,0.5,0.5"] + text[6:]))
    other = checked_from(changed, from_file("data.csv"))
    assert run_key(other) != run_key(checked)
    differ = [k for k, v in posterior_identity(other).items()
              if posterior_identity(checked)[k] != v]
    assert differ == ["data_sha256"]
    with pytest.raises(UsageError, match="different spec or settings"):
        run_spec(other, tmp_path / "file")


def test_sweep_over_n_uses_the_first_rows(files):
    """Nested subsets: at n the first n rows count (mask), every sweep point sees the
    same rows; `n` past the file's rows is a checker error (test_bad_data)."""
    from phasedsl.lower.compile import compile_spec

    folder, x, y = files
    text = from_file("data.csv").replace("sweep eps over 0.2, 0.5", "sweep n over 10, 25, 40")
    text = text.replace("> eps", "> 0")
    compiled = compile_spec(checked_from(folder, text))
    for n in (10, 25, 40):
        ctx = compiled.context(float(n))
        assert float(np.sum(ctx.mask)) == n and bool(np.all(np.asarray(ctx.mask)[:n] == 1))
        np.testing.assert_array_equal(np.asarray(ctx.y), y)
    # n = 10 of the file is the posterior of a file of its first 10 rows
    write_csv(folder / "first10.csv", x[:10], y[:10])
    small = compile_spec(checked_from(folder, from_file("first10.csv")))
    p = np.random.default_rng(1).normal(size=small.dim).astype(np.float32)
    assert float(compiled.logdensity(p, 10.0)) == pytest.approx(float(small.logdensity(p, 0.2)),
                                                                 rel=1e-6)


def test_n_defaults_to_every_row_and_a_smaller_n_takes_the_first(files):
    folder, _, _ = files
    assert float(checked_from(folder, from_file("data.csv")).n) == 40
    assert float(checked_from(folder, from_file("data.npy", "; n = 12")).n) == 12
    net = checked_from(folder, from_file("data.npz", "; inputs = 2")).network
    assert net.data.inputs == 2 and net.truth_width == 0


def test_a_beta_sweep_tempers_the_files_likelihood(files):
    """`sweep t over ...; beta = t` on a data file: the log-likelihood part of the density
    scales with beta (the prior's does not)."""
    from phasedsl.lower.compile import compile_spec

    folder, _, _ = files
    text = from_file("data.csv").replace("sweep eps over 0.2, 0.5", "sweep t over 0.5, 1")
    text = text.replace("> eps", "> 0") + "beta = t\n"
    compiled = compile_spec(checked_from(folder, text))
    p = np.random.default_rng(2).normal(size=compiled.dim).astype(np.float32)
    ctx_half, ctx_one = compiled.context(0.5), compiled.context(1.0)
    prior = float(compiled.target.logprior(p, ctx_one))
    half = float(compiled.target.logdensity(p, ctx_half)) - prior
    one = float(compiled.target.logdensity(p, ctx_one)) - prior
    assert one == pytest.approx(2 * half, rel=1e-5)
