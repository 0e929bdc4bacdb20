"""Disclosure control: an attacker with a linear-programming solver tries to recover every
suppressed cell from what is published (cells, row, column and grand totals, counts >= 0).

A cell counts as recovered when its smallest and largest feasible values coincide.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from ibr_service.analytics.disclosure import protect_table, recoverable_cells


def attack(values: np.ndarray, hidden: np.ndarray) -> dict[tuple[int, int], tuple[float, float]]:
    """Bounds the published table puts on each hidden cell (table with margins, totals last)."""
    rows, cols = values.shape
    cells = [tuple(c) for c in np.argwhere(hidden)]
    index = {cell: n for n, cell in enumerate(cells)}
    lines = [[(i, j) for j in range(cols)] for i in range(rows)]
    lines += [[(i, j) for i in range(rows)] for j in range(cols)]
    equations, rhs = [], []
    for line in lines:
        row = np.zeros(len(cells))
        known = 0.0
        for position, cell in enumerate(line):
            sign = -1.0 if position == len(line) - 1 else 1.0
            if cell in index:
                row[index[cell]] += sign
            else:
                known += sign * values[cell]
        if row.any():
            equations.append(row)
            rhs.append(-known)
    bounds: dict[tuple[int, int], tuple[float, float]] = {}
    for cell, n in index.items():
        objective = np.zeros(len(cells))
        objective[n] = 1.0
        low = linprog(objective, A_eq=equations, b_eq=rhs, bounds=(0, None), method="highs")
        high = linprog(-objective, A_eq=equations, b_eq=rhs, bounds=(0, None), method="highs")
        assert low.status == 0
        assert high.status in (0, 3)  # 3: unbounded above, the best a cell can be
        bounds[cell] = (low.fun, np.inf if high.status == 3 else -high.fun)
    return bounds


def assert_protected(table: pd.DataFrame, k: int) -> None:
    result = protect_table(table, k)
    values = result.values.to_numpy()
    hidden = result.suppressed.to_numpy()
    small = (values > 0) & (values < k)
    assert not (small & ~hidden).any(), "a cell under k is published"
    for cell, (low, high) in attack(values, hidden).items():
        assert high - low > 0.5, f"cell {cell}={values[cell]} recovered: [{low}, {high}]"
        assert low <= values[cell] <= high
    published = result.published()
    assert (published.fillna(-1).to_numpy() == np.where(hidden, -1, values)).all()


def test_a_lone_small_cell_is_hidden_with_a_complement_in_its_row_and_column() -> None:
    table = pd.DataFrame(
        {"F": [3, 40, 55], "M": [25, 38, 61], "X": [30, 44, 70]}, index=["R1", "R2", "R3"]
    )
    result = protect_table(table, k=10)
    hidden = result.suppressed
    assert hidden.loc["R1", "F"]
    assert hidden.loc["R1"].sum() >= 2
    assert hidden["F"].sum() >= 2
    assert_protected(table, 10)


def test_primary_suppression_alone_would_leak_through_the_totals() -> None:
    table = pd.DataFrame({"a": [3, 20], "b": [20, 20]})
    values = protect_table(table, k=10).values.to_numpy()
    only_primary = (values > 0) & (values < 10)
    assert recoverable_cells(only_primary)[0, 0], "the test's premise: totals give the cell away"
    bounds = attack(values, only_primary)
    assert bounds[(0, 0)][0] == pytest.approx(3) == bounds[(0, 0)][1]
    assert_protected(table, 10)


def test_small_totals_are_themselves_suppressed() -> None:
    table = pd.DataFrame({"a": [2, 30], "b": [3, 40]})
    result = protect_table(table, k=10)
    assert result.suppressed.loc[0, "Total"]
    assert_protected(table, 10)


def test_a_table_with_no_small_cell_is_published_whole() -> None:
    table = pd.DataFrame({"a": [12, 30, 0], "b": [13, 40, 10]})
    assert not protect_table(table, k=10).suppressed.to_numpy().any()


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        protect_table(pd.DataFrame({"a": [1, -2]}))


@settings(max_examples=150, deadline=None)
@given(
    data=st.integers(min_value=1, max_value=5).flatmap(
        lambda rows: st.integers(min_value=1, max_value=5).flatmap(
            lambda cols: st.lists(
                st.lists(
                    st.one_of(st.integers(0, 12), st.integers(0, 200)),
                    min_size=cols,
                    max_size=cols,
                ),
                min_size=rows,
                max_size=rows,
            )
        )
    ),
    k=st.sampled_from([3, 5, 10]),
)
def test_no_suppressed_cell_of_any_table_can_be_recovered(data: list[list[int]], k: int) -> None:
    assert_protected(pd.DataFrame(data), k)
