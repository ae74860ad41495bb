"""The checked spec: what the checker hands to later stages (records only, no checking)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from . import ast
from .datafile import DataTable
from .errors import Diagnostic
from .grid import Cell
from .layout import NetworkLayout, Slot
from .setting_records import report_settings, settings_record
from .values import Pred

__all__ = ["CheckedSpec", "Network", "NetworkLayout", "Slot", "Axis", "Cell"]


@dataclass(frozen=True)
class Axis:
    """The second ``sweep`` of a two-dimensional sweep: its variable and its values (the
    rows of the grid; the first ``sweep`` runs along each row)."""

    name: str
    symbol: sp.Symbol
    values: tuple[float, ...]


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
    kind: str  # "network" | "energy" | "tensor"
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
    grid: Axis | None = None  # the second sweep of a two-dimensional sweep (None: 1-D)
    tensor: object = None  # kind "tensor": its ``tensor_check.TensorModel``

    @property
    def sample_settings(self):
        """``sample`` as a frozen record of the engine's settings, every key present
        (``setting_records``)."""
        return settings_record(self.engine, self.sample)

    @property
    def report_settings(self):
        """``report`` as a frozen record, every key present (``setting_records``)."""
        return report_settings(self.report)

    @property
    def dim(self) -> int:
        return len(self.symbols)

    @property
    def data_source(self):
        """What says where the data come from (``data``: a file's rows or ``None``;
        ``seed``, ``seeds``, ``data_seeds``): the network's or the tensor model's record;
        ``None`` for an energy."""
        return self.network if self.network is not None else self.tensor

    @property
    def phase_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.phases)

    def sweep_points(self) -> tuple:
        """What each point of the run folder is sampled at, in the order of their indices:
        the sweep values (floats), or for a grid its cells (``Cell``), row by row (the second
        variable outer, the first inner)."""
        if self.grid is None:
            return tuple(self.sweep_values)
        return tuple(Cell(x, y) for y in self.grid.values for x in self.sweep_values)

    def substitution(self, value) -> dict:
        """``{sweep symbol: number}`` of one sweep value or grid cell (sympy ``subs``)."""
        if isinstance(value, tuple):
            return {self.sweep_symbol: float(value[0]), self.grid.symbol: float(value[1])}
        return {self.sweep_symbol: float(value)}

    def value_text(self, value) -> str:
        """``theta = 0.5``, or ``theta = 0.5, n = 10`` for a grid cell."""
        if isinstance(value, tuple):
            return f"{self.sweep_name} = {value[0]:g}, {self.grid.name} = {value[1]:g}"
        return f"{self.sweep_name} = {value:g}"
