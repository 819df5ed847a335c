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


def _check(result: Parsed, failure: str) -> str | None:
    """The check a parsed value fails (None: it passed); `failure` unless its Invalid names another."""
    if result is None:
        return failure
    return (result.check or failure) if isinstance(result, Invalid) else None


def parse_distinct(
    column: pd.Series, parse: Callable[[Any], Parsed], outputs: dict[str, str], failure: str = "invalid"
) -> tuple[pd.DataFrame, dict[str, pd.Series], pd.Series]:
    """Apply `parse` to each distinct non-missing value; it returns one item per output column, or Invalid (None for
    short) when the value cannot be parsed. Returns the output columns (with the given dtypes), the mask of the rows
    that failed each check (`failure`, or the check an Invalid names), and for failed rows what a reason shows
    (Invalid.shown, else the value as sent)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    results = [parse(value) for value in uniques]
    checks = [_check(r, failure) for r in results]
    failures = {
        check: pd.Series(np.array([c == check for c in checks] + [False])[codes], index=column.index)
        for check in dict.fromkeys(c for c in checks if c is not None)
    }
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
    return frame, failures, _spread(shown, codes, "object", column.index)


def map_distinct(column: pd.Series, fn: Callable[[Any], Any], dtype: str = "category") -> pd.Series:
    """`fn` applied once per distinct non-missing value; None results become missing."""
    frame, _, _ = parse_distinct(column, lambda value: (fn(value),), {"value": dtype})
    return frame["value"]
