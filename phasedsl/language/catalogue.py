"""The checker's errors, by name (in the manner of stanc3's ``Semantic_error``).

Each constructor returns the unattached ``SpecError`` the checker raises for one kind of
mistake; the message texts live here and nowhere else in the checker. Texts are pinned by
``tests/bad_specs/*.expected`` and ``tests/test_check.py``.
"""

from __future__ import annotations

import math

from .ast import Span
from .errors import SpecError, did_you_mean, error


def arguments(count: int) -> str:
    """``1 argument``, ``2 arguments``."""
    return f"{count} argument{'s' if count != 1 else ''}"


# ---------------------------------------------------------------- names and keys


def unknown_name(name: str, span: Span, candidates) -> SpecError:
    return error(f"unknown name `{name}`", span,
                 expected=f"a name defined in this spec{did_you_mean(name, candidates)}",
                 found=f"`{name}`")


def phase_in_phase(name: str, span: Span, phase: str) -> SpecError:
    """A phase's condition that names another phase (phases are not values)."""
    return error(f"a phase cannot refer to another phase: `{name}`", span,
                 expected="a condition on the parameters, lets and the sweep variable",
                 found=f"the phase `{name}` in `phase {phase}`",
                 notes=(f"to share a condition, give it a `let` and use that in both phases: "
                        f"`let {name}_region = ...`, `phase {name} = {name}_region`, "
                        f"`phase {phase} = {name}_region or ...`",))


def symmetric_outside_phase(span: Span, where: str) -> SpecError:
    """``symmetric(...)`` outside a phase (it is a phase's node permutation, not a value)."""
    note = ("keep the condition in the `let` without `symmetric` and apply it in the phase: "
            "`let s = CONDITION`, `phase NAME = symmetric(s)`" if "let" in where else
            "`symmetric(CONDITION)` is a region of the parameters: name it with "
            "`phase NAME = symmetric(CONDITION)`")
    return error("`symmetric` can only be used in a phase", span,
                 expected="`phase NAME = symmetric(...)`", found=f"`symmetric` in {where}",
                 notes=(note,))


def no_hidden_units(span: Span, model: str, single: int) -> SpecError:
    """``symmetric(...)`` in a tensor spec whose model has no hidden layer of two or more
    units (``hidden_units``)."""
    found = (f"only hidden layers of one unit in `{model}` (nothing to permute)" if single
             else f"no hidden unit in `{model}`: each axis of its parameters is tied to the "
                  "input `x`, the output, a constant or a subscript")
    return error("`symmetric` permutes the model's hidden units, and this model has none", span,
                 expected="a model with a hidden layer, such as `W2 @ tanh(W1 @ x + b1)` (its "
                          "units: the rows of W1, the entries of b1, the columns of W2)",
                 found=found,
                 notes=("a hidden unit is found from the model: an axis of the parameters that "
                        "the model sums over (`@`, `dot`) or maps elementwise, never tied to "
                        "`x`, the output, a vector literal, `eye` or a subscript such as "
                        "`W[1, :]`; without one, write the phase without `symmetric`",))


def symmetric_group_too_large(span: Span, sizes: tuple[int, ...], layers: tuple[str, ...],
                              limit: int, widest: int) -> SpecError:
    """``symmetric(...)`` in a tensor spec whose hidden layers (of ``sizes`` units, described
    by ``layers``) have more permutations than ``limit`` (``widest!``)."""
    count = math.prod(math.factorial(s) for s in sizes)
    shown = f"{count:,}" if count < 10 ** 15 else "more than 10^15"
    product = " x ".join(f"{s}!" for s in sizes)
    return error("`symmetric` would take too many permutations", span,
                 expected=f"at most {limit:,} ({widest}!): every ordering of each hidden "
                          "layer's units",
                 found=f"{product} = {shown}",
                 notes=("the model's hidden layers: " + "; ".join(layers),
                        "use fewer hidden units, or a phase without `symmetric` (a condition "
                        "that names no particular unit, such as `count i: ...`)"))


def unknown(what: str, name: str, span: Span, expected: str, where: str = "",
            found: str | None = None, notes: tuple[str, ...] = ()) -> SpecError:
    """``unknown WHAT `NAME` [WHERE]``: a sampler, prior, key, argument, function ..."""
    return error(f"unknown {what} `{name}`" + (f" {where}" if where else ""), span,
                 expected=expected, found=found or f"`{name}`", notes=notes)


def given_twice(what: str, first: Span, second: Span) -> SpecError:
    """A statement that may appear once, twice."""
    return error(f"{what} is given twice", second, expected=f"one {what}",
                 found=f"a second {what}", notes=(f"the first is at line {first.line}",))


def defined_twice(what: str, name: str, span: Span, first_line: int) -> SpecError:
    return error(f"{what} `{name}` is defined twice", span,
                 expected=f"one definition of `{name}`", found="a second one",
                 notes=(f"the first is at line {first_line}",))


def key_twice(subject: str, span: Span, first_line: int | None = None, where: str = "",
              verb: str = "given") -> SpecError:
    """``SUBJECT is VERB twice [WHERE]``: a key of a block or a value of the truth (with
    ``first [VERB] at line N`` when known)."""
    first = "first at" if verb == "given" else f"first {verb} at"
    notes = (f"{first} line {first_line}",) if first_line is not None else ()
    return error(f"{subject} is {verb} twice" + (f" {where}" if where else ""), span,
                 expected="once", found="twice", notes=notes)


def name_taken(name: str, meaning: str, span: Span, what: str, line: int) -> SpecError:
    notes = (f"`{name}` is defined at line {line}",) if line else ()
    return error(f"`{name}` is already {meaning}", span,
                 expected=f"another name for this `{what}`", found=f"`{name}`", notes=notes)


def missing(message: str, span: Span | None, expected: str, found: str,
            notes: tuple[str, ...] = ()) -> SpecError:
    """Something a spec needs and does not have (a model, `n`, a width, an input ...)."""
    return error(message, span, expected=expected, found=found, notes=notes)


def misplaced(message: str, span: Span, expected: str, found: str,
              notes: tuple[str, ...] = ()) -> SpecError:
    """Something valid elsewhere, used where it is not allowed."""
    return error(message, span, expected=expected, found=found, notes=notes)


# ---------------------------------------------------------------- kinds of values


def wrong_kind(message: str, span: Span, expected: str, found: str) -> SpecError:
    """A value of one kind (a number, a vector, a condition ...) where another is needed."""
    return error(message, span, expected=expected, found=found)


def not_constant(what: str, span: Span, found: str, expected: str = "a constant") -> SpecError:
    return error(f"{what} must be a constant", span, expected=expected, found=found)


def depends_on_parameters(what: str, span: Span, found: str, whose: str = "the parameters",
                          expected: str = "constants and the sweep variable") -> SpecError:
    return error(f"{what} cannot depend on {whose}", span, expected=expected, found=found)


def wrong_arity(message: str, span: Span, expected: str, found: str) -> SpecError:
    """A call with the wrong number (or kind) of arguments."""
    return error(message, span, expected=expected, found=found)


def index_out_of_range(what: str, index, span: Span, expected: str, of: str = "") -> SpecError:
    """``WHAT INDEX is out of range[ for OF]``: a node index, or an index of a vector."""
    return error(f"{what} {index} is out of range" + (f" for {of}" if of else ""), span,
                 expected=expected, found=str(index))


def _short(words: str) -> str:
    """``a number (the sample size)`` -> ``a number``."""
    return words.split(" (")[0]


def value_where_needed(found: str, what: str, span: Span) -> SpecError:
    """``a vector where a number is needed``: ``found`` and ``what`` are values in words."""
    return error(f"{_short(found)} where {_short(what)} is needed", span, expected=what,
                 found=found)


def unavailable(message: str, span: Span, expected: str, found: str) -> SpecError:
    """A name that exists but may not be used here (``values.Unavailable`` says why)."""
    return error(message, span, expected=expected, found=found)


# ---------------------------------------------------------------- numbers


def not_a_real_number(what: str, span: Span, found: str, expected: str = "a real number",
                      where: str = "") -> SpecError:
    return error(f"{what} is not a real number{where}", span, expected=expected, found=found)


def not_finite(span: Span, found: str) -> SpecError:
    return error("this is not a finite number", span, expected="a finite value", found=found)


def must_be_positive(what: str, span: Span, found: str, expected: str | None = None,
                     where: str = "") -> SpecError:
    """``WHAT must be positive``; ``what`` is written as the message shows it."""
    return error(f"{what} must be positive{where}", span,
                 expected=expected or f"{what.strip('`')} > 0", found=found)


def not_whole(what: str, span: Span, expected: str, found: str, rest: str = "") -> SpecError:
    """``WHAT must be a whole number[REST]`` (a count, a width, a seed, an index ...)."""
    return error(f"{what} must be a whole number{rest}", span, expected=expected, found=found)


def out_of_bounds(message: str, span: Span, expected: str, found: str) -> SpecError:
    """A number outside what a setting, a box or a distribution allows."""
    return error(message, span, expected=expected, found=found)


# ---------------------------------------------------------------- sweeps


def sweep_not_increasing(before: float, after: float, span: Span) -> SpecError:
    return error("sweep values must increase", span,
                 expected=f"a value above {before:g} (sweep values increase, each once)",
                 found=f"{before:g} followed by {after:g}")


def sweep_too_long(limit: int, count: float, span: Span, what: str = "values") -> SpecError:
    found = (f"{count:.0f}" if count < 1e15 else f"about {count:.3g}" if count < float("inf")
             else "more than 10^308")
    return error("the sweep is too long", span, expected=f"at most {limit} {what}",
                 found=found)


# ---------------------------------------------------------------- limits


def too_deep(span: Span | None, limit: int, counting: str = "") -> SpecError:
    """An expression nested deeper than the language allows (Python would overflow)."""
    return error("this expression nests too deeply", span,
                 expected=f"at most {limit} levels of nesting{counting}",
                 found=f"more than {limit}",
                 notes=("split it into `let`s of a few levels each, or write a long sum "
                        "as sums of a few terms",))


def too_large(what: str, span: Span | None, limit: str, found: str,
              notes: tuple[str, ...] = ()) -> SpecError:
    """A size beyond what ``run`` can do (``limits.py``)."""
    return error(f"{what} is too large", span, expected=f"at most {limit}", found=found,
                 notes=notes)


# ---------------------------------------------------------------- other mistakes


def invalid(message: str, span: Span | None, expected: str | None = None,
            found: str | None = None, notes: tuple[str, ...] = ()) -> SpecError:
    """A mistake of its own kind (a cycle of lets, both model kinds, an empty vector ...)."""
    return error(message, span, expected=expected, found=found, notes=notes)


def vector_lengths_differ(a: int, b: int, span: Span) -> SpecError:
    return error("vector lengths differ", span, expected="two vectors of one length",
                 found=f"a {a}-vector and a {b}-vector")


def needs_a_network(message: str, span: Span, expected: str = "a network model") -> SpecError:
    """Something about a network's nodes, in an energy spec."""
    return error(message, span, expected=expected, found="an energy model")


# ---------------------------------------------------------------- posteriors (run time)


def bad_density(what: str, sweep: str, span: Span | None, where: str,
                notes: tuple[str, ...] = ()):
    """The posterior at one sweep value is not a density: ``what`` (``NaN``, ``+inf``,
    ``zero everywhere``) at the point ``where`` (``w = -1.2``)."""
    from .errors import Diagnostic, PosteriorError

    return PosteriorError(Diagnostic(
        f"the log density is {what} at {sweep}", span,
        expected="a finite log density wherever the prior is positive",
        found=where, notes=tuple(notes)))
