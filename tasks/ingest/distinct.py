"""Per-distinct-value work: senders' columns repeat a few values millions of times, so each distinct value is
parsed once and the results are spread back over the rows by their codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from schemas.kinds import Invalid, Parsed


def _spread(per_value: list[Any], codes: np.ndarray, dtype: str, index: pd.Index) -> pd.Series:
    """One output column: `per_value[i]` for every row whose code is i (code -1, a missing cell, → missing)."""
    values = [*per_value, None]
    if dtype == "category":
        categories = list(dict.fromkeys(v for v in per_value if v is not None))
        position = {c: i for i, c in enumerate(categories)}
        value_codes = np.array([position[v] if v is not None else -1 for v in values], dtype=np.int64)
        return pd.Series(pd.Categorical.from_codes(value_codes[codes], categories=categories), index=index)
    if dtype.startswith("datetime64"):
        return pd.Series(
            np.array([np.datetime64("NaT") if v is None else v for v in values], dtype=dtype)[codes], index=index
        )
    if dtype == "object":
        table = np.empty(len(values), dtype=object)
        table[:] = values
        return pd.Series(table[codes], index=index, dtype=object)
    return pd.Series(pd.array(values, dtype=dtype).take(codes), index=index)


def parse_distinct(
    column: pd.Series, parse: Callable[[Any], Parsed], outputs: dict[str, str]
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Apply `parse` to each distinct non-missing value; it returns one item per output column, or Invalid (None for
    short) when the value cannot be parsed. Returns the output columns (with the given dtypes), the mask of rows that
    failed, and for those rows what a reason shows (Invalid.shown, else the value as sent)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    results = [parse(value) for value in uniques]
    failed = np.array([r is None or isinstance(r, Invalid) for r in results] + [False])[codes]
    given = [r.outputs if isinstance(r, Invalid) else r for r in results]
    frame = pd.DataFrame(
        {
            name: _spread([None if g is None else g[i] for g in given], codes, dtype, column.index)
            for i, (name, dtype) in enumerate(outputs.items())
        },
        index=column.index,
    )
    shown = [
        r.shown if isinstance(r, Invalid) and r.shown is not None else value
        for value, r in zip(uniques, results, strict=True)
    ]
    return frame, pd.Series(failed, index=column.index), _spread(shown, codes, "object", column.index)


def map_distinct(column: pd.Series, fn: Callable[[Any], Any], dtype: str = "category") -> pd.Series:
    """`fn` applied once per distinct non-missing value; None results become missing."""
    frame, _, _ = parse_distinct(column, lambda value: (fn(value),), {"value": dtype})
    return frame["value"]
