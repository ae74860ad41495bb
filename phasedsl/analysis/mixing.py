"""Do a point's sampler groups (chains, SMC repeats) agree? Findings as records, no sentences
(``phasedsl.output.notes`` words them).

- MCMC: a split R-hat above ``RHAT_LIMIT`` (log density or a phase indicator); a phase that
  some chains hold (mass >= ``HOLD_MASS``) while others hold almost none (< ``EMPTY_MASS``);
  per-chain masses that a chi-square test of equal proportions rejects at ``CHI2_P``, each
  chain counting for ``S / tau`` draws with the autocorrelation time pooled within chains.
- Repeats: resampled particles are correlated, so a binomial error per repeat is too small to
  judge them by; a finding only where no sampling noise explains it: one repeat holds a phase
  that another misses, or two differ by more than ``REPEATS_GAP``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .diagnostics import chi2_sf, ess_within

__all__ = ["Finding", "RHAT_LIMIT", "HOLD_MASS", "EMPTY_MASS", "chain_findings",
           "rhat_findings", "repeat_findings", "direction_findings"]

RHAT_LIMIT = 1.05       # an R-hat above this marks the point as not mixed
HOLD_MASS = 0.2         # a chain at or above this mass "holds" a phase ...
EMPTY_MASS = 0.02       # ... while another chain below this holds (almost) none of it
CHI2_P = 1e-6           # per-chain masses disagree when the chi-square p-value is below this
REPEATS_GAP = 0.25      # independent repeats whose masses differ by more than this disagree
LOG_Z_GAP = 1.0         # paths walked in opposite directions whose log Z differ by more disagree


@dataclass(frozen=True)
class Finding:
    """Evidence that a point's groups disagree.

    ``kind``: ``"rhat"`` (``subject``: ``"logdensity"`` or a phase; ``stat``: the R-hat),
    ``"held_apart"`` (groups ``hold`` hold ``subject``, groups ``empty`` almost none),
    ``"chi2"`` (``stat``: the p-value), ``"directions"`` (``stat``: how many nats the log Z
    of the runs walking the sweep forwards and backwards differ; ``masses``: their means),
    ``"repeats"`` (``hold``/``empty``: the repeats with
    the most and the least of it), ``"modes"`` (``patterns``: each group's main sign pattern
    of ``q``). ``masses``: the subject's mass in each group; ``label``: ``"chain"`` or
    ``"repeat"``. Group indices are 0-based."""

    kind: str
    subject: str = ""
    masses: tuple[float, ...] = ()
    stat: float | None = None
    hold: tuple[int, ...] = ()
    empty: tuple[int, ...] = ()
    patterns: tuple[str, ...] = ()
    label: str = "chain"


def rhat_findings(rhat: dict[str, float | None]) -> list[Finding]:
    """One finding per series whose R-hat exceeds ``RHAT_LIMIT``."""
    return [Finding("rhat", key, stat=r) for key, r in rhat.items()
            if r is not None and r > RHAT_LIMIT]


def chain_findings(name: str, group_masses: np.ndarray, ind: np.ndarray) -> list[Finding]:
    """Per-chain masses ``f[C]`` of phase ``name`` that cannot come from one posterior;
    ``ind: f[C, S]`` its indicator draws."""
    masses = tuple(float(v) for v in group_masses)
    hold = np.flatnonzero(group_masses >= HOLD_MASS)
    empty = np.flatnonzero(group_masses < EMPTY_MASS)
    if hold.size and empty.size:
        return [Finding("held_apart", name, masses, hold=tuple(int(i) for i in hold),
                        empty=tuple(int(i) for i in empty))]
    if len(group_masses) < 2:
        return []
    pooled = float(group_masses.mean())
    if not 0.0 < pooled < 1.0:
        return []
    n_eff = ess_within(ind) / ind.shape[0]
    if not np.isfinite(n_eff):
        return []
    stat = float(n_eff * np.sum((group_masses - pooled) ** 2) / (pooled * (1.0 - pooled)))
    p = chi2_sf(stat, len(group_masses) - 1)
    return [Finding("chi2", name, masses, stat=p)] if p < CHI2_P else []


def repeat_findings(name: str, group_masses: np.ndarray) -> list[Finding]:
    """Independent repeats ``f[R]`` that disagree on phase ``name`` beyond any noise."""
    g = group_masses
    hi, lo = int(np.argmax(g)), int(np.argmin(g))
    if (g[hi] >= HOLD_MASS and g[lo] < EMPTY_MASS) or g[hi] - g[lo] > REPEATS_GAP:
        return [Finding("repeats", name, tuple(float(v) for v in g), hold=(hi,), empty=(lo,),
                        label="repeat")]
    return []


def direction_findings(log_z: np.ndarray, directions) -> list[Finding]:
    """Runs that walked the sweep in opposite directions (``directions i[R]``: 0 forwards,
    1 backwards) and disagree on ``log Z f[R]`` by more than ``LOG_Z_GAP``: one direction
    carried particles that missed a part of the posterior (a phase it could not see), so
    neither its masses nor its free energies can be trusted there."""
    directions = np.asarray(directions)
    if set(directions.tolist()) != {0, 1}:
        return []
    means = [float(np.mean(log_z[directions == d])) for d in (0, 1)]
    gap = abs(means[0] - means[1])
    return [Finding("directions", "log Z", tuple(means), stat=gap, label="direction")] \
        if gap > LOG_Z_GAP else []
