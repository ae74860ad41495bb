"""Is the posterior at a sweep value a density? The run-time backstop of the checker.

The checker cannot see every log density that is NaN or infinite (``log(w)`` on a box that
holds negative ``w``, ``w^2 / (theta - 1)`` at ``theta = 1``). Wherever an engine looked
(NUTS draws, SMC particles, quadrature nodes) and at ``PROBES`` draws from the prior, the
log density must be finite or ``-inf`` (zero density: outside a box, or where ``K = +inf``),
never NaN or ``+inf``, and finite somewhere; and the phase masses must be numbers. Otherwise
the point is refused with a ``PosteriorError`` naming the sweep value and the parameter
point, located at the model: never a mass of 0 or an invented event.
"""

from __future__ import annotations

import numpy as np

from ..language import ast
from ..language import catalogue as err
from .functions import PROBES, functions

__all__ = ["PROBES", "check_point"]


def _model_span(checked):
    kinds = (ast.Energy,) if checked.kind == "energy" else (ast.Model,)
    st = next((s for s in checked.spec.statements if isinstance(s, kinds)), None)
    if st is None:
        return None
    return st.expr.span if isinstance(st, ast.Energy) else st.span


def _point_text(checked, x) -> str:
    names = [str(s) for s in checked.symbols]
    pairs = [f"{n} = {float(v):.4g}" for n, v in zip(names, np.ravel(x))]
    if len(pairs) > 6:
        pairs = pairs[:6] + [f"... ({len(names)} parameters)"]
    return ", ".join(pairs)


def _fail(checked, value, what, x, notes=()):
    sweep = checked.value_text(value) if checked.sweep_name else "the posterior"
    e = err.bad_density(what, sweep, _model_span(checked),
                        where="" if x is None else f"at {_point_text(checked, x)}",
                        notes=notes)
    return e.located(checked.spec.source, checked.spec.filename)


def check_point(compiled, value: float, draws, point=None) -> None:
    """Raise ``PosteriorError`` if the posterior at ``value`` is not a density (see the
    module's docstring). ``draws``: what the engine returned; ``point``: its summary."""
    import jax

    checked = compiled.checked
    ld = np.asarray(draws.logdensity, dtype=float)
    params = np.asarray(draws.params, dtype=float)
    flat_ld = ld.reshape(-1)
    flat_x = params.reshape(-1, params.shape[-1]) if params.size else params
    bad = np.flatnonzero(np.isnan(flat_ld) | (flat_ld == np.inf))
    if bad.size:
        j = bad[0]
        what = "NaN" if np.isnan(flat_ld[j]) else "+inf"
        raise _fail(checked, value, what, flat_x[j] if len(flat_x) > j else None,
                    notes=("the energy or the likelihood is not a real number there "
                           "(a log or a square root of a negative number, a division by "
                           "zero, a negative power of zero ...)",))
    x, lp, ll = functions(compiled).probe(jax.random.PRNGKey(1729), compiled.context(value))
    x, lp, ll = np.asarray(x, float), np.asarray(lp, float), np.asarray(ll, float)
    inside = np.isfinite(lp)
    total = lp + ll
    bad = np.flatnonzero(inside & (np.isnan(total) | (total == np.inf)))
    if bad.size:
        j = bad[0]
        what = "NaN" if np.isnan(total[j]) else "+inf"
        raise _fail(checked, value, what, x[j],
                    notes=("found at a draw from the prior, where the prior is positive",))
    if not np.any(np.isfinite(flat_ld)) and not np.any(inside & np.isfinite(total)):
        raise _fail(checked, value, "-inf everywhere", None,
                    notes=("the posterior is zero wherever the prior is positive (an energy "
                           "that is +inf everywhere: a division by zero?)",))
    if draws.log_z is not None and not np.all(np.isfinite(np.asarray(draws.log_z, float))):
        raise _fail(checked, value, "not integrable", None,
                    notes=(f"its integral (log Z) is {np.asarray(draws.log_z).ravel()[0]}",))
    if point is not None:
        masses = [p.mass for p in point.phases.values()] + [point.other.mass]
        if not all(m is not None and np.isfinite(m) for m in masses):
            raise _fail(checked, value, "not a usable density", None,
                        notes=("its phase masses are not numbers",))
