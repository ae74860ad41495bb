"""A tensor spec's data block, checked: the sample size ``n`` (given, swept, or a data file's
rows) and how a data file's output columns fit the model (``o`` columns for a Gaussian model
of ``o`` outputs, one column of labels, each a class, for classification). The keys
themselves are read by ``network_check._data``, and ``noise`` and the data ``seed`` checked
by ``network_check.noise_and_seed``, both shared with network specs.
"""

from __future__ import annotations

import sympy as sp

from . import ast
from . import catalogue as err
from . import symbolic as sy
from .datafile import DataTable, check_labels
from .network_check import (_data_size, _enough_rows, _sweep_only, checked_size,
                            noise_and_seed)
from .tensor_likelihood import label_values, labels_text

__all__ = ["data_size", "noise_and_seed", "file_outputs"]


def data_size(c, items, data, k, table: DataTable | None) -> sp.Expr:
    """The sample size: ``data { n = ... }``, the swept ``n`` or (a data file without ``n``)
    the file's rows; never more than the file has."""
    if "n" in (c.sweep_name, c.sweep2_name):
        n, st = ((c.sweep_symbol, c.one[ast.Sweep]) if c.sweep_name == "n"
                 else (c.sweep2_symbol, c.sweep2))
        _data_size(c, n, st.span, k)
        if table is not None:
            _enough_rows(c, n, st.span, table, items["file"].span)
        return n
    item = items.get("n")
    if item is None and table is not None:
        return sp.Integer(table.rows)
    if item is None:
        raise err.missing("`data` needs the sample size", data.span, expected="`n = 10000`",
                          found="no `n`")
    n = sy.scalar(item.expr, c.base, c.ctx, "a number (the sample size)")
    _sweep_only(c, n, item.expr.span, "`n`")
    checked_size(c, n, item.expr.span, k, table, items.get("file"))
    return n


def file_outputs(c, model, dims: tuple, family: str, table: DataTable, file_item, n) -> None:
    """The file's output columns fit the model: ``o`` columns for a Gaussian model of ``o``
    outputs, one column of labels (each a class) for classification."""
    want = 1 if family != "gaussian" or not dims else dims[0]
    if table.outputs != want:
        what = (f"{want} output column{'s' if want != 1 else ''}" if family == "gaussian"
                else "1 column of labels")
        raise err.invalid(f"the data file has {table.outputs} output column"
                          f"{'s' if table.outputs != 1 else ''}, the model {want}",
                          model.expr.span, expected=f"{what} in {table.path}",
                          found=f"{table.outputs} (and {table.inputs} inputs)",
                          notes=(f"the file is named at line {file_item.span.line}; without a "
                                 "header its last column is y: a header `x1, ..., xk, y1, ..., "
                                 "yo` names the columns, or `inputs = k` in `data` splits them",))
    if family != "gaussian":
        values = [v for _, v in sy.at_sweep(n, c.ctx) or [(None, n)]]
        rows = int(max(sy.real_value(v) for v in values))
        check_labels(table, label_values(family, dims), labels_text(family, dims), rows)


