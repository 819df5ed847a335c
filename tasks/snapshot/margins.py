"""The total rows of an indicator, generated from the inner cells its SQL returns: along every margin its header
declares, the additive columns are summed and the values recomputed from those sums. Disclosure control rests on
"a total row is the sum of its members"; generating the totals makes that hold by construction."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

TOTAL = "all"  # a dimension's value on a total row
OPERAND = re.compile(r"^(?:(\d+(?:\.\d+)?)|(\w+)(?:\[(\w+)=all\])?)$")
FORMULA = re.compile(r"^(\w+)\s*=\s*([\w\[\]=.]+)(?:\s*([/*-])\s*([\w\[\]=.]+))?$")
OPERATORS = ("/", "*", "-")

Totalled = frozenset[str]  # the margin dimensions that are 'all' in a group of total rows


class MarginError(ValueError):
    """The margin keys of a header, or the inner cells given, cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Operand:
    """A column of the cell itself, (`of_total`) of the cell's total row along that margin, or a number."""

    column: str
    of_total: str | None = None
    number: float | None = None

    def __str__(self) -> str:
        if self.number is not None:
            return f"{self.number:g}"
        return self.column if self.of_total is None else f"{self.column}[{self.of_total}={TOTAL}]"


@dataclass(frozen=True)
class Formula:
    """`target = a` or `target = a OP b` (OP one of / * -), computed on every cell after the totals."""

    target: str
    numerator: Operand
    denominator: Operand | None = None
    operator: str = "/"

    @property
    def operands(self) -> tuple[Operand, ...]:
        both = (self.numerator,) if self.denominator is None else (self.numerator, self.denominator)
        return tuple(op for op in both if op.number is None)

    def __str__(self) -> str:
        right = "" if self.denominator is None else f" {self.operator} {self.denominator}"
        return f"{self.target} = {self.numerator}{right}"


def parse_operand(text: str) -> Operand:
    """`column`, `column[dimension=all]` or a number."""
    if not (match := OPERAND.match(text)):
        raise MarginError(f"{text!r} is not a column, column[dimension=all] nor a number")
    if match[1] is not None:
        return Operand("", number=float(match[1]))
    return Operand(match[2], match[3])


def parse_formula(text: str) -> Formula:
    """One item of the `computed` header key, e.g. `value = cases / base`, `base = cases[reason=all]` or
    `value = 100 * difference`."""
    if not (match := FORMULA.match(text.strip())):
        raise MarginError(f"computed {text!r} must read 'column = a' or 'column = a / b' (or a * b, a - b)")
    left = parse_operand(match[2])
    if match[3] is None:
        if left.number is not None:
            raise MarginError(f"computed {text!r}: a column cannot be only a number")
        return Formula(match[1], left)
    return Formula(match[1], left, parse_operand(match[4]), match[3])


@dataclass(frozen=True)
class Totals:
    """How an indicator's total rows are made from its inner cells (the margin keys of its header)."""

    dimensions: tuple[str, ...]
    margins: tuple[str, ...]
    sums: tuple[str, ...]  # columns that add up along every margin
    nested: tuple[str, ...] = ()  # margins determined by another dimension: totalled only with all the others
    one_way: tuple[str, ...] = ()  # margins broken down one at a time: at most one of them is not 'all'
    computed: tuple[Formula, ...] = ()
    nonzero: tuple[str, ...] = ()  # cells that are 0 in any of these columns are left out

    def __post_init__(self) -> None:
        if self.margins and not self.sums:
            raise MarginError("generated totals need the columns that add up along the margins (sums)")
        if not self.margins and not self.computed:
            raise MarginError("with no margins there is nothing to generate but computed columns: name some")
        for key in ("nested", "one_way"):
            if stray := [d for d in getattr(self, key) if d not in self.margins]:
                raise MarginError(f"{key} {', '.join(stray)} not among the margins {', '.join(self.margins)}")
        if clash := [c for c in self.sums + self.targets if c in self.dimensions]:
            raise MarginError(f"{', '.join(clash)} cannot be both a dimension and a column computed on the totals")
        for formula in self.computed:
            for operand in formula.operands:
                if operand.of_total and (operand.of_total not in self.margins or operand.of_total in self.nested):
                    raise MarginError(f"computed {formula}: {operand.of_total} is not a margin that is not nested")

    @property
    def targets(self) -> tuple[str, ...]:
        """The columns the computed formulas make."""
        return tuple(f.target for f in self.computed)

    def published(self, totalled: Totalled) -> bool:
        """Whether the cells with these margins totalled are published (the others are only summed)."""
        others = set(self.margins) - set(self.nested)
        # a region's total within one country would only repeat the country's row
        if totalled & set(self.nested) and not others <= totalled:
            return False
        return len(set(self.one_way) - totalled) <= 1

    def groups(self) -> list[Totalled]:
        """Every published combination of totalled margins (the empty one: the inner cells)."""
        subsets = (frozenset(c) for n in range(len(self.margins) + 1) for c in itertools.combinations(self.margins, n))
        return [s for s in subsets if self.published(s)]


def check_inner(inner: pd.DataFrame, totals: Totals) -> None:
    """Raise MarginError unless the cells are inner cells, one per dimension key, with the columns to sum."""
    if missing := [c for c in totals.dimensions + totals.sums if c not in inner.columns]:
        raise MarginError(f"the query does not return the column(s) {', '.join(missing)} the totals need")
    if computed := [c for c in totals.targets if c in inner.columns]:
        raise MarginError(f"the query returns {', '.join(computed)}, which the header computes on the totals")
    if totalled := [d for d in totals.margins if (inner[d] == TOTAL).any()]:
        raise MarginError(
            f"the query returns total rows ({', '.join(totalled)} = '{TOTAL}'): return the inner cells only, "
            "the totals are generated"
        )
    if inner.duplicated(list(totals.dimensions)).any():
        raise MarginError(f"the query returned the same cell twice (dimensions {', '.join(totals.dimensions)})")


def sum_over(inner: pd.DataFrame, totals: Totals, totalled: Totalled) -> pd.DataFrame:
    """The total rows with `totalled` margins set to 'all': the sums of their members (NULL where all are NULL)."""
    if not totalled:
        return inner
    keys = [d for d in totals.dimensions if d not in totalled]
    sums = list(totals.sums)
    # with every dimension totalled, one group of all the cells (an array key: a list would name columns)
    by = keys or np.zeros(len(inner), dtype=int)
    frame = inner.groupby(by, dropna=False, sort=False)[sums].sum(min_count=1).reset_index(drop=not keys)
    return frame.assign(**dict.fromkeys(totalled, TOTAL))[list(totals.dimensions) + sums]


def _operand(frames: dict[Totalled, pd.DataFrame], dims: list[str], totalled: Totalled, op: Operand) -> pd.Series:
    """The operand's values for the cells of one group, read on the cell itself or on its total row."""
    frame = frames[totalled]
    if op.of_total is None:
        return frame[op.column]
    total = frames[totalled | {op.of_total}]
    keys = frame[dims].assign(**{op.of_total: TOTAL})
    found = keys.merge(total[[*dims, op.column]], on=dims, how="left", validate="many_to_one")
    return pd.Series(found[op.column].to_numpy(), index=frame.index)


def _compute(frames: dict[Totalled, pd.DataFrame], dims: list[str], formula: Formula) -> None:
    """Add the formula's column to every group; a division by zero gives NULL."""
    for totalled, frame in frames.items():

        def value(op: Operand, frame: pd.DataFrame = frame, totalled: Totalled = totalled) -> pd.Series | float:
            return op.number if op.number is not None else _operand(frames, dims, totalled, op)

        left = value(formula.numerator)
        if formula.denominator is None:
            frame[formula.target] = left
            continue
        right = value(formula.denominator)
        if formula.operator == "/":
            nonzero = right.where(right != 0) if isinstance(right, pd.Series) else right or np.nan
            frame[formula.target] = left / nonzero
        elif formula.operator == "*":
            frame[formula.target] = left * right
        else:
            frame[formula.target] = left - right


def recompute(cells: pd.DataFrame, totals: Totals) -> pd.DataFrame:
    """The computed columns made again on published cells (inner and total rows) whose sums have changed, e.g. by
    the perturbation of their counts; rows keep their order."""
    if not totals.computed or cells.empty:
        return cells
    dims = list(totals.dimensions)
    totalled = cells[list(totals.margins)].eq(TOTAL) if totals.margins else pd.DataFrame(index=cells.index)
    group_of = [frozenset(m for m in totals.margins if row[m]) for row in totalled.to_dict(orient="records")]
    groups: dict[Totalled, list[int]] = {}
    for position, group in enumerate(group_of):
        groups.setdefault(group, []).append(position)
    frames = {group: cells.iloc[positions].copy() for group, positions in groups.items()}
    for formula in totals.computed:
        _compute(frames, dims, formula)
    return pd.concat(frames.values()).loc[cells.index]


def with_totals(inner: pd.DataFrame, totals: Totals) -> pd.DataFrame:
    """The published cells: the inner cells and the generated total rows (as the header declares them), with the
    computed columns; attributes that are not summed are NULL on total rows."""
    check_inner(inner, totals)
    # the total row a formula reads (along a margin that is not nested) is published too: totalling one more such
    # margin never makes a published group unpublished
    frames = {totalled: sum_over(inner, totals, totalled).copy() for totalled in totals.groups()}
    for formula in totals.computed:
        _compute(frames, list(totals.dimensions), formula)
    parts = [frame for frame in frames.values() if not frame.empty]
    if not parts:
        return pd.DataFrame(columns=[*inner.columns, *totals.targets])
    cells = pd.concat(parts, ignore_index=True)
    for column in totals.nonzero:
        cells = cells[cells[column] != 0]
    return cells.reset_index(drop=True)
