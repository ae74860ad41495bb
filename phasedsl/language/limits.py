"""What a spec may ask for: every size limit of the language, in one place.

A spec that ``check`` accepts must run on an ordinary machine, so nesting, exponents, widths,
input dimensions, counts and file sizes are bounded here and checked with located errors
(the settings' own bounds are ``upper`` in ``settings.TABLE``).
"""

from __future__ import annotations

import math
import re

MAX_NESTING = 100  # levels of an expression, counting the lets it uses (Python's recursion)
MAX_TREE = 20_000  # nodes of a value written out (lets used twice count twice)
MAX_FILE_BYTES = 1_000_000  # a spec file
MAX_MAGNITUDE_DIGITS = 300  # a constant may not exceed 10^300 (a float64 holds < 1.8e308)
MAX_EXPONENT = 1_000_000  # a constant exponent of an expression of the parameters
MAX_WIDTH = 64  # nodes of a network (model or truth)
MAX_SYMMETRIC_WIDTH = 8  # `symmetric` takes all d! node permutations: 8! = 40320
# a tensor spec's `symmetric` takes every permutation of each hidden layer's units (the
# product of their factorials): at most as many as a network's of the greatest width
MAX_SYMMETRIC_GROUP = math.factorial(MAX_SYMMETRIC_WIDTH)
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


class Work:
    """Vector entries evaluated so far by the checker (one per process, reset by each
    ``check``): every vector an expression yields costs the checker symbolic work per entry
    (``norm(v)`` of a 10,000-vector in 200 phases: two million sympy products, minutes), so
    their sum is bounded by ``MAX_WORK`` where a file's size alone does not bound it."""

    done = 0


class Depth:
    """The evaluator's nesting counter (one per process: the checker is not re-entrant)."""

    now = 0
    peak = 0


MAX_WORK = 50_000  # vector entries the checker evaluates in all (``Work``)
MAX_TOKENS = 50_000  # words, numbers and signs of a spec file (comments not counted)
MAX_PHASES = 200  # `phase` statements
MAX_LETS = 5_000  # `let` statements


def check_vector_length(k: int, span, what: str = "a parameter vector") -> None:
    """A located error where a vector of ``k`` entries (a ``param v[k]``, a vector
    literal) is past ``MAX_VECTOR``; every checker that declares a vector calls this."""
    from . import catalogue as err

    if k > MAX_VECTOR:
        found = f"{k:,.0f}" if k < 1e15 else f"{k:.3g}"
        raise err.too_large(what, span, f"{MAX_VECTOR:,} entries", f"{found} entries")


def check_parameter_count(total: int, span) -> None:
    """A located error where the parameters declared so far, ``total`` numbers in all, are
    past ``MAX_PARAMETERS`` (``span``: the declaration that crosses it)."""
    from . import catalogue as err

    if total > MAX_PARAMETERS:
        raise err.too_large("the number of parameters", span, f"{MAX_PARAMETERS:,} numbers",
                            f"{total:,} numbers", notes=("counting every entry of every "
                                                         "`param` declared up to here",))


# a run of newlines is one token (the grammar's _NL), so a line holding only a comment
# costs the parser a token too
_TOKEN = re.compile(r'"[^"\n]*"?|#[^\n]*|(?:\r?\n)+|[^\W\d]\w*|\d[\w.]*|\S')


def token_overflow(source: str) -> int | None:
    """The offset of the first token past ``MAX_TOKENS`` in ``source`` (a quick count
    before parsing: the parser takes tens of microseconds a token; comments are not
    counted, the line ends around them are), or ``None``."""
    count = 0
    for m in _TOKEN.finditer(source):
        if m.group().startswith("#"):
            continue
        count += 1
        if count > MAX_TOKENS:
            return m.start()
    return None


def check_statement_counts(statements, kinds: dict) -> None:
    """A located error at the first statement of a kind past its limit (``kinds``: the
    ast class -> (limit, what), e.g. ``ast.Phase: (MAX_PHASES, "phases")``)."""
    from . import catalogue as err

    seen: dict = {}
    for st in statements:
        entry = kinds.get(type(st))
        if entry is None:
            continue
        seen[type(st)] = seen.get(type(st), 0) + 1
        if seen[type(st)] > entry[0]:
            raise err.too_large(f"the number of {entry[1]}", st.span, f"{entry[0]:,}",
                                f"more than {entry[0]:,}")
