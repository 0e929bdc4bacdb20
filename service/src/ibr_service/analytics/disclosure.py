"""Statistical disclosure control: small-cell suppression with complementary suppression.

A count table leaves the system with its row, column and grand totals. Cells with
``0 < value < k`` are suppressed (primary); then further cells are suppressed (complementary)
until no suppressed cell can be worked out from the published cells and totals:

1. every row and column (totals included) holding one suppressed cell gets a second one, the
   smallest non-zero published cell of that line (zeros last: a suppressed zero can pin its
   neighbours at a bound);
2. the linear system "each line sums to its total" restricted to the suppressed cells is
   checked: a cell is recoverable exactly when it is fixed in every solution, i.e. its
   coordinate is zero in every null-space vector. While one is, a neighbour is suppressed.

Zero cells are not sensitive by default (``zero_is_safe``): an empty cell discloses nobody.
Tables published side by side from the same data (say, by region and by district) must be
protected together; see docs/analytics.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_K",
    "TOTAL",
    "ProtectedTable",
    "protect_long",
    "protect_table",
    "recoverable_cells",
]

DEFAULT_K = 10
TOTAL = "Total"
_TOL = 1e-9


@dataclass(frozen=True)
class ProtectedTable:
    """A table with margins: ``values`` as counted, ``suppressed`` where not published."""

    values: pd.DataFrame
    suppressed: pd.DataFrame
    primary: pd.DataFrame

    def published(self) -> pd.DataFrame:
        """The table as it leaves the system: suppressed cells are missing (``<NA>``)."""
        return self.values.astype("Int64").mask(self.suppressed)

    def long(self, value_name: str = "value") -> pd.DataFrame:
        """One row per cell, totals included, with a ``suppressed`` flag; suppressed values NA."""
        published = self.published()
        published.index.name = published.index.name or "row"
        published.columns.name = published.columns.name or "column"
        long = published.stack(future_stack=True).rename(value_name).reset_index()
        long["suppressed"] = self.suppressed.stack(future_stack=True).to_numpy()
        return long


def _lines(shape: tuple[int, int]) -> list[list[tuple[int, int]]]:
    """Every row and column of the table with margins; the last cell of a line is its total."""
    rows, cols = shape
    return [[(i, j) for j in range(cols)] for i in range(rows)] + [
        [(i, j) for i in range(rows)] for j in range(cols)
    ]


def _constraints(shape: tuple[int, int]) -> np.ndarray:
    """One equation per line: the sum of its inner cells minus its total is zero."""
    rows, cols = shape
    lines = _lines(shape)
    matrix = np.zeros((len(lines), rows * cols))
    for n, line in enumerate(lines):
        for i, j in line[:-1]:
            matrix[n, i * cols + j] = 1.0
        i, j = line[-1]
        matrix[n, i * cols + j] = -1.0
    return matrix


def recoverable_cells(suppressed: np.ndarray) -> np.ndarray:
    """Suppressed cells of a table with margins that the published cells determine exactly."""
    flat = suppressed.ravel()
    hidden = np.flatnonzero(flat)
    out = np.zeros_like(flat, dtype=bool)
    if hidden.size == 0:
        return out.reshape(suppressed.shape)
    system = _constraints(suppressed.shape)[:, hidden]
    _, singular, vt = np.linalg.svd(system)
    rank = int((singular > _TOL * max(system.shape)).sum())
    null_space = vt[rank:]  # rows span the directions in which hidden cells may move together
    if null_space.shape[0] == 0:
        out[hidden] = True
    else:
        out[hidden] = np.abs(null_space).max(axis=0) < 1e-7
    return out.reshape(suppressed.shape)


def _with_margins(table: pd.DataFrame) -> pd.DataFrame:
    counts = table.fillna(0).astype("int64")
    counts[TOTAL] = counts.sum(axis=1)
    counts.loc[TOTAL] = counts.sum(axis=0)
    return counts


def _complement(values: np.ndarray, hidden: np.ndarray, line: list[tuple[int, int]]) -> bool:
    """Suppress the cheapest published cell of ``line``: smallest non-zero, inner before total."""
    options = [cell for cell in line if not hidden[cell]]
    if not options:
        return False
    last = line[-1]
    best = min(options, key=lambda c: (values[c] == 0, c == last, values[c], c))
    hidden[best] = True
    return True


def _pair_lines(values: np.ndarray, hidden: np.ndarray) -> None:
    """Until no line (row or column, totals included) has exactly one suppressed cell."""
    changed = True
    while changed:
        changed = False
        for line in _lines(values.shape):
            if sum(hidden[c] for c in line) == 1:
                changed |= _complement(values, hidden, line)


def _unpin(values: np.ndarray, hidden: np.ndarray, cell: tuple[int, int]) -> None:
    """Suppress one more cell beside a recoverable ``cell`` so that it is no longer fixed."""
    rows, cols = values.shape
    i, j = cell
    candidates = [(i, c) for c in range(cols)] + [(r, j) for r in range(rows)]
    candidates += [(r, c) for r in range(rows) for c in range(cols)]
    candidates = [c for c in dict.fromkeys(candidates) if not hidden[c]]
    candidates.sort(key=lambda c: (values[c] == 0, values[c]))
    for candidate in candidates:
        trial = hidden.copy()
        trial[candidate] = True
        _pair_lines(values, trial)
        if not recoverable_cells(trial)[cell]:
            hidden[:] = trial
            return
    hidden[:] = True  # nothing short of hiding the whole table protects it


def protect_table(
    table: pd.DataFrame, k: int = DEFAULT_K, *, zero_is_safe: bool = True
) -> ProtectedTable:
    """Protect a table of counts (rows x columns, no totals): see the module docstring.

    Cells counted as other measures (money) are protected by suppressing the same cells in
    their own table: pass the head-count table here and mask the value table with the result.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if (table.fillna(0) < 0).to_numpy().any():
        raise ValueError("disclosure control needs counts: the table has negative cells")
    counts = _with_margins(table)
    values = counts.to_numpy()
    floor = 1 if zero_is_safe else 0
    primary = (values >= floor) & (values < k)
    hidden = primary.copy()
    _pair_lines(values, hidden)
    while True:
        pinned = np.argwhere(recoverable_cells(hidden))
        if pinned.size == 0:
            break
        _unpin(values, hidden, (int(pinned[0][0]), int(pinned[0][1])))

    def frame(mask: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(mask, index=counts.index, columns=counts.columns)

    return ProtectedTable(values=counts, suppressed=frame(hidden), primary=frame(primary))


def protect_long(
    table: pd.DataFrame,
    rows: list[str],
    column: str,
    count: str,
    k: int = DEFAULT_K,
    *,
    also_mask: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Protect a long table (one row per cell) laid out as ``rows`` x ``column`` on ``count``.

    Returns the cells and the margins (``Total`` in the row or column keys) with ``count`` and
    the ``also_mask`` measures (households, value: they describe the same people) missing where
    suppressed, and a boolean ``suppressed`` column.
    """
    if table.empty:
        return table.assign(suppressed=pd.Series(dtype=bool))
    key = table[rows].astype(str).agg("\x1f".join, axis=1)
    grid = table.assign(_row=key).pivot_table(
        index="_row", columns=column, values=count, aggfunc="sum", fill_value=0
    )
    result = protect_table(grid, k)
    hidden = result.suppressed.stack(future_stack=True).rename("suppressed").reset_index()
    hidden = hidden.rename(columns={hidden.columns[1]: column})
    counts = result.values.stack(future_stack=True).rename(count).reset_index()
    counts = counts.rename(columns={counts.columns[1]: column})
    cells = counts.merge(hidden, on=["_row", column])
    cells[rows] = (
        cells["_row"]
        .map(lambda k_: [TOTAL] * len(rows) if k_ == TOTAL else k_.split("\x1f"))
        .tolist()
    )
    extra = [m for m in also_mask if m in table.columns]
    if extra:
        sums = table.assign(_row=key).groupby(["_row", column], as_index=False)[extra].sum()
        row_sums = sums.groupby("_row", as_index=False)[extra].sum().assign(**{column: TOTAL})
        col_sums = sums.groupby(column, as_index=False)[extra].sum().assign(_row=TOTAL)
        grand = sums[extra].sum().to_frame().T.assign(_row=TOTAL, **{column: TOTAL})
        all_sums = pd.concat([sums, row_sums, col_sums, grand], ignore_index=True)
        all_sums[column] = all_sums[column].astype(str)
        cells[column] = cells[column].astype(str)
        cells = cells.merge(all_sums, on=["_row", column], how="left")
    for measure in (count, *extra):
        cells[measure] = cells[measure].astype("Float64").mask(cells["suppressed"])
    cells = cells[~(cells[count] == 0).fillna(False)]  # absent from the input, or published 0
    return cells[[*rows, column, count, *extra, "suppressed"]].reset_index(drop=True)
