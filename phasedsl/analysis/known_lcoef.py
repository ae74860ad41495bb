"""Learning coefficients known exactly: the ground truth the estimates are compared with.

``reduced_rank(inputs, outputs, hidden, rank) -> (lambda, multiplicity)``: reduced-rank
regression ``y = B A x`` (``A`` hidden x inputs, ``B`` outputs x hidden) against a truth of
rank ``rank`` with a positive-definite input covariance, by Aoyagi and Watanabe, "Stochastic
complexities of reduced rank regression in Bayesian estimation", Neural Networks 18 (2005),
Theorem 1 (their M inputs, N outputs, H hidden, r the truth's rank):

1. ``N + r <= M + H``, ``M + r <= N + H`` and ``H + r <= M + N``: with
   ``s = 2 (H + r)(M + N) - (M - N)^2 - (H + r)^2``, ``lambda = s / 8`` and ``m = 1`` when
   ``M + H + N + r`` is even, ``lambda = (s + 1) / 8`` and ``m = 2`` when it is odd;
2. ``M + H < N + r``: ``lambda = (H M - H r + N r) / 2``, ``m = 1``;
3. ``N + H < M + r``: ``lambda = (H N - H r + M r) / 2``, ``m = 1``;
4. ``M + N < H + r``: ``lambda = M N / 2``, ``m = 1``.

At ``r = H <= min(M, N)`` (the regular case) this is ``H (M + N - H) / 2``, half the
dimension of the rank-H matrices.

``deep_linear(widths, rank) -> lambda``: the deep linear network
``y = W_L ... W_1 x`` with ``widths = (H_1, ..., H_{L+1})`` (``H_1`` inputs, ``H_{L+1}``
outputs, ``W_s`` of ``H_{s+1} x H_s``) against a truth whose product has rank ``r``, by
Aoyagi, "Consideration on the learning efficiency of multiple-layered neural networks with
linear units", Neural Networks 172 (2024), Theorem 1: with ``M_s = H_s - r``, take the set
``S`` of ``l + 1`` layers (``l >= 1``) with ``max_{s in S} M_s < min_{k not in S} M_k``,
``sum_S M_s >= l max_S M_s`` and ``sum_S M_s < l min_{k not in S} M_k`` (the last two
conditions void where nothing is outside ``S``); with ``Sigma = sum_S M_s``,
``c = ceil(Sigma / l)`` and ``a = Sigma - (c - 1) l``,

    lambda = (-r^2 + r (H_1 + H_{L+1})) / 2 + a (l - a) / (4 l)
             - l (l - 1) / 4 (Sigma / l)^2 + 1/2 sum_{s < t in S} M_s M_t,

For two layers it agrees with ``reduced_rank`` (``tests/test_known_lcoef.py`` checks every
small shape). Only ``lambda`` is returned: the multiplicity is not needed here (and for a
chain of scalars, ``K = (a b c)^2``, it is 3, which a one-or-two rule would not give).
"""

from __future__ import annotations

from fractions import Fraction

__all__ = ["reduced_rank", "deep_linear"]


def reduced_rank(inputs: int, outputs: int, hidden: int, rank: int) -> tuple[Fraction, int]:
    """``(lambda, m)`` of reduced-rank regression (exact fractions; see the module)."""
    m_, n_, h, r = inputs, outputs, hidden, rank
    if min(m_, n_, h) < 1 or not 0 <= r <= min(m_, n_, h):
        raise ValueError(f"need dims >= 1 and 0 <= rank <= min dims; got M={m_}, N={n_}, "
                         f"H={h}, r={r}")
    if m_ + h < n_ + r:
        return Fraction(h * m_ - h * r + n_ * r, 2), 1
    if n_ + h < m_ + r:
        return Fraction(h * n_ - h * r + m_ * r, 2), 1
    if m_ + n_ < h + r:
        return Fraction(m_ * n_, 2), 1
    s = 2 * (h + r) * (m_ + n_) - (m_ - n_) ** 2 - (h + r) ** 2
    if (m_ + h + n_ + r) % 2 == 0:
        return Fraction(s, 8), 1
    return Fraction(s + 1, 8), 2


def _layer_set(deficits: list[int]) -> list[int]:
    """Indices of the set ``S`` of Aoyagi's theorem: the ``l + 1 >= 2`` smallest deficits
    (a prefix of the sorted order that splits no tie) meeting the sum conditions."""
    order = sorted(range(len(deficits)), key=lambda i: deficits[i])
    values = [deficits[i] for i in order]
    for size in range(2, len(values) + 1):
        inside, ell = values[:size], size - 1
        rest = values[size:]
        if rest and not max(inside) < min(rest):
            continue
        if sum(inside) >= ell * max(inside) and (not rest or sum(inside) < ell * min(rest)):
            return order[:size]
    raise ValueError(f"no layer set for deficits {deficits}")  # pragma: no cover


def deep_linear(widths, rank: int) -> Fraction:
    """``lambda`` of a deep linear network (an exact fraction; see the module).
    ``widths``: ``(inputs, hidden_1, ..., outputs)``, at least 3 entries (two layers)."""
    widths = [int(h) for h in widths]
    r = int(rank)
    if len(widths) < 3 or min(widths) < 1 or not 0 <= r <= min(widths):
        raise ValueError(f"need >= 3 widths >= 1 and 0 <= rank <= min width; got {widths}, {r}")
    deficits = [h - r for h in widths]
    chosen = _layer_set(deficits)
    ell = len(chosen) - 1
    total = sum(deficits[i] for i in chosen)
    c = -(-total // ell)
    a = total - (c - 1) * ell
    pairs = sum(deficits[i] * deficits[j] for n, i in enumerate(chosen) for j in chosen[n + 1:])
    lam = (Fraction(-r * r + r * (widths[0] + widths[-1]), 2) + Fraction(a * (ell - a), 4 * ell)
           - Fraction(ell * (ell - 1), 4) * Fraction(total, ell) ** 2 + Fraction(pairs, 2))
    return lam
