"""How many standard errors make "beyond the noise": the quantile every verdict uses.

A standard error from the spread of ``R`` independent runs is itself an estimate with
``R - 1`` degrees of freedom: ``(estimate - truth) / se`` follows Student's t with ``R - 1``
dof, not a normal, so "beyond 2 se" claims far less than 95% with 4 runs (``P(|t_3| <= 2)``
is 0.86). Every verdict (a crossover resolved, a mass clear of the floor, a flicker within
the noise) compares against ``factor(dof)`` standard errors: the t quantile with the se's
dof at the level of a normal's 2 sigma (95.45%, two-sided), so ``factor(None) == 2``
(an se with no dof attached: NUTS' ESS-based errors, known errors) and, with 4 runs,
``factor(3) = 3.31``. An exact engine's se is 0, so its verdicts do not change.

``se_range(dof)``: how far the true error may be from a quoted one (a chi-square interval
on ``sigma / se``), for the report to say how sure an se is.

Plain numbers; scipy.special only.
"""

from __future__ import annotations

import math
from functools import lru_cache

__all__ = ["LEVEL", "factor", "combined_dof", "se_range", "ratio_side"]

LEVEL = math.erf(2.0 / math.sqrt(2.0))   # 0.9545: the two-sided coverage of +- 2 sigma


@lru_cache(maxsize=256)
def _t_quantile(dof: float) -> float:
    from scipy.special import stdtrit

    return float(stdtrit(dof, 0.5 + LEVEL / 2.0))


def factor(dof) -> float:
    """Standard errors a verdict needs: the two-sided ``LEVEL`` quantile of Student's t with
    ``dof`` degrees of freedom; 2 (the normal's) where ``dof`` is ``None`` or infinite (the se
    is not a spread of a few repeats); ``inf`` where ``dof < 1`` (no spread to speak of)."""
    if dof is None or (isinstance(dof, float) and math.isinf(dof)):
        return 2.0
    dof = float(dof)
    if math.isnan(dof) or dof < 1.0:
        return math.inf
    return _t_quantile(dof)


def combined_dof(*dofs):
    """The dof of an se combined from others (a log ratio of two masses from the same runs):
    the smallest one given (``None`` where none is given: a normal se)."""
    known = [float(d) for d in dofs if d is not None and not (isinstance(d, float)
                                                               and math.isnan(d))]
    return min(known) if known else None


def ratio_side(ma: float, sa: float, mb: float, sb: float, k: float) -> int:
    """Which side of 1 the ratio ``mb / ma`` of two masses lies on beyond the noise: -1 where
    it is below 1 by more than ``k`` se, +1 above, 0 within the noise (an se that is not
    finite is within it).

    Fieller: the ratio's confidence set contains 1 exactly when ``mb - ma`` is within
    ``k sqrt(sa^2 + sb^2)`` of 0, so the test is on the difference. Unlike the log ratio's
    delta-method se (``sqrt((sa/ma)^2 + (sb/mb)^2)``), this stays meaningful where a mass
    is within its se of 0: a phase holding 1.000 +- 4e-4 against one at 0.000 +- 4e-4 is
    clearly preferred (the delta method calls that noise). Where both masses are well away
    from 0 the two tests agree to first order. Correlation between the two masses is not
    modelled (as in the log ratio's se)."""
    s = math.hypot(sa, sb)
    if not math.isfinite(s):
        return 0
    d = mb - ma
    half = k * s if s > 0 else 0.0
    return -1 if d + half < 0 else 1 if d - half > 0 else 0


@lru_cache(maxsize=64)
def se_range(dof: int, level: float = 0.95) -> tuple[float, float]:
    """``(low, high)``: the true standard deviation of an estimate lies between ``low`` and
    ``high`` times its quoted se at ``level`` (an se from ``dof + 1`` runs; the chi-square
    interval ``sqrt(dof / chi2_{1-a/2}) .. sqrt(dof / chi2_{a/2})``). With 4 runs (3 dof):
    0.57 to 3.73."""
    from scipy.special import chdtri

    tail = (1.0 - level) / 2.0
    # chdtri(v, p): x with P(chi2_v > x) = p
    return (math.sqrt(dof / float(chdtri(dof, tail))),
            math.sqrt(dof / float(chdtri(dof, 1.0 - tail))))
