"""phasedsl: a declarative language for phase transitions in Bayesian posteriors."""

__version__ = "0.1.0"
