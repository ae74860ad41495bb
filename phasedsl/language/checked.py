"""The checked spec: what the checker hands to later stages (records only, no checking)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from . import ast
from .errors import Diagnostic
from .layout import NetworkLayout, Slot
from .values import Pred

__all__ = ["CheckedSpec", "Network", "NetworkLayout", "Slot"]


@dataclass(frozen=True)
class Network:
    """A network model, its truth and its data. Truth values are sympy in the sweep symbol."""

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
    x_dist: tuple  # ("uniform", a, b) or ("normal", mean, sd)
    noise: sp.Expr
    seed: int
    truth_lets: dict  # name -> tuple of per-node values of the truth


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
