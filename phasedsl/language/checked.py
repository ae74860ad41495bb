"""The checked spec: what the checker hands to later stages (records only, no checking)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from . import ast
from .datafile import DataTable
from .errors import Diagnostic
from .layout import NetworkLayout, Slot
from .values import Pred

__all__ = ["CheckedSpec", "Network", "NetworkLayout", "Slot"]


@dataclass(frozen=True)
class Network:
    """A network model, its truth and its data. Truth values are sympy in the sweep symbol.

    With a data file (``data``: its rows), there is no truth: ``truth_width`` is 0, the
    truth's tuples are empty and ``x_dist`` is ``None``. ``seeds``: data sets drawn from the
    truth (seeds ``seed``, ``seed + 1``, ..., each sampled at every sweep point)."""

    width: int
    inputs: int
    activation: str
    truth_width: int
    truth_activation: str
    truth_w: tuple[tuple[sp.Expr, ...], ...]  # [m][k]
    truth_b: tuple[sp.Expr, ...]  # [m]
    truth_q: tuple[sp.Expr, ...]  # [m]
    truth_c: sp.Expr
    n: sp.Expr
    x_dist: tuple | None  # ("uniform", a, b) or ("normal", mean, sd); None with a file
    noise: sp.Expr
    seed: int
    truth_lets: dict  # name -> tuple of per-node values of the truth
    # not in the repr (which is the model's part of ``rundir.posterior_identity``, so that
    # runs made before these existed keep their keys); ``rundir`` adds them where set
    data: DataTable | None = field(default=None, repr=False)  # rows of `data { file = ... }`
    seeds: int = field(default=1, repr=False)  # `data { seeds = K }`

    @property
    def data_seeds(self) -> tuple[int, ...]:
        """The data seed of each data set: ``seed + k``, ``k = 0 .. seeds - 1``."""
        return tuple(self.seed + k for k in range(self.seeds))


@dataclass(frozen=True)
class CheckedSpec:
    """Everything later stages need, resolved and checked."""

    spec: ast.Spec
    experiment: str
    kind: str  # "network" | "energy"
    sweep_name: str | None
    sweep_symbol: sp.Symbol
    sweep_values: tuple[float, ...]
    beta: sp.Expr
    n: sp.Expr
    prior: tuple  # ("normal", mean, sd) | ("uniform",)
    slots: tuple[Slot, ...]
    symbols: tuple[sp.Symbol, ...]  # one per flat parameter
    network: Network | None
    energy: sp.Expr | None
    phases: tuple[tuple[str, Pred], ...]
    node_lets: dict  # name -> tuple of per-node values (model parameters)
    lets: dict  # name -> value
    engine: str
    sample: dict
    report: dict
    warnings: tuple[Diagnostic, ...]
    layout: NetworkLayout | None = None  # the flat layout of a network's parameters

    @property
    def dim(self) -> int:
        return len(self.symbols)

    @property
    def phase_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.phases)
