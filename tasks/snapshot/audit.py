"""The snapshot's own intruder: before anything is published, every protected table of children's counts is attacked
jointly, as an intruder would (linear and integer programming, scipy's HiGHS), together with the previous snapshot's
published tables (differencing: what changed between the two is the contribution of the batches added or taken
out). A count that the published figures pin to one value, or to 1 .. smallest_published - 1, and a contribution
pinned to a non-zero value or to 1 .. smallest_published - 1 children (either way), is disclosed: the audit then
withholds the nearest count it can (the count itself when it is shown, else the smallest shown count it is tied to
by a total) and attacks again, until nothing is disclosed. Perturbation alone leaves such cases possible, rarely:
when the noises of a total and its members lie at opposite extremes, or a small withheld count sits between a total
and a sibling.

The audit knows more than an intruder, and uses it against itself: counts of the same records are one variable
wherever they are published (their true count and the sum of their records' keys are equal: a fingerprint that
merges only equal counts, which only helps the attacker), every count of this snapshot that is not zero is known to
be at least 1, it knows which withheld counts were below the threshold, and every total row is the sum of its
members. Pure functions, no Prefect."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from tasks.snapshot.disclosure import WITHHELD, DisclosureRules
from tasks.snapshot.ptable import preimage

log = logging.getLogger(__name__)

ALL = "all"  # a dimension's value on a total row
NARROW = 10  # a linear range narrower than this is checked again with integers
EPS = 1e-6
CURRENT, BEFORE, CHANGE = "current", "before", "change"  # the kinds of variable

Place = tuple[str, int, str]  # (table, row position, count column) of this snapshot


@dataclass(frozen=True)
class AuditTable:
    """One table to attack: its dimensions and margins, the count columns (each with a `<count>_key` column in
    `cells`), the true cells and the protected ones (same rows, same order)."""

    id: str
    dimensions: tuple[str, ...]
    margins: tuple[str, ...]
    counts: tuple[str, ...]
    cells: pd.DataFrame
    protected: pd.DataFrame


@dataclass(frozen=True)
class PreviousTable:
    """A table of the previous snapshot as it was published (rows of values or the code), and what its indicator
    says of its counts: which are perturbed and summed along the margins (keyed; the others, as a base that is its
    total row's cases, are computed), which a published row is at least 1 in (nonzero: rows where they are 0 are
    left out), and which count organisations' reports (contributors: one withheld withholds its whole row)."""

    id: str
    dimensions: tuple[str, ...]
    margins: tuple[str, ...]
    counts: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...]
    keyed: tuple[str, ...] = ()
    nonzero: tuple[str, ...] = ()
    contributors: tuple[str, ...] = ()

    def summed(self, column: str) -> bool:
        """Whether the published rows of a count add up to their totals: a keyed count whose zero rows are not left
        out for another column (cases, where rows without a base are left out, still add up)."""
        if column not in self.keyed:
            return False
        return not self.nonzero or column in self.nonzero or (column == "cases" and "base" in self.nonzero)

    def bounded_when_withheld(self, row: Mapping[str, Any], column: str, code: str) -> bool:
        """Whether a withheld count was withheld for being small (else with another count, whatever its value: a
        computed count with the count it copies, any count with its row's withheld contributors)."""
        if column not in self.keyed:
            return False
        return column in self.contributors or all(row.get(c) != code for c in self.contributors)


@dataclass(frozen=True)
class Previous:
    """The previous snapshot for differencing: its tables, which way the evidence changed since (+1 batches added
    only, -1 taken out only, 0 both), and whether its withheld counts were all below the threshold (no count
    withheld by its own audit), which bounds them."""

    tables: tuple[PreviousTable, ...]
    change: int
    withheld_bounded: bool
    exact: bool = False  # published before cell-key perturbation: its shown values were the true counts


@dataclass
class AuditResult:
    """What the attack found and what was withheld because of it."""

    variables: int = 0
    equations: int = 0
    differenced: int = 0  # counts compared with the previous snapshot
    narrowed: list[str] = field(default_factory=list)  # what the first attack disclosed, before any remedy
    withheld: list[Place] = field(default_factory=list)  # withheld by the audit (with their dependent values)
    rounds: int = 0
    unsolved: int = 0  # groups of counts without any solution: the model is wrong there (never, when it is right)


class _Model:
    """Variables, their kinds, places, bounds and the equations between them."""

    def __init__(self, tables: Sequence[AuditTable], rules: DisclosureRules, previous: Previous | None = None) -> None:
        self.rules = rules
        self.tables = {t.id: t for t in tables}
        self.kind: list[str] = []
        self.truth: list[int | None] = []
        self.places: list[list[Place]] = []
        self.names: list[str] = []
        self.low: list[float] = []
        self.high: list[float] = []
        self.equations: list[tuple[int, list[int]]] = []
        self._fingerprints: dict[tuple[int, int], int] = {}
        self.at: dict[tuple[str, tuple[str, ...], str], int] = {}  # (table, key, column) -> current variable
        for table in tables:
            self._add_current(table)
        if previous is not None:
            self._add_previous(previous)

    def _new(self, kind: str, name: str, truth: int | None, low: float, high: float) -> int:
        self.kind.append(kind)
        self.truth.append(truth)
        self.places.append([])
        self.names.append(name)
        self.low.append(low)
        self.high.append(high)
        return len(self.kind) - 1

    def _bound(self, v: int, low: float, high: float) -> None:
        self.low[v], self.high[v] = max(self.low[v], low), min(self.high[v], high)

    def shown(self, v: int) -> list[Place]:
        """The places this snapshot publishes the variable's value (not withheld)."""
        return [p for p in self.places[v] if p[2] not in self.tables[p[0]].protected[WITHHELD].iloc[p[1]]]

    # --- this snapshot ------------------------------------------------------------------------------------------

    def _add_current(self, table: AuditTable) -> None:
        cells = table.cells.reset_index(drop=True)
        keys = [tuple(str(cells[d].iloc[p]) for d in table.dimensions) for p in range(len(cells))]
        ids: dict[str, list[int]] = {}
        withheld_low, withheld_high = self.rules.withheld_range()
        for column in table.counts:
            values = cells[column].to_numpy(dtype=float)
            key_sums = cells[column + "_key"].to_numpy(dtype=float)
            ids[column] = []
            for pos, (n, k) in enumerate(zip(values, key_sums, strict=True)):
                if math.isnan(n):
                    ids[column].append(-1)
                    continue
                # zeros are not merged: a sum of zeros would pin them, which no intruder could do
                fingerprint = (int(n), int(k)) if n else (-1, len(self.kind))
                if fingerprint not in self._fingerprints:
                    low = 1.0 if n >= 1 else 0.0
                    name = f"{table.id} {list(keys[pos])} {column}"
                    self._fingerprints[fingerprint] = self._new(CURRENT, name, int(n), low, math.inf)
                v = self._fingerprints[fingerprint]
                self.places[v].append((table.id, pos, column))
                self.at[table.id, keys[pos], column] = v
                ids[column].append(v)
                row = table.protected.iloc[pos]
                shown = row[column]
                if column not in row[WITHHELD]:
                    self._bound(v, *preimage(int(shown), self.rules.perturbation))
                elif not math.isnan(shown) and shown < self.rules.threshold:
                    self._bound(v, withheld_low, withheld_high)
        for total, members in _margin_equations(keys, table.dimensions, table.margins):
            for column in table.counts:
                vs = ids[column]
                if vs[total] < 0 or any(vs[m] < 0 for m in members):
                    continue
                truth = self.truth
                if truth[vs[total]] != sum(truth[vs[m]] or 0 for m in members):
                    continue  # not a sum: a computed count (a base copied from its total), or rows left out
                if vs[total] in (vs[m] for m in members):
                    # a total of the same records as one member (the others empty): merging them is the audit's
                    # knowledge, not an intruder's, and would pin the empty members to 0
                    continue
                self.equations.append((vs[total], [vs[m] for m in members]))

    # --- the previous snapshot: differencing ----------------------------------------------------------------------

    def _add_previous(self, previous: Previous) -> None:
        withheld = self.rules.withheld_range() if previous.withheld_bounded else (0, math.inf)
        for old in previous.tables:
            current = self.tables.get(old.id)
            if current is None or current.dimensions != old.dimensions or current.counts != old.counts:
                continue
            keys = [tuple(str(row[d]) for d in old.dimensions) for row in old.rows]
            ids: dict[str, list[int]] = {}
            for column in old.counts:
                ids[column] = []
                for key, row in zip(keys, old.rows, strict=True):
                    shown = row.get(column)
                    if shown is None or shown == "":
                        ids[column].append(-1)
                        continue
                    low = 1.0 if column in old.nonzero else 0.0
                    v = self._new(BEFORE, f"previous {old.id} {list(key)} {column}", None, low, math.inf)
                    if isinstance(shown, str):  # a code
                        small = shown == self.rules.code and old.bounded_when_withheld(row, column, self.rules.code)
                        self._bound(v, *(withheld if small else (0, math.inf)))
                    elif previous.exact:
                        self._bound(v, float(shown), float(shown))
                    else:
                        self._bound(v, *preimage(int(shown), self.rules.perturbation))
                    ids[column].append(v)
                    if (after := self.at.get((old.id, key, column))) is not None:
                        self._difference(after, v, previous.change, f"{old.id} {list(key)} {column}")
            for total, members in _margin_equations(keys, old.dimensions, old.margins):
                for column in filter(old.summed, old.counts):
                    vs = ids[column]
                    if vs[total] >= 0 and all(vs[m] >= 0 for m in members):
                        self.equations.append((vs[total], [vs[m] for m in members]))

    def _difference(self, after: int, before: int, change: int, name: str) -> None:
        """The change of one count between the two snapshots: a contribution of the batches added or taken out."""
        low = 0.0 if change != 0 else -math.inf
        d = self._new(CHANGE, f"change of {name}", None, low, math.inf)
        if change >= 0:
            self.equations.append((after, [before, d]))  # after = before + what was added (or, 0: changed)
        else:
            self.equations.append((before, [after, d]))  # before = after + what was taken out

    # --- solving ------------------------------------------------------------------------------------------------

    def components(self) -> list[tuple[list[int], list[int]]]:
        """The connected components that hold an equation: (variables, equation indices)."""
        parent = list(range(len(self.kind)))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for total, members in self.equations:
            for m in members:
                parent[find(m)] = find(total)
        groups: dict[int, list[int]] = defaultdict(list)
        for e, (total, _) in enumerate(self.equations):
            groups[find(total)].append(e)
        return [
            (sorted({v for e in eqs for v in (self.equations[e][0], *self.equations[e][1])}), eqs)
            for _, eqs in sorted(groups.items())
        ]

    def neighbours(self) -> dict[int, set[int]]:
        """The variables tied to each variable by an equation."""
        tied: dict[int, set[int]] = defaultdict(set)
        for total, members in self.equations:
            group = {total, *members}
            for x in group:
                tied[x] |= group - {x}
        return tied


def _margin_equations(
    keys: Sequence[tuple[str, ...]], dimensions: Sequence[str], margins: Sequence[str]
) -> list[tuple[int, list[int]]]:
    """(total row, member rows) of a table: along each margin, a row with 'all' there is the sum of the rows equal
    to it elsewhere (when there are any; the rows left out are zero)."""
    row_of = {key: pos for pos, key in enumerate(keys)}
    found = []
    for k, dim in enumerate(dimensions):
        if dim not in margins:
            continue
        members: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for pos, key in enumerate(keys):
            if key[k] != ALL:
                members[key[:k] + key[k + 1 :]].append(pos)
        for rest, positions in sorted(members.items()):
            total = row_of.get((*rest[:k], ALL, *rest[k:]))
            if total is not None:
                found.append((total, positions))
    return found


def _is_tree(variables: Sequence[int], equations: Sequence[tuple[int, list[int]]]) -> bool:
    """Whether the equations, each over distinct variables, form a tree with the variables (no cycle): then bounds
    propagated along them are the exact ranges."""
    incidences = 0
    for total, members in equations:
        if len({total, *members}) != len(members) + 1:
            return False
        incidences += len(members) + 1
    return incidences == len(variables) + len(equations) - 1


def _propagate(
    equations: Sequence[tuple[int, list[int]]], low: dict[int, float], high: dict[int, float]
) -> dict[int, tuple[float, float]]:
    """Every variable's range under sums `total = members` and its own bounds, by narrowing each from the others'
    until nothing moves (exact on a tree of sums; all bounds whole numbers or infinite)."""
    lo, hi = dict(low), dict(high)
    moved = True
    while moved:
        moved = False
        for total, members in equations:
            new = {total: (max(lo[total], sum(lo[m] for m in members)), min(hi[total], sum(hi[m] for m in members)))}
            for m in members:
                others_lo = sum(lo[o] for o in members if o != m)  # summed apart: inf - inf would be nan
                others_hi = sum(hi[o] for o in members if o != m)
                new[m] = (max(lo[m], lo[total] - others_hi), min(hi[m], hi[total] - others_lo))
            for v, (a, b) in new.items():
                if a > b:  # no solution (never on the truth): no bound to tell, as linprog's infeasible
                    return dict.fromkeys(lo, (-math.inf, math.inf))
                if (a, b) != (lo[v], hi[v]):
                    lo[v], hi[v] = a, b
                    moved = True
    return {v: (lo[v], hi[v]) for v in lo}


def _ranges(model: _Model) -> tuple[dict[int, tuple[float, float]], int]:
    """The least and greatest value of every variable that is in an equation, over the integer solutions; and how
    many components had no solution at all (never, when the model holds on the truth: a fault of the model)."""
    low, high = np.array(model.low), np.array(model.high)
    found: dict[int, tuple[float, float]] = {}
    unsolved = 0
    for variables, eqs in model.components():
        if _is_tree(variables, [model.equations[e] for e in eqs]):
            ranges = _propagate(
                [model.equations[e] for e in eqs], {v: low[v] for v in variables}, {v: high[v] for v in variables}
            )
            unsolved += all(r == (-math.inf, math.inf) for r in ranges.values())
            found.update((v, r) for v, r in ranges.items() if model.kind[v] != BEFORE)
            continue
        col = {v: j for j, v in enumerate(variables)}
        a = np.zeros((len(eqs), len(variables)))
        for i, e in enumerate(eqs):
            total, members = model.equations[e]
            a[i, col[total]] += 1
            for m in members:
                a[i, col[m]] -= 1
        lb, ub = low[variables], high[variables]
        box = [(None if math.isinf(lo) else lo, None if math.isinf(hi) else hi) for lo, hi in zip(lb, ub, strict=True)]
        a = sparse.csr_array(a)
        rhs = np.zeros(len(eqs))
        first = linprog(np.zeros(len(variables)), A_eq=a, b_eq=rhs, bounds=box, method="highs")
        if first.status == 2:
            unsolved += 1  # no bound can be told: the model does not hold here
            continue
        # whole-number solutions found so far: one at a variable's own bound gives that end without a program
        solutions = [first.x] if first.status == 0 and _whole(first.x) else []
        for j, v in enumerate(variables):
            if model.kind[v] == BEFORE:
                continue  # published already: what it gives away is the previous audit's business
            c = np.zeros(len(variables))
            ends, whole = [], True
            for sign in (1, -1):
                own = lb[j] if sign == 1 else ub[j]
                if math.isfinite(own) and any(abs(x[j] - own) < EPS for x in solutions):
                    ends.append(own)
                    continue
                c[j] = sign
                res = linprog(c, A_eq=a, b_eq=rhs, bounds=box, method="highs")
                # unbounded (status 3): no bound that way
                ends.append(sign * res.fun if res.status == 0 else -sign * math.inf)
                # an optimum at a whole-number solution is the integer optimum too
                if res.status == 0 and _whole(res.x):
                    solutions.append(res.x)
                else:
                    whole &= res.status != 0
            lo = math.ceil(ends[0] - EPS) if math.isfinite(ends[0]) else ends[0]
            hi = math.floor(ends[1] + EPS) if math.isfinite(ends[1]) else ends[1]
            if hi - lo < NARROW and not whole:
                lo, hi = _integer_range(a.toarray(), lb, ub, j, (lo, hi))
            found[v] = (lo, hi)
    return found, unsolved


def _whole(x: np.ndarray) -> bool:
    """Whether a solution is made of whole numbers."""
    return bool(np.all(np.abs(x - np.round(x)) < EPS))


def _integer_range(
    a: np.ndarray, lb: np.ndarray, ub: np.ndarray, j: int, linear: tuple[float, float]
) -> tuple[float, float]:
    """The variable's range over whole-number solutions (an integer program each way)."""
    constraint = LinearConstraint(a, 0, 0)
    ends = []
    for sign in (1, -1):
        c = np.zeros(a.shape[1])
        c[j] = sign
        res = milp(c, constraints=constraint, bounds=Bounds(lb, ub), integrality=np.ones(a.shape[1]))
        ends.append(round(sign * res.fun) if res.status == 0 else linear[0 if sign == 1 else 1])
    return ends[0], ends[1]


def exposed(lo: float, hi: float, smallest: int, signed: bool = False) -> bool:
    """Whether an intruder's range discloses a count: one value, or within 1 .. smallest - 1 (a change, signed:
    one value other than 0, or within 1 .. smallest - 1 children either way)."""
    if signed:
        return (lo == hi != 0) or 1 <= lo <= hi <= smallest - 1 or -(smallest - 1) <= lo <= hi <= -1
    return lo == hi or (lo >= 1 and hi <= smallest - 1)


def withhold(protected: pd.DataFrame, pos: int, column: str, depends: Mapping[str, Sequence[str]]) -> None:
    """Withhold one count of one row of a protected table, and every value computed from it."""
    current = protected[WITHHELD].iloc[pos]
    more = [column, *(v for v, needs in depends.items() if column in needs)]
    protected.iat[pos, protected.columns.get_loc(WITHHELD)] = tuple(dict.fromkeys((*current, *more)))
    protected.iat[pos, protected.columns.get_loc("unstable")] = False


def _nearest_shown(model: _Model, v: int) -> int | None:
    """The variable to withhold for a disclosed one: itself when this snapshot shows it, else the nearest shown count
    of this snapshot tied to it by totals (the smallest first)."""
    tied = model.neighbours()
    seen, frontier = {v}, [v]
    while frontier:
        shown = [x for x in frontier if model.kind[x] == CURRENT and model.shown(x)]
        if shown:
            return min(shown, key=lambda x: (model.truth[x], x))
        nxt = sorted({y for x in frontier for y in tied[x]} - seen)
        seen |= set(nxt)
        frontier = nxt
    return None


def audit(
    tables: Sequence[AuditTable],
    depends: Mapping[str, Mapping[str, Sequence[str]]],
    rules: DisclosureRules,
    previous: Previous | None = None,
) -> AuditResult:
    """Attack the protected tables jointly (and against the previous snapshot's) and withhold what the attack
    narrows too far, until nothing is; the protected tables are changed in place. depends: per table, the values
    computed from each count."""
    result = AuditResult()
    smallest = rules.perturbation.smallest_published
    while True:
        model = _Model(tables, rules, previous)
        ranges, unsolved = _ranges(model)
        result.rounds += 1
        if unsolved:
            log.warning(
                "the disclosure audit found %d group(s) of counts its model does not fit: fix the model", unsolved
            )
        if result.rounds == 1:
            result.unsolved = unsolved
            result.variables = sum(k == CURRENT for k in model.kind)
            result.equations = len(model.equations)
            result.differenced = sum(k == CHANGE for k in model.kind)
        disclosed = [
            v
            for v, (lo, hi) in sorted(ranges.items())
            if model.kind[v] != BEFORE and exposed(lo, hi, smallest, signed=model.kind[v] == CHANGE)
        ]
        # a count tied to nothing shown is pinned only by what the audit knows and an intruder does not (which
        # withheld places hold the same records): no published figure gives it away
        targets = [(v, target) for v in disclosed if (target := _nearest_shown(model, v)) is not None]
        if result.rounds == 1:
            result.narrowed = [model.names[v] for v, _ in targets]
        if not targets:
            return result
        for table_id, pos, column in model.shown(targets[0][1]):
            withhold(model.tables[table_id].protected, pos, column, depends.get(table_id, {}))
            result.withheld.append((table_id, pos, column))
