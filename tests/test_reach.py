"""Bounds on basins' masses where two flows disagree (``analysis.reach``), by hand."""

from __future__ import annotations

import numpy as np
import pytest

from phasedsl.analysis.reach import reach_masses


def test_pure_reach_and_shared_masses_by_hand():
    # two groups of four starts, each carrying 1/4 of its group's mass
    labels = np.array([0, 0, 1, 1, 0, 1, 1, 2])
    other = np.array([0, 1, 1, 1, 0, 0, 2, 2])
    group = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    share = np.full(8, 0.25)
    got = reach_masses(labels, other, group, share, 2, exact=False)
    # pure: both flows agree. basin 0: group 0 {0}, group 1 {4}: 1/4 each
    assert got.pure == pytest.approx([0.25, 0.25, 0.125])
    # reach: either flow. basin 1: group 0 {1, 2, 3} 3/4, group 1 {5, 6} 1/2
    assert got.reach == pytest.approx([0.5, 0.625, 0.25])
    assert got.reach_se[1] == pytest.approx(np.std([0.75, 0.5], ddof=1) / np.sqrt(2))
    # shared pairs, largest first: (0, 1) holds starts 1 and 5; (1, 2) start 6
    assert [(a, b) for a, b, _, _ in got.shared] == [(0, 1), (1, 2)]
    assert [m for _, _, m, _ in got.shared] == pytest.approx([0.25, 0.125])
    # the pure masses and the shared masses partition the whole
    assert got.pure.sum() + sum(m for _, _, m, _ in got.shared) == pytest.approx(1.0)
    # each flow's own mass lies between pure and reach
    for lab in (labels, other):
        own = np.array([share[lab == b].sum() / 2 for b in range(3)])
        assert np.all(got.pure <= own + 1e-12) and np.all(own <= got.reach + 1e-12)


def test_flows_that_agree_share_nothing_and_exact_draws_have_no_se():
    labels = np.array([0, 1, 1, -1])  # -1: a basin too small to report
    got = reach_masses(labels, labels, np.zeros(4, int), np.full(4, 0.25), 1, exact=True,
                       count=2)
    assert got.pure == pytest.approx([0.25, 0.5]) and got.reach == pytest.approx([0.25, 0.5])
    assert got.shared == () and np.all(got.pure_se == 0) and np.all(got.reach_se == 0)
