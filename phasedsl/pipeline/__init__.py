"""The pipeline: load a spec (``spec``), run a sweep into a run folder (``sweep``; its points
as tasks on a Dask cluster: ``cluster``), prepare what the figures need (``figures``), and the
run as a Python object (``run``); the posterior's phases found from its draws (``discover``).

It composes the stages ``language`` -> ``lower`` -> ``engines`` -> ``analysis`` -> ``rundir`` /
``output``; the command line (``phasedsl.cli``) and notebooks call it. Importing it does not
import JAX.
"""

from .discovery import Discovery, discover
from .runs import Run, open_run, run, spec_of_results, write_figures
from .spec import Spec, load, load_text, quick_sweep
from .sweep import (ACCELERATOR_BATCH, Execution, default_batch, point_key, refine_crossovers,
                    run_spec, sample_point, sample_points, summarise)

__all__ = ["Discovery", "discover", "Run", "Spec", "load", "load_text", "open_run", "run", "run_spec", "Execution", "quick_sweep",
           "spec_of_results", "write_figures", "ACCELERATOR_BATCH", "default_batch",
           "point_key", "refine_crossovers", "sample_point", "sample_points", "summarise"]
