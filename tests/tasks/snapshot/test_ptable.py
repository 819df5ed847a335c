"""The perturbation table (tasks/snapshot/ptable.py), checked on the table itself: the ONS's format and shape, noise
within max_noise, 1 to 4 never published, every row unbiased up to the discretisation, the target variance for large
counts, every published value reachable from a range of at least two true counts (worked out here from the table by
brute force, with the ONS's folding written out), perturb() equal to the ONS package's create_perturbed_table on
microdata, the rules' errors, and the same rules giving the same table."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from cell_key_perturbation.create_perturbed_table import create_perturbed_table
from hypothesis import given, settings
from hypothesis import strategies as st

from pop import paths
from tasks.snapshot import ptable
from tasks.snapshot.ptable import (
    PerturbationError,
    PerturbationRules,
    build_ptable,
    describe,
    key_counts,
    load_perturbation_rules,
    perturb,
    preimage,
    preimage_of_set,
    transition,
)

RULES = load_perturbation_rules()
TABLE = build_ptable(RULES)
D, V, JS, K = RULES.max_noise, RULES.variance, RULES.smallest_published, RULES.key_range


def ons_pcv(n: int) -> int:
    """The ONS package's folding, as it is written there (create_perturbed_table, step 3)."""
    return n if n <= 750 else ((n - 1) % 250) + 501


def as_array(table: pd.DataFrame, rules: PerturbationRules) -> np.ndarray:
    """pvalue by [pcv, ckey], row 0 all 0, from the table in the ONS's format."""
    array = np.zeros((rules.pcv_max + 1, rules.key_range), dtype=int)
    array[table["pcv"].to_numpy(), table["ckey"].to_numpy()] = table["pvalue"].to_numpy()
    return array


def true_counts_by_published(array: np.ndarray, rules: PerturbationRules, upto: int) -> dict[int, list[int]]:
    """Every published value up to `upto` and the true counts that can give it, by trying every true count."""
    fold_first = rules.pcv_max - rules.pcv_fold + 1
    behind: dict[int, list[int]] = defaultdict(list)
    for n in range(upto + int(np.abs(array).max()) + 1):
        row = n if n <= rules.pcv_max else (n - 1) % rules.pcv_fold + fold_first
        for published in sorted({int(n + noise) for noise in array[row]}):
            if published <= upto:
                behind[published].append(n)
    return dict(behind)


BEHIND = true_counts_by_published(as_array(TABLE, RULES), RULES, RULES.pcv_max + RULES.pcv_fold + 2 * D)


# --- the table's format ------------------------------------------------------------------------------------------


def test_table_has_the_ons_format_and_shape() -> None:
    assert list(TABLE.columns) == ["pcv", "ckey", "pvalue"]
    assert all(pd.api.types.is_integer_dtype(TABLE[column]) for column in TABLE.columns)
    assert TABLE.shape == (750 * 256, 3)
    assert not TABLE.duplicated(["pcv", "ckey"]).any()
    assert set(TABLE["pcv"]) == set(range(1, 751))  # no pcv 0: a zero count is not looked up (perturb keeps it 0)
    assert set(TABLE["ckey"]) == set(range(256))
    assert TABLE.equals(TABLE.sort_values(["pcv", "ckey"]).reset_index(drop=True))


def test_noise_is_within_max_noise_and_small_counts_are_never_published() -> None:
    published = TABLE["pcv"] + TABLE["pvalue"]
    assert TABLE["pvalue"].abs().max() == D
    assert not published.between(1, JS - 1).any()
    assert (published >= 0).all()


def test_every_row_is_unbiased_up_to_the_discretisation() -> None:
    bias = TABLE.groupby("pcv")["pvalue"].mean().abs()
    assert bias.max() <= D / K
    assert describe(RULES)["largest_bias"] == bias.max() == 2 / K  # the counts 2 and 3, on {0, 5} only
    assert (bias.loc[JS + D :] == 0).all()  # counts whose noise nothing truncates: exactly unbiased


def test_large_counts_reach_the_variance() -> None:
    variance = TABLE[TABLE["pcv"] >= JS + 2 * D + 1].groupby("pcv")["pvalue"].agg(lambda x: np.mean(x.to_numpy() ** 2))
    assert variance.between(0.9 * V, 1.1 * V).all()
    assert variance.nunique() == 1
    assert describe(RULES)["variance_large_counts"] == pytest.approx(variance.iloc[0])


# --- what a published value tells -----------------------------------------------------------------------------


def test_every_published_value_comes_from_a_range_of_at_least_two_true_counts() -> None:
    assert set(range(1, JS)).isdisjoint(BEHIND)
    for published, counts in BEHIND.items():
        assert len(counts) >= 2, published
        assert counts == list(range(counts[0], counts[-1] + 1)), published  # no gap: the interval is exact
    assert BEHIND[0] == [0, 1, 2, 3, 4]
    assert min(BEHIND[JS]) <= JS - 1 and max(BEHIND[JS]) >= JS  # a published 5 may be a true 1 to 4, or 5 or more
    assert max(BEHIND[JS]) > JS


def test_preimage_is_the_brute_force_range() -> None:
    for published, counts in BEHIND.items():
        assert preimage(published, RULES) == (counts[0], counts[-1]), published
    widest = int(TABLE.loc[TABLE["pcv"] > RULES.pcv_max - RULES.pcv_fold, "pvalue"].abs().max())
    for published in (2000, 10_000, 123_457):
        assert preimage(published, RULES) == (published - widest, published + widest)
    for never in (1, 2, 3, 4):
        with pytest.raises(PerturbationError, match="never published"):
            preimage(never, RULES)
    with pytest.raises(ValueError, match="at least 0"):
        preimage(-1, RULES)


def test_preimage_of_set_spans_the_values() -> None:
    below_ten = [n for published in range(10) for n in BEHIND.get(published, [])]
    assert preimage_of_set(range(10), RULES) == (min(below_ten), max(below_ten)) == (0, 13)
    assert preimage_of_set([7], RULES) == preimage(7, RULES)
    with pytest.raises(PerturbationError, match="none of these"):
        preimage_of_set([1, 2, 3], RULES)


# --- the distribution before discretisation ----------------------------------------------------------------------


def test_transition_is_unbiased_with_at_most_the_variance() -> None:
    assert transition(0, RULES) == {0: 1.0}
    for n in range(1, 60):
        p = transition(n, RULES)
        values, probabilities = np.array(list(p)), np.array(list(p.values()))
        assert probabilities.sum() == pytest.approx(1, abs=1e-12)
        assert probabilities @ values == pytest.approx(n, abs=1e-9)
        variance = probabilities @ (values - n) ** 2
        if n < JS:  # not in its own support: the least variance, on 0 and smallest_published
            assert p == pytest.approx({0: 1 - n / JS, JS: n / JS})
        elif n >= JS + D:  # nothing truncates its noise
            assert variance == pytest.approx(V, abs=1e-9)
            assert set(p) == set(range(n - D, n + D + 1))
        else:
            assert variance <= V + 1e-9
    assert transition(JS, RULES) == {JS: 1.0}  # 5 with 1 to 4 excluded: unbiased only as itself


def test_key_counts_round_the_transition() -> None:
    for n in range(0, 40):
        keys, p = key_counts(n, RULES), transition(n, RULES)
        assert sum(keys.values()) == K
        assert set(keys) <= set(p)
        assert all(abs(k - K * p[j]) <= 2 for j, k in keys.items())


# --- the ONS package as an oracle ----------------------------------------------------------------------------


def ons_and_ours(data: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """The ONS package's perturbed table of the microdata (threshold 0) with ours beside it as `ours`."""
    ons = create_perturbed_table(data, TABLE, geog=[], tab_vars=dims, record_key="record_key", threshold=0)
    cells = data.groupby(dims).agg(n=("record_key", "size"), key=("record_key", "sum")).reset_index()
    cells["ours"] = perturb(cells["n"].to_numpy(), cells["key"].to_numpy(), RULES)
    both = ons.merge(cells, on=dims, how="left", validate="one_to_one")
    both["ours"] = both["ours"].fillna(0).astype(int)  # a combination with no record: a zero, published as 0
    return both


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    records=st.integers(1, 4000),
    dims=st.sampled_from([["region"], ["region", "sex"], ["region", "sex", "age"]]),
)
def test_perturb_equals_the_ons_package(seed: int, records: int, dims: list[str]) -> None:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "region": rng.choice(["north", "south", "east", "west"], records, p=[0.8, 0.1, 0.07, 0.03]),
            "sex": rng.choice(["female", "male"], records),
            "age": rng.choice(["0-9", "10-13", "14-17"], records, p=[0.2, 0.3, 0.5]),
            "record_key": rng.integers(0, 256, records),
        }
    )
    both = ons_and_ours(data, dims)
    assert both["count"].notna().all()
    assert (both["count"].astype(int) == both["ours"]).all()


def test_perturb_equals_the_ons_package_on_every_row_and_the_folding() -> None:
    sizes = [*range(1, 60), 500, 749, 750, 751, 752, 1000, 1001, 1250, 1251, 2000]
    rng = np.random.default_rng(7)
    data = pd.DataFrame({"cell": np.repeat([f"c{size:05}" for size in sizes], sizes)})
    data["record_key"] = rng.integers(0, 256, len(data))
    both = ons_and_ours(data, ["cell"])
    assert (both["count"].astype(int) == both["ours"]).all()
    large = both[both["n"] > 750]
    assert large["pcv"].tolist() == [ons_pcv(n) for n in large["n"]]
    assert ptable.pcv(large["n"].to_numpy(), RULES).tolist() == large["pcv"].tolist()
    assert (ptable.pcv(0, RULES), ptable.pcv(12, RULES), ptable.pcv(751, RULES), ptable.pcv(1001, RULES)) == (
        0,
        12,
        501,
        501,
    )


def test_perturb_keeps_zeros_and_takes_keys_modulo_the_range() -> None:
    assert perturb(np.zeros(5, dtype=int), np.array([0, 1, 255, 256, 10_000]), RULES).tolist() == [0] * 5
    counts = np.array([7, 7, 800, 800])
    published = perturb(counts, np.array([3, 3 + K, 9, 9 + 5 * K]), RULES)
    assert published.tolist() == perturb(counts, np.array([3, 3, 9, 9]), RULES).tolist()
    with pytest.raises(ValueError, match="count"):
        perturb(np.array([-1]), np.array([0]), RULES)
    with pytest.raises(ValueError, match="cell key"):
        perturb(np.array([1]), np.array([0.5]), RULES)


# --- the rules -----------------------------------------------------------------------------------------------


def write_rules(tmp_path: Path, **changes: object) -> Path:
    """config/disclosure.yaml with the perturbation block changed (a value of None removes the key)."""
    doc = yaml.safe_load(paths.DISCLOSURE_FILE.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            doc["perturbation"].pop(key)
        else:
            doc["perturbation"][key] = value
    path = tmp_path / "disclosure.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_rules_load_from_the_config() -> None:
    expected = PerturbationRules(
        max_noise=4, variance=2.0, smallest_published=5, key_range=256, pcv_max=750, pcv_fold=250, seed=20240301
    )
    assert expected == RULES


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_noise": 0}, r"field perturbation\.max_noise: max_noise must be a whole number of at least 1, not 0"),
        ({"max_noise": True}, r"max_noise must be a whole number of at least 1, not True"),
        ({"variance": 0}, r"field perturbation\.variance: variance must be a number above 0"),
        ({"variance": 7.0}, r"variance \(7\) must be at most max_noise·\(max_noise \+ 1\)/3 \(6\.66667\)"),
        ({"variance": 0.001}, r"can only come from the true count .*; raise variance"),
        ({"smallest_published": 6}, r"smallest_published \(6\) must be at most max_noise \+ 1 \(5\)"),
        ({"pcv_fold": 745}, r"rows reused for counts above pcv_max \(6 \.\. 750\) must all be counts of at least 14"),
        ({"seed": None}, r"field perturbation\.seed: Field required"),
        ({"noise": 3}, r"field perturbation\.noise: Extra inputs are not permitted"),
    ],
)
def test_wrong_rules_are_refused_naming_the_field(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    with pytest.raises(PerturbationError, match=message) as error:
        load_perturbation_rules(write_rules(tmp_path, **changes))
    assert str(tmp_path / "disclosure.yaml") in str(error.value)


def test_a_file_without_the_block_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "disclosure.yaml"
    path.write_text("threshold: 10\n", encoding="utf-8")
    with pytest.raises(PerturbationError, match="field perturbation: Field required"):
        load_perturbation_rules(path)


# --- determinism -------------------------------------------------------------------------------------------


def test_the_same_rules_give_the_same_table() -> None:
    ptable._pvalues.cache_clear()
    first = build_ptable(RULES)
    ptable._pvalues.cache_clear()
    pd.testing.assert_frame_equal(first, build_ptable(RULES))
    pd.testing.assert_frame_equal(first, TABLE)
    assert json.dumps(describe(RULES)) == json.dumps(describe(RULES))


def test_another_seed_deals_the_keys_otherwise_with_the_same_probabilities() -> None:
    other = build_ptable(PerturbationRules(**{**RULES.model_dump(), "seed": RULES.seed + 1}))
    assert not other.equals(TABLE)
    row_differs = (other["pvalue"] != TABLE["pvalue"]).groupby(TABLE["pcv"]).any()
    assert row_differs.loc[JS + 1 :].all()  # every row with more than one published value
    ours, theirs = (t.sort_values(["pcv", "pvalue"])["pvalue"].to_numpy() for t in (TABLE, other))
    assert (ours == theirs).all()


def test_describe_is_json_with_the_transition_of_small_counts() -> None:
    described = json.loads(json.dumps(describe(RULES)))
    assert described["parameters"] == RULES.model_dump()
    assert described["largest_noise"] == described["largest_noise_large_counts"] == D
    rows = pd.DataFrame(described["transition"])
    assert sorted(rows["n"].unique()) == list(range(JS + 2 * D + 2))
    assert rows.groupby("n")["p"].sum().eq(1).all()
    for n, group in rows.groupby("n"):
        assert dict(zip(group["j"], group["p"] * K, strict=True)) == key_counts(int(n), RULES)


# --- other rules: the construction holds beyond the configured numbers ----------------------------------------------


@st.composite
def other_rules(draw: st.DrawFn) -> PerturbationRules:
    max_noise = draw(st.integers(1, 6))
    smallest = draw(st.integers(0, max_noise + 1))
    variance = draw(st.floats(0.15, max_noise * (max_noise + 1) / 3))
    return PerturbationRules(
        max_noise=max_noise, variance=variance, smallest_published=smallest, seed=draw(st.integers(0, 2**31))
    )


@settings(max_examples=15, deadline=None)
@given(rules=other_rules())
def test_other_rules_give_a_sound_table(rules: PerturbationRules) -> None:
    table = build_ptable(rules)
    array = as_array(table, rules)
    rows = np.arange(1, rules.pcv_max + 1)
    published = rows[:, None] + array[1:]
    assert np.abs(array).max() <= rules.max_noise
    assert not ((published >= 1) & (published < rules.smallest_published)).any()
    assert np.abs(array[1:].sum(axis=1)).max() <= rules.max_noise
    folded = array[rules.pcv_max - rules.pcv_fold + 1 :]
    assert (folded**2).mean() == pytest.approx(rules.variance, rel=0.1, abs=0.5 / rules.key_range)
    for value, counts in true_counts_by_published(array, rules, rules.pcv_max + 3 * rules.max_noise).items():
        assert len(counts) >= 2 and counts == list(range(counts[0], counts[-1] + 1)), (value, counts)
        assert preimage(value, rules) == (counts[0], counts[-1])


def test_a_cut_row_keeps_the_ranges() -> None:
    """With smallest_published = max_noise + 1, the true count smallest_published can only be published as itself:
    a count below it that could reach higher is cut down to it (here 4 -> {0, 5} although variance 5 would allow
    more), or a published 6 could come from 4 and 6 but not 5."""
    rules = PerturbationRules(max_noise=4, variance=5.0, smallest_published=5, seed=1)
    assert key_counts(5, rules) == {5: K}
    assert set(key_counts(4, rules)) == {0, 5}
    assert preimage(6, rules) == (6, 10)
