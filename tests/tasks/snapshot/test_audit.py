"""The snapshot's own intruder (tasks/snapshot/audit.py): a total and its members whose noises lie at opposite
extremes pin a count; the audit finds it and withholds it (with what is computed from it), and then nothing can
be narrowed; a withheld small count that the others pin into 1-4 gets a published neighbour withheld; tables that
give nothing away are left as they are."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.snapshot.audit import (
    AuditResult,
    AuditTable,
    _integer_range,
    _is_tree,
    _Model,
    _propagate,
    _ranges,
    audit,
    exposed,
)
from tasks.snapshot.disclosure import WITHHELD, load_rules, protect
from tasks.snapshot.ptable import perturb

RULES = load_rules()
P = RULES.perturbation


def noise(n: int, key: int) -> int:
    return int(perturb(np.array([n]), np.array([key]), P)[0]) - n


def table(counts: list[int], keys: list[int]) -> pd.DataFrame:
    """A one-way table of members and their total row, with cell keys (the total's key is the members' sum)."""
    frame = pd.DataFrame(
        {"region": [f"r{i}" for i in range(len(counts))], "cases": counts, "cases_key": keys}, dtype=object
    )
    total = pd.DataFrame({"region": ["all"], "cases": [sum(counts)], "cases_key": [sum(keys)]}, dtype=object)
    out = pd.concat([frame, total], ignore_index=True)
    return out.assign(cases=out.cases.astype(int), cases_key=out.cases_key.astype(int))


def audited(cells: pd.DataFrame) -> tuple[pd.DataFrame, AuditResult]:
    depends = {"value": ("cases",)}
    protected = protect(cells, ["cases"], {"cases": "cases_key"}, depends, RULES)
    protected["value"] = protected["cases"]
    result = audit([AuditTable("t", ("region",), ("region",), ("cases",), cells, protected)], {"t": depends}, RULES)
    return protected, result


def key_with_noise(n: int, wanted: int) -> int | None:
    """A cell key that gives count n the noise wanted (the first), or None."""
    return next((k for k in range(256) if noise(n, k) == wanted), None)


def pinned_case() -> tuple[list[int], list[int]]:
    """Two members perturbed up by the largest noise and their total down by it: each member is then pinned to one
    value by the total. Searched over counts, as the extremes are rare (one key in 256 each), deterministic."""
    d = P.max_noise
    for n1, n2 in itertools.product(range(20, 200), repeat=2):
        k1, k2 = key_with_noise(n1, d), key_with_noise(n2, d)
        if k1 is not None and k2 is not None and noise(n1 + n2, k1 + k2) == -d:
            return [n1, n2], [k1, k2]
    raise AssertionError("no such counts")


def test_a_total_and_members_at_opposite_extremes_pin_a_count_and_the_audit_withholds_it() -> None:
    counts, keys = pinned_case()
    cells = table(counts, keys)
    # without the audit the intruder pins both members: n1 = T - n2 at the ends of their ranges
    protected = protect(cells, ["cases"], {"cases": "cases_key"}, {}, RULES)
    model = _Model([AuditTable("t", ("region",), ("region",), ("cases",), cells, protected)], RULES)
    ranges = _ranges(model)[0]
    assert sorted(lo for lo, hi in ranges.values() if lo == hi) == sorted([*counts, sum(counts)])
    # with it, a count is withheld and nothing is pinned any more
    protected, result = audited(cells)
    assert result.narrowed and result.withheld and result.rounds >= 2
    for table_id, pos, column in result.withheld:
        assert table_id == "t" and column in protected[WITHHELD].iloc[pos]
        assert "value" in protected[WITHHELD].iloc[pos] or column != "cases"
    model = _Model([AuditTable("t", ("region",), ("region",), ("cases",), cells, protected)], RULES)
    assert not any(exposed(lo, hi, P.smallest_published) for lo, hi in _ranges(model)[0].values())


def test_tables_that_give_nothing_away_are_left_as_they_are() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        counts = [int(c) for c in rng.integers(20, 400, size=4)]
        keys = [int(k) for k in rng.integers(0, 256, size=4) * np.array(counts)]
        cells = table(counts, keys)
        before = protect(cells, ["cases"], {"cases": "cases_key"}, {}, RULES)
        protected, result = audited(cells)
        if not result.narrowed:
            assert protected[WITHHELD].tolist() == before[WITHHELD].tolist() and result.rounds == 1
        assert result.variables == 5 and result.equations == 1


def test_a_withheld_small_count_pinned_into_1_to_4_gets_a_neighbour_withheld() -> None:
    """A member of 3 is withheld (perturbed below the threshold); when the total is low and the other member high
    at the extremes, the withheld count is narrowed into 1..4 until another count is withheld too."""
    d = P.max_noise
    k1 = next(k for k in range(256) if perturb(np.array([3]), np.array([k]), P)[0] == 0)
    for n2 in range(20, 3000):
        k2 = key_with_noise(n2, d)
        if k2 is not None and noise(n2 + 3, k1 + k2) <= 4 - 3 - d:  # the upper bound 3 + 2d + e_total - e_2 <= 4
            counts, keys = [3, n2], [k1, k2]
            break
    else:
        raise AssertionError("no such counts")
    cells = table(counts, keys)
    protected, result = audited(cells)
    assert result.narrowed, "the attack narrows the withheld 3 into 1..4"
    assert any(pos != 0 for _, pos, _ in result.withheld), "a published neighbour is withheld"
    model = _Model([AuditTable("t", ("region",), ("region",), ("cases",), cells, protected)], RULES)
    assert not any(exposed(lo, hi, P.smallest_published) for lo, hi in _ranges(model)[0].values())


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.data())
def test_bounds_propagated_along_a_tree_of_sums_are_the_integer_ranges(data: st.DataObject) -> None:
    """On a tree of sums (each total's members new variables) propagation gives what integer programming gives."""
    n_eq = data.draw(st.integers(1, 4))
    equations, count = [], 1
    for _ in range(n_eq):
        free = [v for v in range(count) if v not in {t for t, _ in equations}]
        total = data.draw(st.sampled_from(free))
        size = data.draw(st.integers(1, 3))
        equations.append((total, list(range(count, count + size))))
        count += size
    truth = {}

    def value(v: int) -> int:  # a true solution: members drawn, totals their sums (a member may be a total too)
        if v not in truth:
            sums = [members for t, members in equations if t == v]
            truth[v] = sum(value(m) for m in sums[0]) if sums else data.draw(st.integers(0, 30))
        return truth[v]

    for v in range(count):
        value(v)
    low = {v: float(max(0, truth[v] - data.draw(st.integers(0, 6)))) for v in range(count)}
    high = {
        v: float(truth[v] + data.draw(st.integers(0, 6))) if data.draw(st.booleans()) else math.inf
        for v in range(count)
    }
    assert _is_tree(list(range(count)), equations)
    propagated = _propagate(equations, low, high)
    a = np.zeros((len(equations), count))
    for i, (total, members) in enumerate(equations):
        a[i, total] = 1
        for m in members:
            a[i, m] = -1
    lb, ub = np.array([low[v] for v in range(count)]), np.array([high[v] for v in range(count)])
    for v in range(count):
        exact = _integer_range(a, lb, ub, v, (-math.inf, math.inf))
        assert propagated[v] == exact, (v, propagated[v], exact)
