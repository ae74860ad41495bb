"""phasedsl: a declarative language for phase transitions in Bayesian posteriors.

The Python API (the command line is a thin layer over it)::

    import phasedsl
    spec = phasedsl.load("specs/pt1_degeneracy.phase", {"eps": "0.25"}, quick=True)
    run = phasedsl.run(spec, "runs/pt1")        # samples, saves, writes figures
    run = phasedsl.open_run("runs/pt1")         # a run folder, finished or not
    run.masses(), run.events, run.text(), run.figures()
    found = phasedsl.discover(spec, at=[1.0])  # the posterior's basins, found from its draws

The names are imported on first use, so ``import phasedsl`` stays light (no JAX, no sympy).
"""

from .version import __version__

__all__ = ["Discovery", "Run", "Spec", "discover", "load", "load_text", "open_run", "run", "__version__"]


def __getattr__(name: str):
    if name in __all__:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'phasedsl' has no attribute {name!r}")
