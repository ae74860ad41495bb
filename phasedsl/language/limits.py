"""What a spec may ask for: every size limit of the language, in one place.

A spec that ``check`` accepts must run on an ordinary machine, so nesting, exponents, widths,
input dimensions, counts and file sizes are bounded here and checked with located errors
(the settings' own bounds are ``upper`` in ``settings.TABLE``).
"""

from __future__ import annotations

MAX_NESTING = 100  # levels of an expression, counting the lets it uses (Python's recursion)
MAX_TREE = 20_000  # nodes of a value written out (lets used twice count twice)
MAX_FILE_BYTES = 1_000_000  # a spec file
MAX_MAGNITUDE_DIGITS = 300  # a constant may not exceed 10^300 (a float64 holds < 1.8e308)
MAX_EXPONENT = 1_000_000  # a constant exponent of an expression of the parameters
MAX_WIDTH = 64  # nodes of a network (model or truth)
MAX_SYMMETRIC_WIDTH = 8  # `symmetric` takes all d! node permutations: 8! = 40320
MAX_INPUTS = 1_000  # input dimension k of `x ~ ...^k`
MAX_N = 10_000_000  # the sample size of a network's data
MAX_DATA = 100_000_000  # n times the input dimension (numbers of the dataset)
MAX_DATA_FILE_BYTES = 2_000_000_000  # a data file (`data { file = ... }`)
MAX_DATA_SETS = 256  # `data { seeds = K }`: data sets sampled at every sweep point
MAX_PARAMETERS = 100_000  # numbers in all params of an energy spec
MAX_VECTOR = 10_000  # entries of a param vector
MAX_NUMBERS_PER_POINT = 500_000_000  # numbers an engine keeps for one sweep point
MAX_SEED = 2**32 - 1  # seeds are 32-bit (jax.random.PRNGKey)
MAX_CPU_DEVICES = 256  # --cpu-devices


class Depth:
    """The evaluator's nesting counter (one per process: the checker is not re-entrant)."""

    now = 0
    peak = 0
