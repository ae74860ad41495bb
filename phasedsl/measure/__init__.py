"""Measurement: a compiled spec (``lower.Compiled``) and a point's ``Draws`` -> records, with
compiled JAX functions that the analysis stage (plain numpy) does not run.

Takes each sweep point's draws; gives each phase's learning coefficient (``lcoef``: the
tempered energies of the draws, Adam from the lowest ones to the minimiser ``w*``, the exact
engines' ``log Z`` derivatives), each phase's local minima (``minima``: gradient flows of
the loss, bisected on the sweep value without sampling), the health check of a posterior
(``health``: a NaN or ``+inf`` log density is an error, never a mass), and the phases of
saved draws (``functions.indicators``, for re-analysis), and the posterior density of a
one-parameter spec on a grid (``density``, for the energy figure). The batched, jitted functions are
built once per compiled spec (``functions``; the steps keep theirs), so no sweep point
traces them again. The pipeline composes these steps (``pipeline.session``).
"""

from .density import density_curves
from .functions import Functions, functions
from .health import check_point
from .lcoef import LcoefStep, lcoef_step, with_lcoef
from .minima import MinimumStep, minimum_step, with_point_minima

__all__ = ["Functions", "functions", "density_curves", "check_point", "LcoefStep", "lcoef_step", "with_lcoef",
           "MinimumStep", "minimum_step", "with_point_minima"]
