"""The totals of an indicator, generated from its inner cells: which total rows exist, that they are the sums of
their members (the equations disclosure control relies on), and the values computed from those sums."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.snapshot.margins import MarginError, Totals, parse_formula, with_totals

ALL = "all"


def frame(columns: str, *rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns.split())


def keyed(cells: pd.DataFrame, dims: list[str], column: str) -> dict[tuple[str, ...], object]:
    """One column of the cells by dimension key (NaN as None)."""
    return {tuple(row[d] for d in dims): None if pd.isna(row[column]) else row[column] for _, row in cells.iterrows()}


SHARE = Totals(
    dimensions=("region", "country", "year"),
    margins=("region", "country"),
    nested=("region",),
    sums=("cases", "base"),
    computed=(parse_formula("value = cases / base"),),
    nonzero=("base",),
)


def test_a_nested_margin_is_totalled_only_with_the_others() -> None:
    inner = frame(
        "region country year cases base",
        ("Africa", "KEN", "2023", 3, 10),
        ("Africa", "UGA", "2023", 1, 10),
        ("Europe", "DEU", "2023", 2, 5),
        ("Europe", "FRA", "2023", 0, 0),  # no contacts: summed (nothing), not published
    )
    cells = with_totals(inner, SHARE)
    dims = ["region", "country", "year"]
    assert keyed(cells, dims, "cases") == {
        ("Africa", "KEN", "2023"): 3,
        ("Africa", "UGA", "2023"): 1,
        ("Europe", "DEU", "2023"): 2,
        ("Africa", ALL, "2023"): 4,
        ("Europe", ALL, "2023"): 2,
        (ALL, ALL, "2023"): 6,  # never (all, KEN, 2023): it would repeat (Africa, KEN, 2023)
    }
    assert keyed(cells, dims, "value")[(ALL, ALL, "2023")] == pytest.approx(6 / 25)
    assert keyed(cells, dims, "base")[("Europe", ALL, "2023")] == 5


def test_one_way_breakdowns_publish_each_margin_alone_and_never_the_cube() -> None:
    totals = Totals(
        dimensions=("country", "gender"),
        margins=("country", "gender"),
        one_way=("country", "gender"),
        sums=("cases", "base", "weighted_cases", "weighted_base"),
        computed=(parse_formula("value = weighted_cases / weighted_base"),),
    )
    inner = frame(
        "country gender cases base weighted_cases weighted_base",
        ("KEN", "girl", 1, 2, 0.5, 1.5),
        ("KEN", "boy", 1, 1, 2.0, 2.0),
        ("DEU", "girl", 0, 1, 0.0, 0.5),
    )
    cells = with_totals(inner, totals)
    assert keyed(cells, ["country", "gender"], "value") == pytest.approx(
        {
            ("KEN", ALL): 2.5 / 3.5,
            ("DEU", ALL): 0.0,
            (ALL, "girl"): 0.5 / 2.0,
            (ALL, "boy"): 1.0,
            (ALL, ALL): 2.5 / 4.0,
        }
    )
    assert keyed(cells, ["country", "gender"], "base")[(ALL, ALL)] == 4


def test_a_distribution_reads_its_base_on_the_total_row_and_attributes_are_null_on_totals() -> None:
    totals = Totals(
        dimensions=("reason", "gender"),
        margins=("reason",),
        sums=("cases",),
        computed=(parse_formula("base = cases[reason=all]"), parse_formula("value = cases / base")),
        nonzero=("base",),
    )
    inner = frame(
        "reason gender cases online",
        ("grooming", "girl", 1, "yes"),
        ("family", "girl", 3, "no"),
        ("family", "boy", 0, "no"),  # the boys' base is 0: none of their cells is published
    )
    cells = with_totals(inner, totals)
    dims = ["reason", "gender"]
    assert keyed(cells, dims, "base") == {("grooming", "girl"): 4, ("family", "girl"): 4, (ALL, "girl"): 4}
    assert keyed(cells, dims, "value") == pytest.approx(
        {("grooming", "girl"): 0.25, ("family", "girl"): 0.75, (ALL, "girl"): 1.0}
    )
    assert keyed(cells, dims, "online") == {("grooming", "girl"): "yes", ("family", "girl"): "no", (ALL, "girl"): None}


def test_a_division_by_zero_is_null_and_a_sum_of_nulls_is_null() -> None:
    totals = Totals(
        dimensions=("org", "year"),
        margins=("org",),
        sums=("cases", "base", "referrals"),
        computed=(parse_formula("value = cases / base"),),
    )
    inner = frame("org year cases base referrals", ("ngo", "2023", 0, 0, None), ("police", "2023", 0, 0, None))
    cells = with_totals(inner, totals)
    assert len(cells) == 3 and cells["value"].isna().all() and cells["referrals"].isna().all()


def test_with_every_dimension_a_margin_the_grand_total_is_one_row() -> None:
    totals = Totals(dimensions=("outcome",), margins=("outcome",), sums=("cases",))
    cells = with_totals(frame("outcome cases", ("helped", 2), ("not_helped", 1)), totals)
    assert keyed(cells, ["outcome"], "cases") == {("helped",): 2, ("not_helped",): 1, (ALL,): 3}
    assert with_totals(frame("outcome cases"), totals).empty


@pytest.mark.parametrize(
    "inner, message",
    [
        (frame("region country year cases base", ("Africa", ALL, "2023", 1, 2)), "return the inner cells only"),
        (frame("region country year cases base", *[("Africa", "KEN", "2023", 1, 2)] * 2), "same cell twice"),
        (frame("region country year cases", ("Africa", "KEN", "2023", 1)), "column\\(s\\) base"),
        (frame("region country year cases base value", ("Africa", "KEN", "2023", 1, 2, 0.5)), "computes on the"),
    ],
)
def test_cells_that_are_not_inner_cells_are_refused(inner: pd.DataFrame, message: str) -> None:
    with pytest.raises(MarginError, match=message):
        with_totals(inner, SHARE)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"sums": ()}, "need the columns that add up along the margins"),
        ({"one_way": ("year",)}, "one_way year not among the margins"),
        ({"sums": ("cases", "year")}, "both a dimension and a column computed"),
        ({"computed": (parse_formula("base = cases[region=all]"),)}, "region is not a margin that is not nested"),
        ({"computed": (parse_formula("base = cases[year=all]"),)}, "year is not a margin"),
    ],
)
def test_wrong_margin_keys_are_refused(fields: dict, message: str) -> None:
    keys = {"dimensions": SHARE.dimensions, "margins": SHARE.margins, "nested": SHARE.nested, "sums": SHARE.sums}
    with pytest.raises(MarginError, match=message):
        Totals(**(keys | fields))


@pytest.mark.parametrize("text", ["value = cases /", "value cases / base", "value = cases[reason=any]", "= cases"])
def test_a_wrong_formula_is_refused(text: str) -> None:
    with pytest.raises(MarginError):
        parse_formula(text)


def test_a_formula_reads_back_as_written() -> None:
    text = "value = weighted_cases / weighted_cases[outcome=all]"
    assert str(parse_formula(text)) == text


# --- property: every generated total is the sum of its inner cells ---------------------------------------

DIMS = ("a", "b", "c")
LEVELS = ("x", "y", "z")


@st.composite
def tables(draw: st.DrawFn) -> tuple[pd.DataFrame, Totals]:
    """Random inner cells of three dimensions, with random margins, one of them perhaps nested, perhaps one way."""
    margins = tuple(d for d in DIMS if draw(st.booleans())) or ("a",)
    nested = (margins[0],) if len(margins) > 1 and draw(st.booleans()) else ()
    others = tuple(d for d in margins if d not in nested)
    one_way = others if len(others) > 1 and draw(st.booleans()) else ()
    keys = draw(st.lists(st.tuples(*[st.sampled_from(LEVELS)] * 3), min_size=1, max_size=15, unique=True))
    counts = draw(st.lists(st.integers(0, 1000), min_size=len(keys) * 2, max_size=len(keys) * 2))
    inner = pd.DataFrame(keys, columns=list(DIMS)).assign(cases=counts[: len(keys)], base=counts[len(keys) :])
    return inner, Totals(dimensions=DIMS, margins=margins, nested=nested, one_way=one_way, sums=("cases", "base"))


@settings(max_examples=200, deadline=None)
@given(tables())
def test_generated_totals_are_the_sums_of_their_inner_cells(table: tuple[pd.DataFrame, Totals]) -> None:
    inner, totals = table
    cells = with_totals(inner, totals)
    # each row holds the sums of the inner cells it stands for (those equal to it wherever it is not 'all')
    for _, row in cells.iterrows():
        members = inner
        for d in DIMS:
            if row[d] != ALL:
                members = members[members[d] == row[d]]
        assert len(members) and (row["cases"], row["base"]) == (members["cases"].sum(), members["base"].sum())
    # the rows are exactly the published groups that have members
    expected = set()
    for n in range(len(totals.margins) + 1):
        for totalled in map(frozenset, itertools.combinations(totals.margins, n)):
            if totals.published(totalled):
                expected |= {
                    tuple(ALL if d in totalled else k for d, k in zip(DIMS, key, strict=True))
                    for key in inner[list(DIMS)].itertuples(index=False)
                }
    assert set(cells[list(DIMS)].itertuples(index=False, name=None)) == expected
    # a formula may read the total row along any margin that is not nested: it is always published too
    groups = totals.groups()
    assert all(t | {d} in groups for t in groups for d in set(totals.margins) - set(totals.nested))
