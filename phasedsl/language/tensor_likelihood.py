"""A tensor spec's likelihood: ``model y = EXPR`` (Gaussian regression) or
``model y ~ bernoulli(logits = EXPR)`` / ``model y ~ categorical(logits = EXPR)``
(classification), and the truth written the same way.

``likelihood_of(st)`` reads one statement's family and the expression lowering evaluates (the
forward expression or the logits); ``check_likelihood`` makes sure the model and the truth
share a family and that the logits have the family's shape: a number (bernoulli: the
log-odds of ``y = 1``) or a vector of ``K >= 2`` entries (categorical: one per class; labels
``1..K``, class ``j`` is ``logits[j]``, as the language's indices). Every mistake is a located
``SpecError``.
"""

from __future__ import annotations

from typing import NamedTuple

from . import ast
from . import catalogue as err
from .errors import did_you_mean
from .tensor_shapes import shape_text

__all__ = ["FAMILIES", "Likelihood", "likelihood_of", "check_likelihood", "labels_text",
           "label_values"]

FAMILIES = ("bernoulli", "categorical")
SHAPES = {"bernoulli": "a number (the log-odds of y = 1)",
          "categorical": "a vector of K >= 2 logits (one per class)"}


class Likelihood(NamedTuple):
    """One statement's likelihood: ``family`` (``gaussian``, ``bernoulli``, ``categorical``)
    and ``expr``, the forward expression (Gaussian) or the logits."""

    family: str
    expr: ast.Expr


def _written(family: str, name: str) -> str:
    return f"`{name} = ...` (Gaussian regression)" if family == "gaussian" else \
        f"`{name} ~ {family}(logits = ...)`"


def likelihood_of(st: ast.TensorModel) -> Likelihood:
    """The family and expression of ``model y = ...`` / ``model y ~ FAMILY(logits = ...)``."""
    if st.op == "=":
        return Likelihood("gaussian", st.expr)
    e = st.expr
    hint = f"`{st.role} {st.output.id} ~ bernoulli(logits = EXPR)` or `~ categorical(logits = EXPR)`"
    if not isinstance(e, ast.Call):
        raise err.invalid("a likelihood after `~` is `bernoulli(...)` or `categorical(...)`",
                          e.span, expected=hint, found="an expression",
                          notes=(f"Gaussian regression is written `{st.role} "
                                 f"{st.output.id} = EXPR` (its noise in `data`)",))
    name = e.func.id
    if name not in FAMILIES:
        notes = ((f"Gaussian regression is written `{st.role} {st.output.id} = EXPR` (its "
                  "noise in `data`)",) if name == "normal" else ())
        raise err.unknown("likelihood", name, e.func.span,
                          expected="`bernoulli` or `categorical`" + did_you_mean(name, FAMILIES),
                          notes=notes)
    if e.args:
        raise err.wrong_arity(f"`{name}` takes its logits by name", e.args[0].span,
                              expected=f"`{name}(logits = EXPR)`", found="a positional argument")
    keys = [k for k, _ in e.kwargs]
    for key, value in e.kwargs:
        if key != "logits":
            raise err.unknown("argument", key, value.span, where=f"of `{name}`",
                              expected="`logits`" + did_you_mean(key, ["logits"]),
                              notes=("probabilities are written as logits: `logits = "
                                     "log(p / (1 - p))` for bernoulli",))
    if keys.count("logits") != 1:
        raise err.wrong_arity(f"`{name}` takes one argument, `logits`", e.span,
                              expected=f"`{name}(logits = EXPR)`",
                              found=err.arguments(len(keys)))
    return Likelihood(name, dict(e.kwargs)["logits"])


def check_likelihood(model: ast.TensorModel, truth: ast.TensorModel,
                     dims: tuple | None) -> None:
    """The truth's family is the model's; ``dims`` (the model's output or logits; ``None``:
    not yet known) fit the family."""
    mine, theirs = likelihood_of(model), likelihood_of(truth)
    if mine.family != theirs.family:
        raise err.invalid("the truth's likelihood is not the model's", truth.span,
                          expected=f"{_written(mine.family, 'truth ' + truth.output.id)}, "
                                   f"as the model on line {model.span.line}",
                          found=_written(theirs.family, "truth " + truth.output.id),
                          notes=("labels are drawn from a classification truth, real outputs "
                                 "from a Gaussian one",))
    if dims is None:
        return
    if mine.family == "bernoulli" and dims != ():
        raise err.wrong_kind("bernoulli's logit is a number", mine.expr.span,
                             expected=SHAPES["bernoulli"], found=shape_text(dims))
    if mine.family == "categorical" and not (len(dims) == 1 and dims[0] >= 2):
        raise err.wrong_kind("categorical's logits are a vector", mine.expr.span,
                             expected=SHAPES["categorical"], found=shape_text(dims))


def label_values(family: str, dims: tuple) -> tuple[float, ...]:
    """The labels a classification's data may hold: ``0, 1`` (bernoulli) or ``1..K``."""
    if family == "bernoulli":
        return (0.0, 1.0)
    return tuple(float(j) for j in range(1, dims[0] + 1))


def labels_text(family: str, dims: tuple) -> str:
    """The labels in words (``expected`` of a label that is not a class)."""
    if family == "bernoulli":
        return "0 or 1 (`bernoulli(logits = ...)`)"
    return f"a whole number from 1 to {dims[0]} (`categorical` with {dims[0]} logits)"
