"""Disclosure control for the snapshot's published tables of children's data ("the mixer"): small non-zero counts
are hidden (primary), further cells are hidden until no hidden cell can be worked out from the published totals
(secondary), a cell hidden in the previous snapshot stays hidden unless it was small and has grown past the
threshold (carried), rates on small bases are flagged unstable, and every hidden value is replaced by a labelled
code. The rules and their parameters are data in config/disclosure.yaml; pure functions, no Prefect.

A table is a DataFrame of aggregated cells: dimension columns (strings) and count columns (non-negative integers).
A row whose value in an additive dimension d is "all" is the total over d of the rows equal to it in every other
dimension; those totals are the linear equations an attacker can use, and secondary suppression defeats them."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from pop import paths
from pop.config import ConfigError, load_config

ALL = "all"  # the dimension value of a margin (total) row
CASES = "cases"  # the count column secondary suppression ranks cells by (else the first count column)
BASE = "base"  # the denominator column the unstable flag looks at (else the cases column)
KINDS = ("primary", "secondary", "carried")
PARAMETERS = ("min_count", "min_count_detailed", "detailed_dimensions", "unstable_base")

Equation = tuple[int, list[int]]  # (margin row position, member row positions): margin = sum(members)
Row = dict[int, int]  # a sparse integer row of the equation matrix: column (row position) -> coefficient


class DisclosureError(ConfigError):
    """The disclosure rules or a table cannot be used; the message says what to fix."""


class DisclosureRules(BaseModel):
    """The thresholds and codes of disclosure control (config/disclosure.yaml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_count: int
    min_count_detailed: int
    detailed_dimensions: int
    unstable_base: int
    codes: dict[str, str]  # kind (primary, secondary, carried) -> code
    unstable_code: str
    labels: dict[str, str]  # code (the three codes and unstable_code) -> what it means, placeholders filled in

    @field_validator(*PARAMETERS, mode="before")
    @classmethod
    def _whole_number(cls, value: Any, info: ValidationInfo) -> Any:
        least = 0 if info.field_name == "unstable_base" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{info.field_name} must be a whole number of at least {least}, not {value!r}")
        return value

    @field_validator("min_count_detailed")
    @classmethod
    def _detailed_at_least_plain(cls, value: int, info: ValidationInfo) -> int:
        if "min_count" in info.data and value < info.data["min_count"]:
            raise ValueError(f"min_count_detailed ({value}) must be at least min_count ({info.data['min_count']})")
        return value

    @field_validator("codes", mode="before")
    @classmethod
    def _one_code_per_kind(cls, codes: Any) -> Any:
        if not isinstance(codes, dict) or sorted(map(str, codes)) != sorted(KINDS):
            raise ValueError(f'codes must map exactly {", ".join(KINDS)} to a code, e.g. primary: "[c]"')
        return {kind: codes[kind] for kind in KINDS}

    @field_validator("unstable_code")
    @classmethod
    def _codes_differ(cls, unstable: str, info: ValidationInfo) -> str:
        all_codes = [*info.data.get("codes", {}).values(), unstable]
        for code in all_codes:
            if not isinstance(code, str) or not code.strip() or code.strip() != code or code == ALL or _numeric(code):
                raise ValueError(
                    f"code {code!r} must be a non-empty string without surrounding spaces that does not read as a "
                    'number (e.g. "[c]")'
                )
        if len(set(all_codes)) != len(all_codes):
            raise ValueError(f"the codes {', '.join(map(repr, all_codes))} must all differ")
        return unstable

    @field_validator("labels")
    @classmethod
    def _a_text_per_code(cls, labels: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        all_codes = [*info.data.get("codes", {}).values(), info.data.get("unstable_code")]
        missing = [code for code in all_codes if not isinstance(labels.get(code), str) or not labels[code].strip()]
        extra = sorted(str(code) for code in labels if code not in all_codes)
        if missing or extra:
            raise ValueError(
                f"labels must give a text for each of {', '.join(map(str, all_codes))} and nothing else"
                + (f"; missing: {', '.join(map(str, missing))}" if missing else "")
                + (f"; not a code: {', '.join(extra)}" if extra else "")
            )
        numbers = {name: info.data[name] for name in PARAMETERS if name in info.data}
        try:
            return {code: " ".join(labels[code].format(**numbers).split()) for code in all_codes}
        except (KeyError, IndexError, ValueError) as exc:
            placeholders = ", ".join("{" + name + "}" for name in PARAMETERS)
            raise ValueError(f"the label of a code has an unknown placeholder ({exc}); use {placeholders}") from None

    @property
    def primary_code(self) -> str:
        """The code of a cell hidden because it is small."""
        return self.codes["primary"]

    @property
    def secondary_code(self) -> str:
        """The code of a cell hidden to protect another hidden cell."""
        return self.codes["secondary"]

    @property
    def carried_code(self) -> str:
        """The code of a cell hidden because it was hidden in the previous snapshot."""
        return self.codes["carried"]

    def threshold(self, n_dims: int) -> int:
        """The smallest non-zero count shown in a table of n_dims dimensions."""
        return self.min_count_detailed if n_dims >= self.detailed_dimensions else self.min_count

    def as_metadata(self) -> dict[str, Any]:
        """The rule and its parameters for the snapshot's metadata (JSON-serialisable, same input same output)."""
        return {
            "rule": (
                f"primary: a cell is hidden when any of its counts is non-zero and below {self.min_count} "
                f"({self.min_count_detailed} in tables of {self.detailed_dimensions} or more dimensions); "
                "secondary: further cells are hidden (non-zero before zero, inner cells before totals, smallest "
                "first) until no hidden cell can be computed exactly, by linear algebra, from the published cells "
                "and the table's totals; carried: a cell "
                "hidden in the previous snapshot stays hidden unless it was hidden as primary and its counts are "
                f"now at or above the threshold; unstable: a rate whose base is between 1 and {self.unstable_base} "
                "is flagged"
            ),
            "parameters": {name: getattr(self, name) for name in PARAMETERS},
            "codes": {kind: self.codes[kind] for kind in KINDS},
            "unstable_code": self.unstable_code,
            "missing_values": [self.codes[kind] for kind in KINDS],
            "labels": {code: self.labels[code] for code in (*(self.codes[kind] for kind in KINDS), self.unstable_code)},
        }


# --- rules -------------------------------------------------------------------------------------------------


def load_rules(path: Path | None = None) -> DisclosureRules:
    """The disclosure rules from a YAML file (default config/disclosure.yaml), validated."""
    return load_config(path or paths.DISCLOSURE_FILE, DisclosureRules, what="disclosure rules", error=DisclosureError)


def _numeric(text: str) -> bool:
    """Whether a string reads as a number (a code must not)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- the table model ---------------------------------------------------------------------------------------


def _keys(table: pd.DataFrame, dims: Sequence[str]) -> list[tuple[Any, ...]]:
    """Each row's dimension values, in dims order."""
    return list(zip(*(table[d].tolist() for d in dims), strict=True)) if dims else [()] * len(table)


def _check_table(
    table: pd.DataFrame, dims: Sequence[str], margins: Collection[str] = (), counts: Sequence[str] = ()
) -> None:
    """Raise DisclosureError unless dims, margins and counts are columns and each row has its own dimension key."""
    absent = [c for c in (*dims, *counts) if c not in table.columns]
    if absent:
        raise DisclosureError(f"table has no column(s) {', '.join(absent)}")
    stray = [d for d in margins if d not in dims]
    if stray:
        raise DisclosureError(f"margin dimension(s) {', '.join(stray)} are not among the dimensions {list(dims)}")
    seen: set[tuple[Any, ...]] = set()
    for key in _keys(table, dims):
        if key in seen:
            found = dict(zip(dims, key, strict=True))
            raise DisclosureError(f"table has more than one row for {found}; aggregate it first")
        seen.add(key)


def _count_values(table: pd.DataFrame, column: str) -> np.ndarray:
    """A count column as floats (NaN where missing); raise unless the values are non-negative whole numbers."""
    try:
        values = pd.to_numeric(table[column], errors="raise").to_numpy(dtype=float)
    except (ValueError, TypeError) as exc:
        raise DisclosureError(f"count column {column} is not numeric ({exc})") from exc
    present = values[~np.isnan(values)]
    if (present < 0).any() or (present != np.floor(present)).any():
        raise DisclosureError(f"count column {column} must hold non-negative whole numbers")
    return values


def constraints(table: pd.DataFrame, dims: Sequence[str], margins: Collection[str]) -> list[Equation]:
    """The equations margin = sum(members) the table implies, as (margin row position, member row positions)."""
    _check_table(table, dims, margins)
    keys = _keys(table, dims)
    equations: list[Equation] = []
    for k, dim in enumerate(dims):
        if dim not in margins:
            continue
        margin_at: dict[tuple[Any, ...], int] = {}
        members: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for pos, key in enumerate(keys):
            rest = key[:k] + key[k + 1 :]
            if key[k] == ALL:
                margin_at[rest] = pos
            else:
                members[rest].append(pos)
        equations.extend((pos, members[rest]) for rest, pos in margin_at.items() if members.get(rest))
    return sorted(equations)


# --- primary suppression -----------------------------------------------------------------------------------


def primary(
    table: pd.DataFrame, dims: Sequence[str], counts: Sequence[str], rules: DisclosureRules, n_dims: int | None = None
) -> pd.Series:
    """Whether each cell is primary-suppressed: any of its counts is non-zero and below the table's threshold
    (for a table crossing `n_dims` dimensions; by default all of `dims`)."""
    _check_table(table, dims, (), counts)
    threshold = rules.threshold(len(dims) if n_dims is None else n_dims)
    small = np.zeros(len(table), dtype=bool)
    for column in counts:
        values = _count_values(table, column)
        small |= (values > 0) & (values < threshold)  # NaN compares False
    return pd.Series(small, index=table.index, name="primary")


# --- derivability: exact linear algebra over the integers --------------------------------------------------


def _restrict(equations: Iterable[Equation], hidden: Collection[int]) -> list[Row]:
    """The equation matrix restricted to the hidden columns (published cells are known constants), non-empty rows."""
    rows: list[Row] = []
    for margin, members in equations:
        row: Row = {margin: 1} if margin in hidden else {}
        for member in members:
            if member in hidden:
                row[member] = row.get(member, 0) - 1
        row = {col: value for col, value in row.items() if value}
        if row:
            rows.append(row)
    return rows


def _components(rows: list[Row]) -> list[tuple[list[int], list[Row]]]:
    """The rows grouped by connected component of their columns: (sorted columns, rows), by smallest column."""
    parent: dict[int, int] = {}

    def find(col: int) -> int:
        """The root of a column's component (with path compression)."""
        root = col
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[col] != root:
            parent[col], col = root, parent[col]
        return root

    for row in rows:
        first, *rest = row
        find(first)
        for col in rest:
            a, b = find(first), find(col)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, tuple[list[int], list[Row]]] = {}
    for col in sorted(parent):
        groups.setdefault(find(col), ([], []))[0].append(col)
    for row in rows:
        groups[find(next(iter(row)))][1].append(row)
    return [groups[root] for root in sorted(groups)]


def _primitive(row: Row) -> Row:
    """The row divided by the gcd of its entries, its leading (smallest column) entry positive."""
    divisor = math.gcd(*row.values())
    if row[min(row)] < 0:
        divisor = -divisor
    return {col: value // divisor for col, value in row.items()} if divisor != 1 else row


def _eliminate(row: Row, pivot: Row, col: int) -> Row:
    """The integer combination of row and pivot that has no entry in col."""
    a, b = pivot[col], row[col]
    g = math.gcd(a, b)
    a, b = a // g, b // g
    out = {c: a * v for c, v in row.items()}
    for c, v in pivot.items():
        value = out.get(c, 0) - b * v
        if value:
            out[c] = value
        else:
            out.pop(c, None)
    return _primitive(out) if out else out


def _determined(rows: list[Row]) -> set[int]:
    """The columns whose value the rows fix: a unit vector in the row space (reduced echelon form, exact)."""
    pivots: dict[int, Row] = {}
    for original in sorted(rows, key=lambda r: (len(r), sorted(r))):
        row = dict(original)
        while row:
            lead = min(row)
            pivot = pivots.get(lead)
            if pivot is None:
                pivots[lead] = _primitive(row)
                break
            row = _eliminate(row, pivot, lead)
    leads = sorted(pivots)
    for k in range(len(leads) - 1, -1, -1):
        lead = leads[k]
        pivot = pivots[lead]
        for other in leads[:k]:
            if lead in pivots[other]:
                pivots[other] = _eliminate(pivots[other], pivot, lead)
    return {lead for lead, pivot in pivots.items() if len(pivot) == 1}


def derivable(hidden: Collection[int], equations: Iterable[Equation], n_rows: int) -> set[int]:
    """The hidden row positions whose exact value follows from the published cells and the equations."""
    hidden = set(hidden)
    equations = list(equations)
    outside = sorted(p for p in hidden if not 0 <= p < n_rows)
    outside += sorted({p for m, members in equations for p in (m, *members) if not 0 <= p < n_rows})
    if outside:
        raise DisclosureError(f"row position(s) {outside[:5]} are outside a table of {n_rows} rows")
    found: set[int] = set()
    for _, rows in _components(_restrict(equations, hidden)):
        found |= _determined(rows)
    return found


# --- secondary suppression ---------------------------------------------------------------------------------

HYPERCUBES_PER_SEARCH = 2000  # partner levels tried per dimension: about this many hypercubes in all


# How: first, while a line (equation) has a single hidden cell, its cheapest published cell is hidden: non-zero
# before zero, inner cells before totals, one that closes another such line, then the fewest cases; when that
# cell would open more such lines than it closes (chains branch in three dimensions), the line's hidden cell
# gets a hypercube instead. Then exact linear algebra finds cells derivable only from a combination of lines;
# each is protected by the cheapest hypercube through it: in every additive dimension one partner level
# (another member, or "all"), all 2^k combinations present in the table. A hypercube's cells cancel in every
# line they share, so the cell can no longer be solved for, and hiding more never undoes that. When no
# hypercube exists (rows missing), one cell of the cell's least-hidden line is hidden instead. The loop ends
# when nothing is derivable. Every choice is by cost, then position in the canonical order: deterministic.
class _Secondary:
    """Secondary suppression of one table: hide more cells until no hidden cell is derivable."""

    def __init__(
        self,
        equations: list[Equation],
        cases: np.ndarray,
        keys: list[tuple[Any, ...]],
        additive: list[int],
        hidden: set[int],
        chains: bool = True,
    ) -> None:
        self.chains = chains  # False: protect every exposed cell with a hypercube
        self.equations = equations
        self.cases = cases
        self.keys = keys
        self.at = {key: pos for pos, key in enumerate(keys)}
        self.additive = additive
        self.levels = [sorted({key[d] for key in keys}, key=str) for d in additive]
        self.lines = [[margin, *members] for margin, members in equations]
        self.lines_of: dict[int, list[int]] = defaultdict(list)
        for e, line in enumerate(self.lines):
            for cell in line:
                self.lines_of[cell].append(e)
        self.totals = {margin for margin, _ in equations}
        self.hidden = set(hidden)
        self.n_hidden = [sum(cell in self.hidden for cell in line) for line in self.lines]
        self.single = {e for e, n in enumerate(self.n_hidden) if n == 1}  # lines that give their hidden cell away
        self.added: list[int] = []

    def cost(self, cell: int) -> tuple[int, int, float]:
        """What hiding one more cell costs: (zero, total, cases); nothing when it is hidden already."""
        if cell in self.hidden:
            return (0, 0, 0.0)
        return (int(self.cases[cell] == 0), int(cell in self.totals), float(self.cases[cell]))

    def hide(self, cell: int) -> None:
        """Hide one more cell as secondary."""
        self.hidden.add(cell)
        self.added.append(cell)
        for e in self.lines_of[cell]:
            self.n_hidden[e] += 1
            if self.n_hidden[e] == 1:
                self.single.add(e)
            else:
                self.single.discard(e)

    def hypercube(self, cell: int) -> list[int] | None:
        """The cells to hide for the cheapest hypercube through cell, or None when the table has none."""
        key = self.keys[cell]
        k = len(self.additive)
        if k == 0:
            return None
        limit = max(2, int(HYPERCUBES_PER_SEARCH ** (1 / k)))
        choices: list[list[Any]] = []
        for d, levels in zip(self.additive, self.levels, strict=True):
            ranked = []
            for level in levels:
                neighbour = self.at.get((*key[:d], level, *key[d + 1 :]))
                if level != key[d] and neighbour is not None:
                    ranked.append((self.cost(neighbour), neighbour, level))
            if not ranked:
                return None
            choices.append([level for *_, level in sorted(ranked)[:limit]])
        corners = [
            [(d, j) for flip, (j, d) in zip(corner, enumerate(self.additive), strict=True) if flip]
            for corner in itertools.product((False, True), repeat=k)
        ]
        best: tuple[tuple[int, int, float], list[int]] | None = None
        for combo in itertools.product(*choices):
            zero, total, cases = 0, 0, 0.0
            new: list[int] = []
            for flips in corners:
                vertex = list(key)
                for d, j in flips:
                    vertex[d] = combo[j]
                pos = self.at.get(tuple(vertex))
                if pos is None:
                    break
                if pos not in self.hidden:
                    z, t, c = self.cost(pos)
                    zero, total, cases = zero + z, total + t, cases + c
                    new.append(pos)
                    if best is not None and (zero, total, cases) > best[0]:
                        break  # costs only add up: this hypercube cannot beat the best one
            else:
                rank, new = (zero, total, cases), sorted(new)
                if best is None or (rank, new) < (best[0], best[1]):
                    best = (rank, new)
        return best[1] if best else None

    def partner(self, cell: int, component: list[int]) -> int | None:
        """One published cell of the cell's least-hidden line (else of its component's lines), cheapest first."""
        lines = [e for e in self.lines_of[cell] if self.n_hidden[e] < len(self.lines[e])]
        if lines:
            fewest = min(self.n_hidden[e] for e in lines)
            lines = [e for e in lines if self.n_hidden[e] == fewest]
        else:
            lines = [e for c in component for e in self.lines_of[c] if self.n_hidden[e] < len(self.lines[e])]
        candidates = {c for e in lines for c in self.lines[e] if c not in self.hidden}
        return min(candidates, key=lambda c: (self.cost(c), c), default=None)

    def closing(self, line: int) -> int:
        """The line's published cell to hide: cheapest, preferring one that closes other single-hidden lines."""

        def rank(cell: int) -> tuple[int, int, int, float, int]:
            """Zero, total, minus the lines it closes, cases, position."""
            zero, total, cases = self.cost(cell)
            return (zero, total, -sum(e in self.single for e in self.lines_of[cell]), cases, cell)

        return min((c for c in self.lines[line] if c not in self.hidden), key=rank)

    def derived(self, solved: dict[frozenset[int], set[int]], hopeless: set[int]) -> tuple[int, list[int]] | None:
        """A hidden cell the linear algebra can solve for, with its component (solved: cache by component)."""
        for columns, rows in _components(_restrict(self.equations, self.hidden)):
            key = frozenset(columns)
            if key not in solved:
                solved[key] = _determined(rows)
            if found := sorted(solved[key] - hopeless):
                return found[0], columns
        return None

    def run(self) -> list[int]:
        """Hide cells until no hidden cell is derivable; the cells hidden, in order."""
        solved: dict[frozenset[int], set[int]] = {}
        hopeless: set[int] = set()  # derivable, but every cell of its lines is hidden already (it is a zero)
        while True:
            # a line with a single hidden cell gives it away: hide its cheapest other cell when that leaves no
            # more such lines open than it closes (always, in two dimensions: a chain that closes into
            # rectangles), else protect the line's hidden cell with a hypercube (chains branch in three)
            while self.single:
                line = min(self.single)
                other = self.closing(line)
                closes = sum(e in self.single for e in self.lines_of[other])
                opens = sum(self.n_hidden[e] == 0 for e in self.lines_of[other])
                cube = (
                    None
                    if self.chains and opens <= closes
                    else self.hypercube(next(c for c in self.lines[line] if c in self.hidden))
                )
                for c in cube or [other]:
                    self.hide(c)
            # what remains derivable needs a combination of lines: protect it with a hypercube
            found = self.derived(solved, hopeless)
            if found is None:
                return self.added
            cell, component = found
            if cube := self.hypercube(cell):
                for c in cube:
                    self.hide(c)
            elif (other := self.partner(cell, component)) is not None:
                self.hide(other)
            else:
                hopeless.add(cell)


def _secondary(
    equations: list[Equation], cases: np.ndarray, keys: list[tuple[Any, ...]], additive: list[int], hidden: set[int]
) -> list[int]:
    """The cells to hide as well; in three or more dimensions the better of chains and hypercubes alone."""
    found = _Secondary(equations, cases, keys, additive, hidden).run()
    if len(additive) < 3:
        return found  # in two dimensions chains never branch: hypercubes alone do no better
    cubes = _Secondary(equations, cases, keys, additive, hidden, chains=False).run()
    return min(found, cubes, key=lambda cells: (len(cells), sum(cases[c] for c in cells), sorted(cells)))


# --- protect and publish -----------------------------------------------------------------------------------


def _previous_codes(
    carried: Mapping[tuple[str, ...], str | None] | Collection[tuple[str, ...]] | None, rules: DisclosureRules
) -> dict[tuple[str, ...], str | None]:
    """The previous snapshot's hidden cells as key -> kind (primary, secondary, carried, or None when unknown)."""
    if not carried:
        return {}
    kind_of = {code: kind for kind, code in rules.codes.items()} | {kind: kind for kind in KINDS}
    items = carried.items() if isinstance(carried, Mapping) else ((key, None) for key in carried)
    return {tuple(str(v) for v in key): kind_of.get(code) if code is not None else None for key, code in items}


def protect(
    table: pd.DataFrame,
    dims: Sequence[str],
    margins: Collection[str],
    counts: Sequence[str],
    rules: DisclosureRules,
    carried: Mapping[tuple[str, ...], str | None] | Collection[tuple[str, ...]] | None = None,
    n_dims: int | None = None,
) -> pd.DataFrame:
    """A copy of the table with `disclosure` (None or the code of a hidden cell) and `unstable` (bool) columns."""
    dims, counts = list(dims), list(counts)
    if not counts:
        raise DisclosureError("protect() needs at least one count column")
    _check_table(table, dims, margins, counts)
    n = len(table)
    # work in a canonical row order (sorted by dimension values) so the result does not depend on the row order
    sort_keys = [tuple(str(v) for v in key) for key in _keys(table, dims)]
    order = sorted(range(n), key=sort_keys.__getitem__)
    canon = table.iloc[order].reset_index(drop=True)
    n_dims = len(dims) if n_dims is None else n_dims  # totals and nested dimensions cross nothing
    threshold = rules.threshold(n_dims)
    values = {column: _count_values(canon, column) for column in counts}
    cases = np.nan_to_num(values[CASES if CASES in values else counts[0]])
    codes: list[str | None] = [
        rules.primary_code if small else None for small in primary(canon, dims, counts, rules, n_dims).to_numpy()
    ]
    keys = _keys(canon, dims)
    # a cell hidden in the previous snapshot stays hidden, unless it was small then and all its counts have grown
    previous = _previous_codes(carried, rules)
    grown = np.ones(n, dtype=bool)
    for column_values in values.values():
        grown &= np.isnan(column_values) | (column_values >= threshold)
    for pos, key in enumerate(keys):
        kind = previous.get(tuple(str(v) for v in key), "absent")
        if kind != "absent" and codes[pos] is None and not (kind == "primary" and grown[pos]):
            codes[pos] = rules.carried_code
    hidden = {pos for pos, code in enumerate(codes) if code is not None}
    additive = [k for k, d in enumerate(dims) if d in margins and any(key[k] == ALL for key in keys)]
    for pos in _secondary(constraints(canon, dims, margins), cases, keys, additive, hidden):
        codes[pos] = rules.secondary_code
    at = np.empty(n, dtype=int)
    at[order] = np.arange(n)  # original position -> canonical position
    result = table.copy()
    result["disclosure"] = pd.Series([codes[at[p]] for p in range(n)], index=table.index, dtype=object)
    is_hidden = result["disclosure"].notna().to_numpy()
    rate_base = _count_values(table, BASE) if BASE in counts else np.full(n, np.nan)
    own_cases = _count_values(table, CASES if CASES in counts else counts[0])
    rate_base = np.where(np.isnan(rate_base), own_cases, rate_base)
    result["unstable"] = (rate_base > 0) & (rate_base <= rules.unstable_base) & ~is_hidden
    result.attrs["disclosure"] = {"dims": dims, "margins": [d for d in dims if d in margins], "counts": counts}
    return result


def published(
    table: pd.DataFrame, value_columns: Sequence[str], rules: DisclosureRules, counts: Sequence[str] | None = None
) -> pd.DataFrame:
    """The protected table as published: hidden counts and values replaced by their code, and a `flag` column."""
    if "disclosure" not in table.columns or "unstable" not in table.columns:
        raise DisclosureError("published() takes the output of protect(): the table has no disclosure column")
    if counts is None:
        counts = table.attrs.get("disclosure", {}).get("counts")
        if counts is None:
            raise DisclosureError("published() cannot tell the count columns: pass counts=[...]")
    columns = list(dict.fromkeys([*counts, *value_columns]))
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise DisclosureError(f"table has no column(s) {', '.join(absent)}")
    out = table.drop(columns=["disclosure", "unstable"])
    hidden = table["disclosure"].notna()
    for column in columns:
        out[column] = out[column].astype(object)
        out.loc[hidden, column] = table.loc[hidden, "disclosure"]
    out["flag"] = np.where(table["unstable"].astype(bool), rules.unstable_code, "")
    return out
