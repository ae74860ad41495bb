"""A spec's data from a file: ``data { file = "train.csv" }`` read and validated (numpy,
no JAX).

Formats, chosen by the file's extension:

- ``.csv`` (or ``.txt``): one row per data point, cells separated by commas, the k inputs then
  ``y``. A header row is optional: a first row none of whose cells is a number is a header,
  and then its names must be ``x1, ..., xk`` and ``y`` (each once, in any order; columns are
  taken by name). Blank lines and lines starting with ``#`` are skipped.
- ``.npy``: one 2-D numeric array ``[n, k + 1]``, the last column ``y``.
- ``.npz``: arrays ``x`` ``[n, k]`` (``[n]`` for one input) and ``y`` ``[n]``.

A tensor spec's file may hold several output columns (``read_data(..., several=True)``):
a header names them ``y1, ..., yo``; without one, ``inputs = k`` splits the columns (the
rest are outputs; without it the last column alone is ``y``); an ``.npz``'s ``y`` may be
``[n, o]``. Classification labels are one column, checked against the classes by
``check_labels`` once the model's class count is known.

Every mistake is a ``SpecError`` located in the data file (``FILE:LINE:COLUMN`` of the cell for
CSV, the row and column for NumPy files), never a traceback. ``DataTable`` holds the arrays and
the file's sha256, which enters the run key and the posterior's identity.
"""

from __future__ import annotations

import hashlib
import io
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .ast import Span
from .errors import Diagnostic, SpecError
from .limits import MAX_DATA, MAX_DATA_FILE_BYTES, MAX_INPUTS, MAX_N
from .npyfile import NpyError, npz_names, read_npy, read_npz

ARRAY_LIMIT = MAX_DATA + MAX_N  # numbers a NumPy data file may hold (x and y)

__all__ = ["DataTable", "FORMATS", "read_data", "data_format", "check_labels"]

FORMATS = {".csv": "csv", ".txt": "csv", ".npy": "npy", ".npz": "npz"}


@dataclass(frozen=True)
class DataTable:
    """The rows of a data file: inputs ``x f64[N, k]`` and outputs ``y f64[N]`` (one output
    column) or ``y f64[N, o]`` (several, tensor specs only).

    ``path`` is where it was read (as shown in messages); the identity of the data is
    ``sha256`` (of the file's bytes), so the repr (which enters ``posterior_identity``)
    names the contents, not the place. ``lines`` (CSV): the file's line of each row and
    ``y_column`` the file's column of the (first) output, for messages about a row."""

    path: str = field(repr=False, compare=False)
    sha256: str
    format: str
    x: np.ndarray = field(repr=False, compare=False)
    y: np.ndarray = field(repr=False, compare=False)
    lines: np.ndarray | None = field(default=None, repr=False, compare=False)
    y_column: int = field(default=-1, repr=False, compare=False)

    @property
    def rows(self) -> int:
        return int(self.y.shape[0])

    @property
    def inputs(self) -> int:
        return int(self.x.shape[1])

    @property
    def outputs(self) -> int:
        """The number of output columns."""
        return 1 if self.y.ndim == 1 else int(self.y.shape[1])


def data_format(path: str) -> str | None:
    """``csv``, ``npy`` or ``npz`` by the file's extension; ``None`` for any other."""
    return FORMATS.get(Path(path).suffix.lower())


def _error(shown: str, message: str, expected: str, found: str, span: Span | None = None,
           source: str | None = None, notes: tuple[str, ...] = ()) -> SpecError:
    """A mistake in the data file ``shown``, located in it (``span``: line and columns of a
    CSV cell, with ``source`` the file's text so the line is shown under the message)."""
    return SpecError(Diagnostic(message, span, expected, found, tuple(notes)), source or "",
                     shown)


def read_data(path: Path, shown: str, inputs: int | None = None,
              several: bool = False) -> DataTable:
    """Read and check the data file at ``path`` (``shown``: its name in messages).
    ``inputs``: the input dimension the spec asks for (``None``: the file's).
    ``several``: the file may hold several output columns (a tensor spec's vector output).

    Raises a ``SpecError`` located in the file for an unreadable or empty file, a cell that
    is not a number, ragged rows, NaN or infinite values, a wrong shape or a wrong number of
    inputs."""
    kind = data_format(str(path))
    try:
        size = path.stat().st_size
        if size > MAX_DATA_FILE_BYTES:
            raise _error(shown, "the data file is too large",
                         expected=f"at most {MAX_DATA_FILE_BYTES:,} bytes", found=f"{size:,} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise _error(shown, "cannot read the data file", expected="a readable file",
                     found=exc.strerror or type(exc).__name__) from None
    digest = hashlib.sha256(data).hexdigest()
    lines, y_column = None, -1
    split = inputs if several else None  # columns that are inputs (None: all but the last)
    if kind == "csv":
        x, y, lines, y_column = _csv(data, shown, inputs, several, split)
    elif kind == "npy":
        x, y = _npy(data, shown, split)
    else:
        x, y = _npz(data, shown, several)
    _check_size(x, shown, inputs)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    return DataTable(shown, digest, kind, x, y, lines, y_column)


def check_labels(table: DataTable, classes: tuple[float, ...], what: str, rows: int) -> None:
    """Refuse a label of the first ``rows`` rows that is not one of ``classes`` (``what``:
    the classes in words), located at its cell for CSV, by row for NumPy files."""
    y = np.asarray(table.y[:rows])
    bad = ~np.isin(y, np.asarray(classes, float)) if y.ndim == 1 else np.ones(1, bool)
    if not bad.any():
        return
    r = int(np.argmax(bad))
    value = f"{y[r]:g}"
    notes = ("labels are whole numbers, one column `y`",)
    if 0.0 not in classes and y[r] == 0:
        notes = ("classes are numbered from 1, as the language's indices (class j is "
                 "`logits[j]`); add 1 to labels numbered from 0",)
    if table.lines is None:
        raise _error(table.path, "a label is not a class", expected=what,
                     found=f"`{value}` in row {r + 1}", notes=notes)
    text = Path(table.path).read_bytes().decode("utf-8").removeprefix("\ufeff")
    no = int(table.lines[r])
    line = text.split("\n")[no - 1].rstrip("\r")
    cell, start, end = _cells(line)[table.y_column]
    raise _error(table.path, "a label is not a class", expected=what, found=f"`{cell}`",
                 span=Span(no, start, no, end), source=text, notes=notes)


def _check_size(x: np.ndarray, shown: str, inputs: int | None) -> None:
    n, k = x.shape
    if k == 0:
        raise _error(shown, "the data file has no inputs", expected="at least 1 input column",
                     found=f"`x` of shape [{n}, 0]")
    if inputs is not None and k != inputs:
        raise _error(shown, "the data file has the wrong number of inputs",
                     expected=f"{inputs} input{'s' if inputs != 1 else ''} (`inputs = {inputs}` "
                              "in `data`)",
                     found=f"{k} input{'s' if k != 1 else ''}")
    if k > MAX_INPUTS:
        raise _error(shown, "the data file has too many inputs", expected=f"at most {MAX_INPUTS}",
                     found=f"{k}")
    if n > MAX_N or n * k > MAX_DATA:
        raise _error(shown, "the data file has too many rows",
                     expected=f"at most {MAX_N:,} rows (and rows times inputs at most "
                              f"{MAX_DATA:,})", found=f"{n:,} rows of {k} inputs")


# ---------------------------------------------------------------- CSV


def _number(cell: str) -> float | None:
    """The number in a cell, or ``None`` where it is not one (``nan`` and ``inf`` are
    numbers here: they are refused as not finite, with their own message)."""
    text = cell.strip()
    if not text or "_" in text or not text.isascii():  # float() reads ٣ and ３; the
        return None                                     # language does not
    try:
        return float(text)
    except ValueError:
        return None


def _cells(line: str) -> list[tuple[str, int, int]]:
    """The comma-separated cells of a line: ``(text, first column, end column)``, 1-based,
    the columns of the text without its surrounding blanks."""
    out, start = [], 0
    for part in line.split(","):
        stripped = part.strip()
        lead = len(part) - len(part.lstrip())
        first = start + lead + 1
        out.append((stripped, first, first + max(len(stripped), 1)))
        start += len(part) + 1
    return out


def _csv(data: bytes, shown: str, inputs: int | None, several: bool = False,
         split: int | None = None):
    """``(x f64[N, k], y f64[N, o], lines int[N], y_column)`` of a CSV file's bytes."""
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _error(shown, "the data file is not UTF-8 text", expected="a CSV file of numbers",
                     found=f"byte 0x{data[exc.start]:02x} on line {line}") from None
    lines = text.split("\n")
    rows = [(i + 1, line.rstrip("\r")) for i, line in enumerate(lines)
            if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise _error(shown, "the data file is empty", expected="rows of numbers: the inputs, then y",
                     found="no rows")
    order = None  # column of x1..xk, then y (or y1..yo), when a header names them
    first_no, first = rows[0]
    cells = _cells(first)
    if all(_number(c) is None for c, _, _ in cells):
        order, split = _header(cells, first_no, first, text, shown, inputs, several)
        rows = rows[1:]
        if not rows:
            raise _error(shown, "the data file has a header and no rows",
                         expected="rows of numbers below the header", found="only the header",
                         span=Span(first_no, 1, first_no, len(first) + 1), source=text)
    width = len(order) if order is not None else len(cells)
    if width < 2:
        raise _error(shown, "a data row needs the inputs and then y",
                     expected="at least 2 columns (x1, ..., xk, y)", found="1 column",
                     span=Span(first_no, 1, first_no, len(first) + 1), source=text)
    if split is not None and split >= width:
        raise _error(shown, "the data file has no output column",
                     expected=f"{split} input column{'s' if split != 1 else ''} (`inputs = "
                              f"{split}`), then at least one output",
                     found=f"{width} columns",
                     span=Span(first_no, 1, first_no, len(first) + 1), source=text)
    table = np.empty((len(rows), width), np.float64)
    for r, (no, line) in enumerate(rows):
        cells = _cells(line)
        if len(cells) != width:
            raise _error(shown, "this row has a different number of columns",
                         expected=f"{width} columns, as in the first row", found=f"{len(cells)}",
                         span=Span(no, 1, no, len(line) + 1), source=text)
        for c, (cell, start, end) in enumerate(cells):
            value = _number(cell)
            if value is None:
                raise _error(shown, "this cell is not a number", expected="a number",
                             found=f"`{cell}`" if cell else "an empty cell",
                             span=Span(no, start, no, end), source=text,
                             notes=() if cell.isascii() else (
                                 "numbers are written with the digits 0-9, as in a spec",))
            if not math.isfinite(value):
                raise _error(shown, "this value is not finite", expected="a finite number",
                             found=f"`{cell}`", span=Span(no, start, no, end), source=text,
                             notes=("remove the row, or fill in the value",))
            table[r, c] = value
    k = width - 1 if split is None else split
    y_column = k if order is None else order[k]
    if order is not None:
        table = table[:, order]
    row_lines = np.array([no for no, _ in rows], np.int64)
    return table[:, :k], table[:, k:], row_lines, y_column


def _header(cells, no: int, line: str, text: str, shown: str, inputs: int | None,
            several: bool = False) -> tuple[list[int], int | None]:
    """The columns of ``x1..xk`` and then ``y`` named by a header row (``k``: columns - 1),
    and the number of inputs where it is not ``columns - 1``. With ``several``, the outputs
    may be ``y1, ..., yo`` (``k``: the columns named ``x...``)."""
    names = [c.lower() for c, _, _ in cells]
    k = len(cells) - 1
    outputs = ["y"]
    if several:
        k = sum(1 for name in names if name.startswith("x"))
        o = len(cells) - k
        outputs = ["y"] if o == 1 and "y" in names else [f"y{j}" for j in range(1, o + 1)]
    wanted = [f"x{j}" for j in range(1, k + 1)] + outputs
    last = " and y" if not several else " and y (or y1, ..., yo)"
    expected = "a header of " + (", ".join(wanted[:-len(outputs)]) + last if k >= 1
                                 else "x1, ..., xk" + last)
    for (cell, start, end), name in zip(cells, names):
        if name not in wanted or names.count(name) > 1:
            why = "is named twice" if names.count(name) > 1 and name in wanted else "is not known"
            raise _error(shown, f"the header's column `{cell}` {why}", expected=expected,
                         found=f"`{cell}`", span=Span(no, start, no, end), source=text,
                         notes=("a first row without numbers is a header naming the columns; "
                                "without a header the columns are the inputs, then y",))
    return [names.index(name) for name in wanted], (k if several else None)


# ---------------------------------------------------------------- NumPy


_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK"}


def _load(data: bytes, shown: str, what: str):
    if not data.startswith(_MAGIC[what]):
        start = data[:12].decode("ascii", "replace")
        raise _error(shown, f"the data file is not a NumPy {what} file",
                     expected=f"the {what} format (numpy.{'save' if what == '.npy' else 'savez'})",
                     found="a file starting with " + repr(start) if data else "an empty file")
    try:  # the header's shape checked before anything is allocated or inflated
        return (read_npy(data, ARRAY_LIMIT) if what == ".npy"
                else read_npz(data, ARRAY_LIMIT, names=("x", "y")))
    except NpyError as exc:
        raise _error(shown, f"cannot read the data file as {what}", expected=(
            f"a NumPy {what} file of at most {ARRAY_LIMIT:,} numbers"), found=str(exc)) from None


def _names(data: bytes) -> list[str]:
    """The array names of an ``.npz``'s bytes (for a message; the archive reads)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return npz_names(archive)


def _numeric(a: np.ndarray, shown: str, what: str) -> np.ndarray:
    if a.dtype.kind not in "biuf":
        raise _error(shown, f"{what} is not numeric", expected="an array of numbers",
                     found=f"dtype {a.dtype}")
    return np.asarray(a, np.float64)


def _finite(a: np.ndarray, shown: str, what: str) -> None:
    """Refuse NaN and infinite values, naming the first one's row (1-based) and column."""
    bad = ~np.isfinite(a)
    if bad.any():
        where = np.argwhere(bad)[0]
        row = int(where[0]) + 1
        col = f", column {int(where[1]) + 1}" if a.ndim == 2 else ""
        raise _error(shown, f"{what} has a value that is not finite",
                     expected="finite numbers", found=f"{a[tuple(where)]} in row {row}{col}",
                     notes=("remove the row, or fill in the value",))


def _npy(data: bytes, shown: str, split: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of an ``.npy`` array ``[n, k + o]``: ``split`` input columns (``None``:
    every column but the last)."""
    if data.startswith(_MAGIC[".npz"]):
        raise _error(shown, "the data file is not one array", expected="a .npy array",
                     found="an archive (use the .npz extension)")
    a = _load(data, shown, ".npy")
    a = _numeric(a, shown, "the array")
    if a.ndim != 2 or a.shape[1] < 2:
        raise _error(shown, "the array has the wrong shape",
                     expected="2 dimensions [n, k + 1]: the inputs, then y in the last column",
                     found=f"shape {list(a.shape)}")
    if a.shape[0] == 0:
        raise _error(shown, "the data file is empty", expected="rows of numbers", found="0 rows")
    _finite(a, shown, "the array")
    if split is None:
        return a[:, :-1], a[:, -1]
    if split >= a.shape[1]:
        raise _error(shown, "the data file has no output column",
                     expected=f"{split} input column{'s' if split != 1 else ''} (`inputs = "
                              f"{split}`), then at least one output",
                     found=f"shape {list(a.shape)}")
    return a[:, :split], a[:, split:]


def _npz(data: bytes, shown: str, several: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of an ``.npz``'s arrays; ``several``: ``y`` may be ``[n, o]``."""
    if data.startswith(_MAGIC[".npy"]):
        raise _error(shown, "the data file is not an archive of arrays",
                     expected="a .npz archive with arrays `x` and `y`",
                     found="one array (use the .npy extension)")
    z = _load(data, shown, ".npz")
    missing = [name for name in ("x", "y") if name not in z]
    if missing:
        raise _error(shown, f"the archive has no array `{missing[0]}`",
                     expected="arrays `x` [n, k] and `y` [n]",
                     found="arrays " + (", ".join(f"`{f}`" for f in _names(data)) or "none"))
    x, y = z["x"], z["y"]
    x, y = _numeric(x, shown, "`x`"), _numeric(y, shown, "`y`")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or not (y.ndim == 1 or (several and y.ndim == 2)) or x.shape[0] != y.shape[0]:
        raise _error(shown, "the arrays have the wrong shapes",
                     expected="`x` [n, k] and `y` [n]" + (" (or [n, o])" if several else "")
                              + ", with the same n",
                     found=f"`x` {list(x.shape)} and `y` {list(y.shape)}")
    if y.shape[0] == 0:
        raise _error(shown, "the data file is empty", expected="rows of numbers", found="0 rows")
    _finite(x, shown, "`x`")
    _finite(y, shown, "`y`")
    return x, y
