"""Exact learning coefficients (``analysis.known_lcoef``) against hand computations and
against each other (Aoyagi 2024 for two layers is Aoyagi and Watanabe 2005)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from phasedsl.analysis.known_lcoef import deep_linear, reduced_rank


def test_regular_case_is_half_the_dimension_of_rank_h_matrices():
    # r = H <= min(M, N): lambda = H (M + N - H) / 2, multiplicity 1
    for m, n, h in [(3, 3, 3), (4, 2, 2), (2, 5, 1), (6, 4, 3)]:
        assert reduced_rank(m, n, h, h) == (Fraction(h * (m + n - h), 2), 1)


def test_hand_computed_cases():
    # y = a b x (all ones), truth 0: K = (ab)^2, lambda 1/2 with multiplicity 2
    assert reduced_rank(1, 1, 1, 0) == (Fraction(1, 2), 2)
    # 3x3x3 (the shipped spec): s = 2 (H + r)(M + N) - (M - N)^2 - (H + r)^2
    assert reduced_rank(3, 3, 3, 0) == (Fraction(7, 2), 2)  # (36 - 9 + 1) / 8
    assert reduced_rank(3, 3, 3, 1) == (Fraction(4), 1)  # (48 - 16) / 8
    assert reduced_rank(3, 3, 3, 2) == (Fraction(9, 2), 2)  # (60 - 25 + 1) / 8
    assert reduced_rank(3, 3, 3, 3) == (Fraction(9, 2), 1)  # (72 - 36) / 8
    # a wide hidden layer (M + N < H + r): lambda is M N / 2, as for the product alone
    assert reduced_rank(1, 1, 3, 1) == (Fraction(1, 2), 1)
    # M + H < N + r: (H M - H r + N r) / 2 = (2 - 1 + 5) / 2
    assert reduced_rank(2, 5, 1, 1) == (Fraction(3), 1)


def test_lambda_never_exceeds_half_the_parameter_count():
    for m, n, h in itertools.product(range(1, 6), repeat=3):
        for r in range(min(m, n, h) + 1):
            lam, mult = reduced_rank(m, n, h, r)
            assert 0 <= lam <= Fraction(h * (m + n), 2) and mult in (1, 2)


def test_deep_linear_with_two_layers_is_reduced_rank():
    for m, h, n in itertools.product(range(1, 7), repeat=3):
        for r in range(min(m, n, h) + 1):
            assert deep_linear((m, h, n), r) == reduced_rank(m, n, h, r)[0], (m, h, n, r)


def test_deep_linear_hand_computed():
    # widths 2, 2, 2, 2 (three 2x2 layers), truth 0: deficits 2, 2, 2, 2 -> S all, l = 3,
    # Sigma 8, c 3, a 2; lambda = 0 + 2 * 1 / 12 - 6/4 (8/3)^2 + 1/2 * 6 * 4 = 2/12 - 32/3 + 12
    assert deep_linear((2, 2, 2, 2), 0) == Fraction(1, 6) - Fraction(32, 3) + 12  # 3/2
    # the regular case: every width equal to the rank gives (-r^2 + 2 r H) / 2 = H^2 / 2
    assert deep_linear((3, 3, 3, 3), 3) == Fraction(9, 2)
    # a chain of scalars against 0: K = (a b c)^2 = 0 at its deepest, lambda = 1/2
    assert deep_linear((1, 1, 1, 1), 0) == Fraction(1, 2)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        reduced_rank(3, 3, 2, 3)
    with pytest.raises(ValueError):
        deep_linear((3, 3), 1)
