"""Fuzz: mutated and adversarial specs (``tests/fuzzgen.py``) through ``phasedsl check``
(in process) and a few through ``phasedsl run``.

For every input: exit code 0, 1 or 2 only, no traceback, every exit 1 located at a line
inside the file, a bounded time and a bounded memory. A few hundred inputs by default; thousands with
``-m slow``.
"""

from __future__ import annotations

import os
import re
import resource
import time

import pytest

from conftest import run_cli

from fuzzgen import SMALL, cases, mutate_tokens

DEFAULT_COUNT = 300
SLOW_COUNT = 3000
SECONDS = 20.0  # per input, on a loaded 2-core machine (typical: 0.05 s)


def _run_cli(argv):
    """``run_cli`` (conftest; a traceback fails) and the seconds it took."""
    t0 = time.perf_counter()
    code, out, err = run_cli(*argv)
    return code, out, err, time.perf_counter() - t0


def _assert_sane(path, data: bytes, code, out, err, seconds):
    text = out + err
    assert code in (0, 1, 2), f"exit code {code}\n{text[-2000:]}"
    assert "Traceback" not in text, text[-3000:]
    assert seconds < SECONDS, f"{seconds:.1f} s"
    if code == 1:
        first = next(line for line in err.splitlines() if ": error: " in line)
        m = re.match(re.escape(str(path)) + r":(\d+):(\d+): error: ", first)
        assert m, f"exit 1 without a location: {first!r}"
        lines = data.count(b"\n") + 1
        assert 1 <= int(m.group(1)) <= lines, f"line {m.group(1)} of {lines}: {first!r}"


MEMORY = 1 << 30  # bytes any one input may add to the process's peak memory


def _rss() -> int:
    """The process's resident memory now, in bytes (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    """The process's peak resident memory so far, in bytes (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _check_all(tmp_path, count, seed):
    """Every input within ``SECONDS`` and, all of them, within ``MEMORY`` of extra peak
    memory: the peak is a high-water mark, so one bound after the campaign bounds each
    input (the 20 MB file of newlines once peaked at 5.2 GB)."""
    start = max(_rss(), _peak())
    for name, data in cases(count, seed):
        path = tmp_path / f"{name}.phase"
        path.write_bytes(data)
        code, out, err, seconds = _run_cli(["check", str(path)])
        _assert_sane(path, data, code, out, err, seconds)
        path.unlink()
    assert _peak() - start < MEMORY, f"peak memory grew by {(_peak() - start) >> 20} MiB"


def test_fuzz_check(tmp_path):
    _check_all(tmp_path, DEFAULT_COUNT, seed=17)


@pytest.mark.slow
def test_fuzz_check_many(tmp_path):
    _check_all(tmp_path, SLOW_COUNT, seed=1717)


def _run_some(tmp_path, count, seed):
    import random

    rng = random.Random(seed)
    done = 0
    for attempt in range(count * 20):
        text = mutate_tokens(SMALL, rng)
        path = tmp_path / f"run{attempt}.phase"
        path.write_text(text, encoding="utf-8")
        code, out, err, seconds = _run_cli(["check", str(path)])
        _assert_sane(path, text.encode(), code, out, err, seconds)
        if code != 0:
            continue
        code, out, err, seconds = _run_cli(
            ["run", str(path), "--out", str(tmp_path / f"out{attempt}"), "--no-plots",
             "--engine", "quadrature", "--set", "points=11"])
        _assert_sane(path, text.encode(), code, out, err, 0.0)
        assert seconds < 120.0, f"run took {seconds:.1f} s"
        done += 1
        if done == count:
            break


def test_fuzz_run_a_few(tmp_path):
    _run_some(tmp_path, 3, seed=5)


@pytest.mark.slow
def test_fuzz_run_many(tmp_path):
    _run_some(tmp_path, 40, seed=55)


# ---------------------------------------------------------------- issue 25: new kinds


def _check_each(tmp_path, named):
    """Every ``(name, bytes)`` through ``check``: sane, within ``SECONDS`` each and, all of
    them, within ``MEMORY`` of extra peak memory."""
    start = max(_rss(), _peak())
    slowest = (0.0, "")
    for name, data in named:
        path = tmp_path / f"{name}.phase"
        path.write_bytes(data)
        code, out, err, seconds = _run_cli(["check", str(path)])
        _assert_sane(path, data, code, out, err, seconds)
        slowest = max(slowest, (seconds, name))
        path.unlink()
    assert _peak() - start < MEMORY, f"peak memory grew by {(_peak() - start) >> 20} MiB"
    return slowest


def test_size_attacks_under_the_file_limit(tmp_path):
    """Files just under 1 MB whose cost is work, not bytes (900k semicolons, 20,000 phases,
    a 200,000-entry vector, norms of a 10,000-vector): each checked well under 20 s."""
    from fuzzgen import size_attacks

    _check_each(tmp_path, size_attacks())


def test_every_limit_at_its_edges(tmp_path):
    """Every limit at -1/0/+1 and numbers past float64 wherever a number goes: accepted
    or refused with a location, never a traceback or a hang."""
    from fuzzgen import limit_edges

    _check_each(tmp_path, limit_edges())


def test_encodings(tmp_path):
    from fuzzgen import encodings

    _check_each(tmp_path, encodings())


def _data_spec(file: str) -> str:
    return (f'sweep eps over 0.2, 0.3\ndata {{ file = "{file}" }}\nmodel network(width = 1)\n'
            "let u[i] = q[i] * w[i]\nphase pos = u[1][1] > eps\n")


def _data_campaign(tmp_path, count, seed):
    import random

    from fuzzgen import data_files

    start = max(_rss(), _peak())
    for name, ext, data in data_files(random.Random(seed), count):
        (tmp_path / f"{name}{ext}").write_bytes(data)
        path = tmp_path / f"{name}.phase"
        text = _data_spec(f"{name}{ext}")
        path.write_text(text)
        code, out, err, seconds = _run_cli(["check", str(path)])
        assert code in (0, 1) and "Traceback" not in out + err and seconds < SECONDS, err
        if code == 1:  # located in the data file (its row, column or cell) or the spec
            first = next(line for line in err.splitlines() if ": error: " in line)
            assert first.startswith((str(path), str(tmp_path / name))), first
    assert _peak() - start < MEMORY, f"peak memory grew by {(_peak() - start) >> 20} MiB"


def test_data_files_whose_headers_lie(tmp_path):
    """NumPy files claiming 10^12 rows, damaged deflate streams, bombs, odd digits: a
    located error (in the data file) or an accept, within the time and memory bounds."""
    _data_campaign(tmp_path, 40, seed=25)


@pytest.mark.slow
def test_data_files_many(tmp_path):
    _data_campaign(tmp_path, 400, seed=2525)
