"""Disclosure control (tasks/disclosure.py): the rules load and validate, small non-zero counts are hidden (5, or
10 in tables of three dimensions), secondary suppression leaves no hidden cell that an attacker could work out
from the totals (checked here by a subtraction attack and an exact rank test written independently of the
module), zeros and totals are hidden only as a last resort, cells hidden in the previous snapshot stay hidden
unless they were small and have grown, small bases are flagged, published tables carry codes instead of values,
and the result does not depend on the row order."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pop import paths
from tasks.snapshot.disclosure import (
    ALL,
    DisclosureError,
    DisclosureRules,
    constraints,
    derivable,
    load_rules,
    primary,
    protect,
    published,
)

RULES = load_rules()
DIMS = ["region", "age"]


def grid(cells: list[list[int]], base: list[list[int]] | None = None) -> pd.DataFrame:
    """A 2-D table of cases (and base) with its row totals, column totals and grand total as "all" rows."""
    x = np.array(cells, dtype=int)
    b = np.array(base, dtype=int) if base is not None else None
    n_rows, n_cols = x.shape
    records = []
    for i in range(n_rows + 1):
        for j in range(n_cols + 1):
            rows = slice(None) if i == n_rows else i
            cols = slice(None) if j == n_cols else j
            record = {
                "region": ALL if i == n_rows else f"r{i}",
                "age": ALL if j == n_cols else f"a{j}",
                "cases": int(x[rows, cols].sum()),
            }
            if b is not None:
                record["base"] = int(b[rows, cols].sum())
            records.append(record)
    return pd.DataFrame(records)


def cube(cells: np.ndarray) -> pd.DataFrame:
    """A 3-D table of cases with every margin (totals over any set of dimensions) as "all" rows."""
    shape = cells.shape
    records = []
    for index in itertools.product(*(range(n + 1) for n in shape)):
        where = tuple(slice(None) if k == n else k for k, n in zip(index, shape, strict=True))
        records.append(
            {
                "a": ALL if index[0] == shape[0] else f"a{index[0]}",
                "b": ALL if index[1] == shape[1] else f"b{index[1]}",
                "c": ALL if index[2] == shape[2] else f"c{index[2]}",
                "cases": int(cells[where].sum()),
            }
        )
    return pd.DataFrame(records)


def hidden_keys(out: pd.DataFrame, dims: list[str]) -> dict[tuple[str, ...], str]:
    """The hidden cells of a protected table as dimension key -> code."""
    rows = out[out["disclosure"].notna()]
    return {tuple(key): code for key, code in zip(rows[dims].itertuples(index=False), rows["disclosure"], strict=True)}


def code_at(out: pd.DataFrame, **key: str) -> str | None:
    """The disclosure code of the row with these dimension values."""
    mask = np.logical_and.reduce([out[d] == v for d, v in key.items()])
    assert mask.sum() == 1
    return out.loc[mask, "disclosure"].iloc[0]


# --- an attacker, written independently of the module ------------------------------------------------------


def lines_of(shape: tuple[int, ...]) -> list[tuple[tuple[int, ...], list[tuple[int, ...]]]]:
    """Every additive line of a fully margined table: (total cell, member cells), cells as index tuples where
    index n in a dimension of size n is "all"."""
    equations = []
    for cell in itertools.product(*(range(n + 1) for n in shape)):
        for k, n in enumerate(shape):
            if cell[k] == n:
                equations.append((cell, [(*cell[:k], i, *cell[k + 1 :]) for i in range(n)]))
    return equations


def present_lines(shape: tuple[int, ...], present: set) -> list:
    """The lines of a table that lacks some rows: a total that is present, over its members that are present."""
    return [
        (total, [m for m in members if m in present])
        for total, members in lines_of(shape)
        if total in present and any(m in present for m in members)
    ]


def subtraction_attack(hidden: set, equations: list) -> set:
    """The hidden cells an attacker recovers by repeatedly solving lines with a single unknown cell."""
    unknown = set(hidden)
    recovered: set = set()
    progress = True
    while progress:
        progress = False
        for total, members in equations:
            missing = [c for c in (total, *members) if c in unknown]
            if len(missing) == 1:
                unknown.discard(missing[0])
                recovered.add(missing[0])
                progress = True
    return recovered


def exact_rank(matrix: list[list[int]]) -> int:
    """The rank of an integer matrix by fraction-free Gaussian elimination (exact)."""
    rows = [row[:] for row in matrix if any(row)]
    rank = 0
    n_cols = len(rows[0]) if rows else 0
    for col in range(n_cols):
        pivot = next((r for r in range(rank, len(rows)) if rows[r][col]), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        head = rows[rank]
        for r in range(rank + 1, len(rows)):
            if factor := rows[r][col]:
                row = [head[col] * a - factor * b for a, b in zip(rows[r], head, strict=True)]
                divisor = math.gcd(*row)
                rows[r] = [a // divisor for a in row] if divisor > 1 else row
        rank += 1
    return rank


def rank_attack(hidden: set, equations: list) -> set:
    """The hidden cells fixed by the lines: removing the cell's column lowers the rank of the hidden-cell matrix
    (the published cells are known constants and drop out)."""
    cells = sorted(hidden)
    matrix = []
    for total, members in equations:
        row = [1 if cell == total else -1 if cell in members else 0 for cell in cells]
        if any(row):
            matrix.append(row)
    if not matrix:
        return set()
    full = exact_rank(matrix)
    return {cell for k, cell in enumerate(cells) if exact_rank([row[:k] + row[k + 1 :] for row in matrix]) < full}


def index_of(key: tuple[str, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index tuple of a dimension key like ("r1", "all")."""
    return tuple(n if v == ALL else int(v[1:]) for v, n in zip(key, shape, strict=True))


# --- rules --------------------------------------------------------------------------------------------------


def test_rules_load_with_their_parameters_and_labels() -> None:
    assert (RULES.min_count, RULES.min_count_detailed, RULES.detailed_dimensions, RULES.unstable_base) == (5, 10, 3, 20)
    assert (RULES.primary_code, RULES.secondary_code, RULES.carried_code, RULES.unstable_code) == (
        "[c]",
        "[s]",
        "[k]",
        "[u]",
    )
    assert RULES.threshold(1) == RULES.threshold(2) == 5 and RULES.threshold(3) == RULES.threshold(4) == 10
    assert "fewer than 5 cases" in RULES.labels["[c]"] and "10" in RULES.labels["[c]"]
    assert "20" in RULES.labels["[u]"]
    metadata = RULES.as_metadata()
    assert json.loads(json.dumps(metadata)) == metadata == load_rules(paths.DISCLOSURE_FILE).as_metadata()
    assert metadata["parameters"] == {
        "min_count": 5,
        "min_count_detailed": 10,
        "detailed_dimensions": 3,
        "unstable_base": 20,
    }
    assert metadata["missing_values"] == ["[c]", "[s]", "[k]"]
    assert set(metadata["labels"]) == {"[c]", "[s]", "[k]", "[u]"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"min_count_detailed": 3}, "min_count_detailed"),
        ({"min_count": 0}, "min_count must be a whole number"),
        ({"unstable_base": "twenty"}, "unstable_base"),
        ({"codes": {"primary": "[c]", "secondary": "[c]", "carried": "[k]"}}, "must all differ"),
        ({"codes": {"primary": "5", "secondary": "[s]", "carried": "[k]"}}, "number"),
        ({"codes": {"primary": "[c]", "secondary": "[s]"}}, "codes must map exactly"),
        ({"labels": {"[c]": "small", "[s]": "secondary", "[k]": "carried"}}, "missing: [u]"),
        ({"labels": {"[c]": "fewer than {threshold}", "[s]": "s", "[k]": "k", "[u]": "u"}}, "placeholder"),
        ({"min_cuont": 5}, "field min_cuont: Extra inputs are not permitted"),
    ],
)
def test_rules_that_cannot_be_used_say_what_to_fix(tmp_path: Path, change: dict, message: str) -> None:
    raw = yaml.safe_load(paths.DISCLOSURE_FILE.read_text()) | change
    path = tmp_path / "disclosure.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(DisclosureError) as error:
        load_rules(path)
    assert message in str(error.value)
    with pytest.raises(DisclosureError, match=r"absent\.yaml not found"):
        load_rules(tmp_path / "absent.yaml")


# --- primary suppression and the equations ---------------------------------------------------------------


def test_primary_hides_small_non_zero_counts_below_the_threshold() -> None:
    table = pd.DataFrame(
        {"age": ["a", "b", "c", "d", "e", "f"], "cases": [4, 5, 0, 1, 12, 6], "base": [30, 40, 0, 9, 3, np.nan]}
    )
    assert primary(table, ["age"], ["cases"], RULES).tolist() == [True, False, False, True, False, False]
    # any small non-zero count hides the cell: the base 3 of row e too; a missing base is no count
    assert primary(table, ["age"], ["cases", "base"], RULES).tolist() == [True, False, False, True, True, False]
    detailed = pd.DataFrame({"a": ["x"] * 4, "b": ["y"] * 4, "c": ["1", "2", "3", "4"], "cases": [9, 10, 0, 5]})
    assert primary(detailed, ["a", "b", "c"], ["cases"], RULES).tolist() == [True, False, False, True]
    with pytest.raises(DisclosureError, match="non-negative whole numbers"):
        primary(table.assign(cases=[4, -1, 0, 1, 12, 6]), ["age"], ["cases"], RULES)


def test_constraints_are_the_margins_of_additive_dimensions() -> None:
    table = grid([[1, 2], [3, 4]])  # rows: r0 a0, r0 a1, r0 all, r1 ..., all a0, all a1, all all
    pos = {(r, a): k for k, (r, a) in enumerate(zip(table["region"], table["age"], strict=True))}
    equations = constraints(table, DIMS, DIMS)
    expected = {
        (pos["r0", ALL], (pos["r0", "a0"], pos["r0", "a1"])),
        (pos["r1", ALL], (pos["r1", "a0"], pos["r1", "a1"])),
        (pos[ALL, "a0"], (pos["r0", "a0"], pos["r1", "a0"])),
        (pos[ALL, "a1"], (pos["r0", "a1"], pos["r1", "a1"])),
        (pos[ALL, ALL], (pos["r0", ALL], pos["r1", ALL])),
        (pos[ALL, ALL], (pos[ALL, "a0"], pos[ALL, "a1"])),
    }
    assert len(equations) == 6 and {(m, tuple(members)) for m, members in equations} == expected
    # a dimension that is not additive (multi-select answers) gives no equation; a missing total gives none
    assert {m for m, _ in constraints(table, DIMS, ["age"])} == {pos["r0", ALL], pos["r1", ALL], pos[ALL, ALL]}
    without = table[~((table["region"] == "r1") & (table["age"] == ALL))].reset_index(drop=True)
    assert len(constraints(without, DIMS, DIMS)) == 5
    with pytest.raises(DisclosureError, match="more than one row"):
        constraints(pd.concat([table, table.head(1)]), DIMS, DIMS)
    with pytest.raises(DisclosureError, match="no column"):
        protect(table, DIMS, DIMS, ["children"], RULES)
    with pytest.raises(DisclosureError, match="not among the dimensions"):
        constraints(table, DIMS, ["sex"])


def test_derivable_finds_cells_fixed_by_combinations_of_lines() -> None:
    table = grid([[10 + 4 * i + j for j in range(4)] for i in range(4)])
    keys = list(zip(table["region"], table["age"], strict=True))
    pos = {key: k for k, key in enumerate(keys)}
    equations = constraints(table, DIMS, DIMS)
    rectangle = {pos["r0", "a0"], pos["r0", "a1"], pos["r1", "a0"], pos["r1", "a1"]}
    assert derivable(rectangle, equations, len(table)) == set()  # a rectangle protects itself
    assert derivable({pos["r0", "a0"]}, equations, len(table)) == {pos["r0", "a0"]}
    # two rectangles joined by one cell: every line has two or three hidden cells, so subtracting within a line
    # recovers nothing, yet the joining cell is fixed by adding up the lines of the first rectangle
    second = {pos["r2", "a2"], pos["r2", "a3"], pos["r3", "a2"], pos["r3", "a3"]}
    bridge = pos["r1", "a2"]
    hidden = rectangle | second | {bridge}
    as_index = {index_of(keys[p], (4, 4)) for p in hidden}
    assert subtraction_attack(as_index, lines_of((4, 4))) == set()
    assert rank_attack(as_index, lines_of((4, 4))) == {(1, 2)}
    assert derivable(hidden, equations, len(table)) == {bridge}
    with pytest.raises(DisclosureError, match="outside"):
        derivable({len(table)}, equations, len(table))


def test_secondary_suppression_breaks_derivations_that_need_more_than_one_line() -> None:
    table = grid([[10 + 4 * i + j for j in range(4)] for i in range(4)])
    carried = {
        ("r0", "a0"): "[s]",
        ("r0", "a1"): "[s]",
        ("r1", "a0"): "[s]",
        ("r1", "a1"): "[s]",
        ("r2", "a2"): "[s]",
        ("r2", "a3"): "[s]",
        ("r3", "a2"): "[s]",
        ("r3", "a3"): "[s]",
        ("r1", "a2"): "[s]",
    }
    out = protect(table, DIMS, DIMS, ["cases"], RULES, carried=carried)
    codes = hidden_keys(out, DIMS)
    assert {key: codes[key] for key in carried} == dict.fromkeys(carried, "[k]")
    assert len(codes) > len(carried)  # at least one more cell hides the joining cell
    assert_safe(out, (4, 4), DIMS, 5)


# --- secondary suppression -------------------------------------------------------------------------------


def assert_safe(out: pd.DataFrame, shape: tuple[int, ...], dims: list[str], threshold: int) -> None:
    """No published cell is small, and neither attacker recovers a hidden cell."""
    shown = out[out["disclosure"].isna()]
    assert not ((shown["cases"] > 0) & (shown["cases"] < threshold)).any()
    hidden = {index_of(key, shape) for key in hidden_keys(out, dims)}
    present = {index_of(key, shape) for key in out[dims].itertuples(index=False)}
    equations = present_lines(shape, present)
    assert subtraction_attack(hidden, equations) == set()
    assert rank_attack(hidden, equations) == set()


def test_one_small_cell_forces_secondary_suppression_and_nothing_can_be_derived() -> None:
    table = grid([[3, 40, 50], [20, 30, 60], [25, 35, 45]])
    out = protect(table, DIMS, DIMS, ["cases"], RULES)
    codes = hidden_keys(out, DIMS)
    assert codes[("r0", "a0")] == "[c]"
    assert sorted(codes.values()) == ["[c]", "[s]", "[s]", "[s]"]  # a rectangle of four inner cells
    assert all(ALL not in key for key in codes)  # the totals stay published
    assert_safe(out, (3, 3), DIMS, 5)
    hidden = set(np.flatnonzero(out["disclosure"].notna()))
    assert derivable(hidden, constraints(out, DIMS, DIMS), len(out)) == set()
    # the smallest cells that close the rectangle: 20 (row r1) and 40 (column a1)
    assert {("r1", "a0"), ("r0", "a1"), ("r1", "a1")} <= set(codes)


def test_zero_cells_are_not_hidden_while_a_non_zero_cell_can_be() -> None:
    table = grid([[2, 0, 30, 41], [0, 0, 40, 12], [15, 0, 50, 0], [0, 7, 0, 9]])
    out = protect(table, DIMS, DIMS, ["cases"], RULES)
    # row r0 offers 0, 30 and 41 as partners, column a0 offers 0, 0 and 15: the smallest non-zero are taken
    assert hidden_keys(out, DIMS) == {
        ("r0", "a0"): "[c]",
        ("r0", "a2"): "[s]",
        ("r2", "a0"): "[s]",
        ("r2", "a2"): "[s]",
    }
    assert_safe(out, (4, 4), DIMS, 5)


def test_a_line_with_a_single_member_forces_its_total_to_be_hidden() -> None:
    # region r0 has a single age group: its total equals that cell, so hiding the cell means hiding the total
    table = pd.DataFrame(
        {
            "region": ["r0", "r0", "r1", "r1", "r1", "r2", "r2", "r2", ALL, ALL, ALL],
            "age": ["a0", ALL, "a0", "a1", ALL, "a0", "a1", ALL, "a0", "a1", ALL],
            "cases": [6, 6, 3, 40, 43, 20, 50, 70, 29, 90, 119],
        }
    )
    out = protect(table, DIMS, DIMS, ["cases"], RULES)
    assert code_at(out, region="r1", age="a0") == "[c]"
    assert code_at(out, region="r0", age="a0") == "[s]"  # the smallest partner in column a0
    assert code_at(out, region="r0", age=ALL) == "[s]"  # total = its only member
    hidden = set(np.flatnonzero(out["disclosure"].notna()))
    assert derivable(hidden, constraints(out, DIMS, DIMS), len(out)) == set()
    shown = out[out["disclosure"].isna()]
    assert not ((shown["cases"] > 0) & (shown["cases"] < 5)).any()


def test_one_small_cell_of_a_three_way_table_is_protected_by_a_cube() -> None:
    cells = np.arange(40, 40 + 27).reshape(3, 3, 3)
    cells[1, 2, 0] = 4  # below 10: three dimensions
    out = protect(cube(cells), ["a", "b", "c"], ["a", "b", "c"], ["cases"], RULES)
    codes = hidden_keys(out, ["a", "b", "c"])
    assert codes[("a1", "b2", "c0")] == "[c]" and sorted(codes.values()).count("[s]") == 7
    corners = [set(level) for level in zip(*codes, strict=True)]
    assert all(len(levels) == 2 for levels in corners)  # 2 x 2 x 2
    assert all(ALL not in key for key in codes)
    assert_safe(out, (3, 3, 3), ["a", "b", "c"], 10)


def test_a_one_way_table_hides_the_next_smallest_member() -> None:
    table = pd.DataFrame({"age": ["a0", "a1", "a2", "a3", ALL], "cases": [30, 2, 12, 0, 44]})
    out = protect(table, ["age"], ["age"], ["cases"], RULES)
    assert hidden_keys(out, ["age"]) == {("a1",): "[c]", ("a2",): "[s]"}
    assert_safe(out, (4,), ["age"], 5)


def test_only_the_dimensions_named_as_margins_are_additive() -> None:
    # multi-select answers: the "all" row of `answer` is not their sum, so hiding one answer needs no partner there
    table = pd.DataFrame(
        {
            "region": ["r0", "r0", "r0", "r1", "r1", "r1", ALL, ALL, ALL],
            "answer": ["x", "y", ALL, "x", "y", ALL, "x", "y", ALL],
            "cases": [3, 40, 41, 20, 30, 45, 23, 70, 86],
        }
    )
    out = protect(table, [*DIMS[:1], "answer"], ["region"], ["cases"], RULES)
    codes = hidden_keys(out, ["region", "answer"])
    assert codes == {("r0", "x"): "[c]", ("r1", "x"): "[s]"}  # protected within its region line only
    hidden = set(np.flatnonzero(out["disclosure"].notna()))
    assert derivable(hidden, constraints(out, ["region", "answer"], ["region"]), len(out)) == set()


# --- carried cells ---------------------------------------------------------------------------------------


def test_cells_hidden_in_the_previous_snapshot_stay_hidden_unless_they_were_small_and_grew() -> None:
    table = grid([[70, 40, 50, 33], [3, 30, 60, 41], [25, 35, 45, 52], [60, 61, 62, 7]])
    previous = {
        ("r3", "a3"): "[c]",  # was small, now 7: may be shown
        ("r1", "a0"): "[c]",  # was small, still 3: hidden as small
        ("r2", "a2"): "[s]",  # hidden to protect another cell: stays hidden
        ("r0", "a0"): "[k]",  # carried already: stays hidden
        ("r9", "a9"): "[c]",
    }  # no longer in the table: ignored
    out = protect(table, DIMS, DIMS, ["cases"], RULES, carried=previous)
    assert code_at(out, region="r3", age="a3") in (None, "[s]")  # not carried; hidden only as a partner
    assert code_at(out, region="r1", age="a0") == "[c]"
    assert code_at(out, region="r2", age="a2") == "[k]"
    assert code_at(out, region="r0", age="a0") == "[k]"
    assert_safe(out, (4, 4), DIMS, 5)
    # alone in its table, the grown cell is shown
    grown = grid([[7, 40], [30, 60]])
    assert hidden_keys(protect(grown, DIMS, DIMS, ["cases"], RULES, carried={("r0", "a0"): "[c]"}), DIMS) == {}
    # a previously small cell that is now zero has not grown: it stays hidden
    zero = grid([[0, 40, 50], [20, 30, 60], [25, 35, 45]])
    assert (
        code_at(protect(zero, DIMS, DIMS, ["cases"], RULES, carried={("r0", "a0"): "[c]"}), region="r0", age="a0")
        == "[k]"
    )
    # the previous code may be given by kind; a bare set of keys (codes unknown) keeps them all hidden
    assert (
        code_at(protect(grown, DIMS, DIMS, ["cases"], RULES, carried={("r0", "a0"): "primary"}), region="r0", age="a0")
        is None
    )
    kept = protect(grown, DIMS, DIMS, ["cases"], RULES, carried={("r0", "a0")})
    assert code_at(kept, region="r0", age="a0") == "[k]"
    assert_safe(kept, (2, 2), DIMS, 5)


def test_a_carried_cell_grown_in_cases_but_not_in_base_stays_hidden() -> None:
    table = grid([[7, 40], [30, 60]], base=[[4, 80], [90, 100]])
    out = protect(table, DIMS, DIMS, ["cases", "base"], RULES, carried={("r0", "a0"): "[c]"})
    assert code_at(out, region="r0", age="a0") == "[c]"  # its base 4 is small now


# --- unstable rates and the published table -------------------------------------------------------------


def test_rates_on_twenty_or_fewer_cases_are_flagged_unstable() -> None:
    table = pd.DataFrame(
        {"age": ["a", "b", "c", "d", "e", "f"], "cases": [6, 6, 0, 3, 20, 21], "base": [20, 21, 0, 15, np.nan, np.nan]}
    )
    out = protect(table, ["age"], [], ["cases", "base"], RULES)
    assert out["unstable"].tolist() == [True, False, False, False, True, False]  # d is hidden, not flagged
    assert code_at(out, age="d") == "[c]"


def test_published_tables_carry_a_code_in_every_hidden_value() -> None:
    table = grid([[3, 40, 50], [20, 30, 60], [25, 35, 45]], base=[[30, 80, 90], [40, 50, 100], [60, 61, 15]])
    table["rate"] = table["cases"] / table["base"]
    out = protect(table, DIMS, DIMS, ["cases", "base"], RULES)
    pub = published(out, ["rate"], RULES)
    assert list(pub.columns) == ["region", "age", "cases", "base", "rate", "flag"]
    hidden = out["disclosure"].notna()
    for column in ["cases", "base", "rate"]:
        assert (pub.loc[hidden, column] == out.loc[hidden, "disclosure"]).all()
        assert not pub[column].isna().any()
    shown = pub.loc[~hidden, ["cases", "base"]].astype(int)
    assert not ((shown > 0) & (shown < 5)).any().any()
    assert pub["flag"].tolist() == ["[u]" if u else "" for u in out["unstable"]]
    assert (pub["flag"] == "[u]").sum() == 1  # r2 a2: base 15
    assert set(pub.loc[hidden, "cases"]) <= {RULES.primary_code, RULES.secondary_code}
    with pytest.raises(DisclosureError, match="output of protect"):
        published(table, ["rate"], RULES)


# --- determinism ------------------------------------------------------------------------------------------


def test_the_same_input_gives_the_same_output_whatever_the_row_order() -> None:
    table = grid([[3, 40, 2, 50], [20, 1, 30, 60], [25, 35, 45, 4], [9, 8, 7, 6]])
    before = table.copy()
    first = protect(table, DIMS, DIMS, ["cases"], RULES)
    pd.testing.assert_frame_equal(table, before)  # the input is left alone
    pd.testing.assert_frame_equal(first, protect(table, DIMS, DIMS, ["cases"], RULES))
    for seed in range(5):
        shuffled = table.sample(frac=1, random_state=seed)
        again = protect(shuffled, DIMS, DIMS, ["cases"], RULES)
        assert list(again.index) == list(shuffled.index)
        assert hidden_keys(again, DIMS) == hidden_keys(first, DIMS)


# --- properties ---------------------------------------------------------------------------------------------

COUNT = st.one_of(st.integers(0, 6), st.integers(0, 40))


@st.composite
def tables_2d(draw: st.DrawFn) -> list[list[int]]:
    """A 2-6 x 2-6 grid of counts with many small values."""
    n_rows, n_cols = draw(st.integers(2, 6)), draw(st.integers(2, 6))
    return [[draw(COUNT) for _ in range(n_cols)] for _ in range(n_rows)]


@settings(max_examples=200, deadline=None)
@given(tables_2d())
def test_no_hidden_cell_of_a_2d_table_can_be_worked_out(cells: list[list[int]]) -> None:
    table = grid(cells)
    out = protect(table, DIMS, DIMS, ["cases"], RULES)
    small = (table["cases"] > 0) & (table["cases"] < 5)
    assert (out.loc[small, "disclosure"] == "[c]").all()
    assert out.loc[~small, "disclosure"].isin([None, "[s]"]).all()
    assert_safe(out, (len(cells), len(cells[0])), DIMS, 5)


@settings(max_examples=100, deadline=None)
@given(tables_2d(), st.data())
def test_tables_with_missing_rows_are_protected_too(cells: list[list[int]], data: st.DataObject) -> None:
    """Rows a table can lack and still add up, as an indicator's GROUP BY leaves them out: cells with no cases,
    totals of no cases included. (A total with cases is never missing: margins are generated from the cells. A
    table that lacks one is inconsistent, and what an attacker derives from it is a wrong value, not a disclosure.)"""
    full = grid(cells)
    can_lack = [p for p, r in enumerate(full.itertuples()) if r.cases == 0]
    dropped = data.draw(st.sets(st.sampled_from(can_lack), max_size=4)) if can_lack else set()
    table = full.drop(index=sorted(dropped)).reset_index(drop=True)
    out = protect(table, DIMS, DIMS, ["cases"], RULES)
    assert_safe(out, (len(cells), len(cells[0])), DIMS, 5)


@settings(max_examples=200, deadline=None)
@given(tables_2d(), st.data())
def test_derivable_agrees_with_an_exact_rank_test(cells: list[list[int]], data: st.DataObject) -> None:
    table = grid(cells)
    shape = (len(cells), len(cells[0]))
    positions = data.draw(st.sets(st.integers(0, len(table) - 1), max_size=len(table)))
    keys = list(zip(table["region"], table["age"], strict=True))
    expected = rank_attack({index_of(keys[p], shape) for p in positions}, lines_of(shape))
    found = derivable(positions, constraints(table, DIMS, DIMS), len(table))
    assert {index_of(keys[p], shape) for p in found} == expected


@settings(max_examples=100, deadline=None)
@given(
    st.tuples(st.integers(2, 3), st.integers(2, 3), st.integers(2, 3)).flatmap(
        lambda shape: st.lists(
            st.one_of(st.integers(0, 12), st.integers(0, 40)), min_size=math.prod(shape), max_size=math.prod(shape)
        ).map(lambda values: np.array(values).reshape(shape))
    )
)
def test_no_hidden_cell_of_a_3d_table_can_be_worked_out(cells: np.ndarray) -> None:
    table = cube(cells)
    out = protect(table, ["a", "b", "c"], ["a", "b", "c"], ["cases"], RULES)
    small = (table["cases"] > 0) & (table["cases"] < 10)
    assert (out.loc[small, "disclosure"] == "[c]").all()
    assert_safe(out, cells.shape, ["a", "b", "c"], 10)


def test_rules_object_is_plain_data() -> None:
    rules = DisclosureRules(
        min_count=3,
        min_count_detailed=3,
        detailed_dimensions=2,
        unstable_base=10,
        codes={"primary": "c", "secondary": "s", "carried": "k"},
        labels={"c": "small", "s": "secondary", "k": "carried", "u": "unstable"},
        unstable_code="u",
    )
    table = grid([[2, 40], [30, 60]])
    out = protect(table, DIMS, DIMS, ["cases"], rules)
    assert code_at(out, region="r0", age="a0") == "c"
    assert rules.threshold(2) == 3
