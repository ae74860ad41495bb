"""Load a spec: read the file, apply ``--set`` overrides and ``--quick``, check it.

JAX-free, so ``phasedsl check`` stays fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis.thinning import thin_indices
from ..language import ast
from ..language.check import CheckedSpec, check
from ..language.errors import PhaseDSLError, UsageError
from ..language.limits import MAX_FILE_BYTES
from ..language.settings import engine_of, quick_overrides, resolution_width
from ..language.syntax import parse

__all__ = ["Spec", "load", "load_text", "quick_sweep", "spec_of_results", "QUICK_POINTS"]

QUICK_POINTS = 8  # --quick samples at most this many sweep values, ends included


@dataclass(frozen=True)
class Spec:
    """A checked spec and how it was made: ``path`` (``None`` for text), the ``overrides``
    (``--set`` values, ``engine`` included), whether ``quick``, and the checker's warnings
    rendered as text."""

    checked: CheckedSpec
    path: str | None
    overrides: dict = field(default_factory=dict)
    quick: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The file's stem (``pt1_degeneracy``), ``-quick`` appended for a quick setting;
        ``spec`` for a stem of dots only (``...phase``), which as a folder name under
        ``runs/`` would name ``runs/..``, outside it."""
        stem = Path(self.path).stem if self.path else "spec"
        if not stem.strip(". "):
            stem = "spec"
        return stem + ("-quick" if self.quick else "")


def _read(path: str) -> str:
    """The text of a spec file: UTF-8 (a byte-order mark is allowed), at most
    ``MAX_FILE_BYTES``; a byte that is not UTF-8 is a usage error at its line and column."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no such spec file: {path}")
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            raise UsageError(f"{path} is too large for a spec ({p.stat().st_size:,} bytes; "
                             f"at most {MAX_FILE_BYTES:,})")
        data = p.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start:exc.start].decode("utf-8", "replace")) + 1
        raise UsageError(f"{path}:{line}:{column}: not UTF-8 text (byte "
                         f"0x{data[exc.start]:02x}); save the spec as UTF-8") from None
    return text.removeprefix("\ufeff")


def quick_sweep(values, limit: int = QUICK_POINTS) -> tuple[float, ...]:
    """At most ``limit`` sweep values, evenly spread over the list, both ends kept."""
    if len(values) <= limit:
        return tuple(values)
    return tuple(values[i] for i in thin_indices(len(values), limit))


def _engine_of(spec: ast.Spec, overrides: dict) -> str:
    """The engine a spec asks for (``--set engine=...`` first), read off the syntax tree."""
    if "engine" in overrides:
        return overrides["engine"]
    return engine_of(spec.statements)


QUICK_CAPS = ("particles", "draws", "warmup")  # --quick lowers these to its value, never raises
QUICK_REPORT_CAPS = ("refine_points",)  # likewise in the report block


def _quick_report(spec: ast.Spec, overrides: dict) -> dict[str, str]:
    """The report's ``--quick`` settings, less the caps (``QUICK_REPORT_CAPS``) that the spec
    (or ``--set``) already makes smaller, and less ``resolution`` where the spec's own is
    coarser or 0 (no added values): ``--quick`` never adds sweep values a spec does not."""
    checked = check(spec, overrides)
    own, fast = checked.report, quick_overrides("report")

    def kept(k: str, v: str) -> bool:
        if k == "resolution" and "resolution" in own:
            width = resolution_width(own, checked.sweep_values)
            quick = resolution_width({"resolution": float(v)}, checked.sweep_values)
            return not (width == 0.0 or width >= quick)
        return not (k in QUICK_REPORT_CAPS and isinstance(own.get(k), (int, float))
                    and own[k] < float(v))

    return {f"report.{k}": v for k, v in fast.items() if kept(k, v)}


def _quick_sizes(spec: ast.Spec, overrides: dict) -> dict[str, str]:
    """The engine's ``--quick`` settings (``quick_overrides``), less the sizes (``QUICK_CAPS``)
    that the spec (or ``--set``) already makes smaller: ``--quick`` never enlarges a run."""
    fast = quick_overrides(_engine_of(spec, overrides))
    own = check(spec, overrides).sample
    return {k: v for k, v in fast.items()
            if not (k in QUICK_CAPS and isinstance(own.get(k), (int, float))
                    and own[k] < float(v))}


def load_text(source: str, filename: str = "<spec>", overrides: dict | None = None,
              quick: bool = False, path: str | None = None) -> Spec:
    """Parse and check spec text. ``quick``: the engine's quick settings (under the user's
    own overrides) and at most ``QUICK_POINTS`` sweep values."""
    overrides = dict(overrides or {})
    spec = parse(source, filename)
    given = overrides
    if quick:
        given = {**_quick_sizes(spec, overrides), **_quick_report(spec, overrides),
                 **overrides}
    checked = check(spec, given)
    if quick:
        checked = dataclasses.replace(checked, sweep_values=quick_sweep(checked.sweep_values))
        if checked.grid is not None:  # a two-dimensional sweep: its rows thinned alike
            checked = dataclasses.replace(checked, grid=dataclasses.replace(
                checked.grid, values=quick_sweep(checked.grid.values)))
    warnings = tuple(w.render(spec.source, spec.filename) for w in checked.warnings)
    return Spec(checked, path, overrides, quick, warnings)


def load(path: str, overrides: dict | None = None, quick: bool = False) -> Spec:
    """Read, parse and check the spec file at ``path`` (``overrides``: ``--set`` values as
    text, ``{"eps": "0.25", "engine": "smc"}``)."""
    return load_text(_read(str(path)), str(path), overrides, quick, path=str(path))


def spec_of_results(results: dict) -> tuple[Spec | None, str | None]:
    """The spec a run was made from, checked again with its ``--set`` values: from the text
    the run recorded, else (older runs) from its spec file, if unchanged. ``(spec, None)``,
    or ``(None, why not)``."""
    import hashlib

    name = results.get("spec_file") or "<spec>"
    if results.get("spec_text") is not None:
        source = results["spec_text"]
    else:
        if not results.get("spec_file"):
            return None, None
        path = Path(results["spec_file"])
        if not path.is_file():
            return None, (f"spec file {path} not found from {Path.cwd()}; its posterior/energy "
                          "figure is skipped")
        source = path.read_text(encoding="utf-8")
        if results.get("spec_sha256") not in (None, hashlib.sha256(source.encode()).hexdigest()):
            return None, (f"{path} has changed since the run; its posterior/energy figure is "
                          "skipped")
    try:
        spec = load_text(source, name, results.get("set") or {}, bool(results.get("quick")))
    except PhaseDSLError as exc:
        return None, f"the run's spec no longer checks ({exc}); its posterior/energy figure is skipped"
    return spec, None
