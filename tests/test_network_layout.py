"""``NetworkLayout``: the one owner of a network's flat parameter layout."""

from __future__ import annotations

import numpy as np

from phasedsl.language.check import check
from phasedsl.language.layout import NetworkLayout
from phasedsl.language.syntax import parse
from specfiles import SPECS


def test_positions_and_names():
    lay = NetworkLayout(width=3, inputs=2)
    assert lay.dim == 13
    assert (lay.w(1, 1), lay.w(3, 2), lay.b(1), lay.b(3), lay.q(1), lay.q(3), lay.c) == \
        (0, 5, 6, 8, 9, 11, 12)
    assert lay.names[:3] == ("w[1][1]", "w[1][2]", "w[2][1]") and lay.names[-1] == "c"
    assert [(s.name, s.shape, s.start) for s in lay.slots] == \
        [("w", (3, 2), 0), ("b", (3,), 6), ("q", (3,), 9), ("c", (), 12)]


def test_split_keeps_leading_axes():
    lay = NetworkLayout(2, 2)
    x = np.arange(2 * 3 * 9.0).reshape(2, 3, 9)
    w, b, q, c = lay.split(x)
    assert w.shape == (2, 3, 2, 2) and b.shape == q.shape == (2, 3, 2) and c.shape == (2, 3)
    assert w[0, 0, 1, 0] == 2 and b[0, 0, 1] == 5 and q[0, 0, 0] == 6 and c[0, 0] == 8


def test_permutations_swap_whole_nodes():
    lay = NetworkLayout(2, 2)
    perms = lay.permutations()
    assert perms.shape == (2, 9) and perms.dtype == np.int32
    assert perms[0].tolist() == list(range(9))
    assert perms[1].tolist() == [2, 3, 0, 1, 5, 4, 7, 6, 8]
    assert NetworkLayout(3, 1).permutations().shape == (6, 10)


def test_checked_network_has_its_layout():
    path = next(p for p in SPECS if p.name.startswith("pt1"))
    c = check(parse(path.read_text(), str(path)))
    assert c.layout == NetworkLayout(2, 2)
    assert [str(s) for s in c.symbols] == list(c.layout.names)
    assert c.slots == c.layout.slots
    energy = check(parse("param w\nenergy K = w^2\nlet n = 3\nphase p = w > 0\n", "t.phase"))
    assert energy.layout is None
