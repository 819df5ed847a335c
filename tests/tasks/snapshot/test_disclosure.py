"""Disclosure control (tasks/snapshot/disclosure.py): the rules load and validate; counts are perturbed by their cell
keys (zeros stay zero, never more than the largest noise away, 1 to 4 never published), the same records always get
the same published count; counts below the threshold are withheld with every value computed from them, the values
are computed again from the perturbed counts, small bases are flagged, and published tables carry the one code in
every withheld value. The joint attack on whole snapshots is tests/test_intruder.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pop import paths
from tasks.snapshot.disclosure import (
    WITHHELD,
    DisclosureError,
    load_rules,
    perturbed_counts,
    protect,
    published,
    unprotected,
)
from tasks.snapshot.ptable import perturb

RULES = load_rules()
P = RULES.perturbation


def test_rules_load_with_their_parameters_and_labels() -> None:
    assert (RULES.threshold, RULES.unstable_base, RULES.code, RULES.unstable_code) == (10, 20, "[c]", "[u]")
    assert (P.max_noise, P.smallest_published) == (4, 5)
    assert "below 10" in RULES.labels["[c]"] and "20" in RULES.labels["[u]"] and "4" in RULES.labels["[u]"]
    metadata = RULES.as_metadata()
    assert json.loads(json.dumps(metadata)) == metadata == load_rules(paths.DISCLOSURE_FILE).as_metadata()
    assert metadata["missing_values"] == ["[c]"] and metadata["method"] == "cell-key perturbation"
    assert metadata["parameters"]["threshold"] == 10 and metadata["perturbation"]["largest_noise"] == 4
    # what a withheld count stands for: true counts from 0 to past the smallest published count
    low, high = RULES.withheld_range()
    assert low == 0 and high >= P.smallest_published
    assert f"between {low} and {high}" in metadata["inference"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"threshold": 5}, "threshold (5) must be above perturbation.smallest_published (5)"),
        ({"threshold": 0}, "threshold must be a whole number of at least 1"),
        ({"unstable_base": "twenty"}, "unstable_base"),
        ({"unstable_code": "[c]"}, "must differ"),
        ({"code": "5"}, "number"),
        ({"labels": {"[c]": "withheld"}}, "missing: [u]"),
        ({"labels": {"[c]": "below {min_count}", "[u]": "u"}}, "placeholder"),
        ({"min_count": 5}, "min_count: Extra inputs are not permitted"),
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


# --- perturbation -------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 5_000_000), st.integers(0, 2**40))
def test_a_perturbed_count_is_near_its_truth_never_1_to_4_and_zero_stays_zero(count: int, key: int) -> None:
    shown = perturbed_counts(pd.Series([count]), pd.Series([key]), RULES, "cases").iloc[0]
    assert abs(shown - count) <= P.max_noise
    assert not 1 <= shown < P.smallest_published
    assert (shown == 0) if count == 0 else shown >= 0
    # the key counts modulo the key range: the same cell, however many times its records' keys went round
    assert shown == perturbed_counts(pd.Series([count]), pd.Series([key % P.key_range]), RULES, "cases").iloc[0]


def test_the_same_records_get_the_same_count_and_other_records_other_noise() -> None:
    counts, keys = pd.Series(np.arange(1, 2001)), pd.Series((np.arange(2000) * 37) % 256)
    first = perturbed_counts(counts, keys, RULES, "cases")
    assert first.equals(perturbed_counts(counts, keys, RULES, "cases"))
    noise = first - counts
    assert set(noise.unique()) <= set(range(-P.max_noise, P.max_noise + 1))
    assert noise.nunique() >= 5 and abs(noise[counts > 20].mean()) < 0.2  # noisy, and unbiased on the whole
    # one more record (key 0 even: the cell key does not move) changes the count's row of the table
    moved = perturbed_counts(counts + 1, keys, RULES, "cases") - (counts + 1)
    assert (moved != noise).mean() > 0.3


def test_missing_counts_stay_missing_and_a_count_needs_a_key() -> None:
    shown = perturbed_counts(pd.Series([np.nan, 7.0]), pd.Series([np.nan, 3.0]), RULES, "referrals")
    assert np.isnan(shown.iloc[0]) and shown.iloc[1] == perturb(np.array([7]), np.array([3]), P)[0]
    # an empty cell's key may be missing (SQL's SUM of no rows): it is 0, and so is the published count
    assert perturbed_counts(pd.Series([0]), pd.Series([np.nan]), RULES, "base").tolist() == [0]
    with pytest.raises(DisclosureError, match="referrals has counts without a cell key"):
        perturbed_counts(pd.Series([3.0]), pd.Series([np.nan]), RULES, "referrals")
    with pytest.raises(DisclosureError, match="non-negative whole numbers"):
        perturbed_counts(pd.Series([2.5]), pd.Series([1]), RULES, "cases")


# --- protect and publish ------------------------------------------------------------------------------------


def table() -> pd.DataFrame:
    """A share by region: cases and base with their cell keys, the value computed from them."""
    frame = pd.DataFrame(
        {
            "region": ["a", "b", "c", "d", "all"],
            "cases": [3, 40, 0, 15, 58],
            "base": [30, 400, 6, 18, 454],
            "cases_key": [100, 2000, 0, 700, 2800],
            "base_key": [900, 30000, 55, 1000, 31955],
        }
    )
    return frame.assign(value=frame.cases / frame.base)


def recompute_value(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(value=frame.cases / frame.base)


def protected_table() -> pd.DataFrame:
    keys = {"cases": "cases_key", "base": "base_key"}
    depends = {"value": ("base", "cases")}
    return protect(table(), ["cases", "base"], keys, depends, RULES, recompute=recompute_value)


def test_counts_below_the_threshold_are_withheld_with_the_values_computed_from_them() -> None:
    out = protected_table()
    truth = table()
    for column in ("cases", "base"):
        expected = perturb(truth[column].to_numpy(), truth[column + "_key"].to_numpy(), P)
        assert out[column].tolist() == expected.tolist()
    assert out["value"].tolist() == pytest.approx((out.cases / out.base).tolist(), nan_ok=True)
    for pos, row in out.iterrows():
        below = [c for c in ("cases", "base") if row[c] < RULES.threshold]
        assert list(row[WITHHELD]) == below + (["value"] if below else []), pos
    assert "cases" in out.loc[0, WITHHELD] and "value" in out.loc[0, WITHHELD]  # 3 cases: withheld
    assert out.loc[1, WITHHELD] == ()  # 40 out of 400: shown
    assert set(out.loc[2, WITHHELD]) == {"cases", "base", "value"}  # a zero is withheld too
    # a rate on a perturbed base of 20 or fewer is flagged, unless withheld
    assert out["unstable"].tolist() == [
        bool(RULES.threshold <= b <= RULES.unstable_base and not w)
        for b, w in zip(out.base, out[WITHHELD], strict=True)
    ]


def test_published_tables_carry_the_one_code_in_every_withheld_value() -> None:
    out = published(protected_table(), ["region", "value", "cases", "base"], RULES)
    source = protected_table()
    for pos, row in out.iterrows():
        for column in ("value", "cases", "base"):
            hidden = column in source.loc[pos, WITHHELD]
            assert (row[column] == RULES.code) is hidden
        assert row["disclosure"] == (RULES.code if source.loc[pos, WITHHELD] else None)
        assert row["flag"] == (RULES.unstable_code if source.loc[pos, "unstable"] else "")
    assert set(out.columns) == {"region", "value", "cases", "base", "disclosure", "flag"}
    with pytest.raises(DisclosureError, match="output of protect"):
        published(table(), ["cases"], RULES)


def test_figures_not_about_children_are_published_as_they_are() -> None:
    out = published(unprotected(table()), ["region", "cases"], RULES)
    assert out["cases"].tolist() == table()["cases"].tolist() and not out["disclosure"].notna().any()


def test_a_cell_shown_in_two_tables_is_the_same_figure_in_both() -> None:
    """The same records (same count, same key) in another table get the same published count."""
    other = pd.DataFrame({"gender": ["girl", "all"], "cases": [40, 58], "cases_key": [2000, 2800]})
    out = protect(other, ["cases"], {"cases": "cases_key"}, {}, RULES)
    mine = protected_table()
    assert out.loc[0, "cases"] == mine.loc[1, "cases"] and out.loc[1, "cases"] == mine.loc[4, "cases"]


def test_a_table_without_its_columns_is_refused() -> None:
    with pytest.raises(DisclosureError, match="no column"):
        protect(table(), ["cases", "rest"], {"cases": "cases_key"}, {}, RULES)


def test_a_share_whose_cases_are_perturbed_above_their_base_reads_as_all_of_them() -> None:
    """Cases of nearly all the base can be perturbed above it: the share is published as 1, never more."""
    from tasks.snapshot.build import protect_indicator
    from tasks.snapshot.indicators import IndicatorResult, load_indicators

    ind = next(i for i in load_indicators() if i.id == "helpline_online_share")
    keys = next(
        (kc, kb)
        for kc in range(256)
        for kb in range(256)
        if perturb(np.array([200]), np.array([kc]), P)[0] > perturb(np.array([201]), np.array([kb]), P)[0]
    )
    cells = pd.DataFrame(
        {
            "region": ["Africa"],
            "country_iso3": ["KEN"],
            "year": ["2023"],
            "value": [200 / 201],
            "cases": [200],
            "base": [201],
            "cases_key": [keys[0]],
            "base_key": [keys[1]],
        }
    )
    out = protect_indicator(IndicatorResult(ind, cells, []), RULES)
    assert out.loc[0, "cases"] > out.loc[0, "base"] and out.loc[0, "value"] == 1
