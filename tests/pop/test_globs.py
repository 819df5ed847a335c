"""The registry's globs: matched as pathlib globs a folder, and whether two of them can match one file, decided on the
patterns alone. The decision is checked against fnmatch on generated names (hypothesis): every overlap found on names
is found on the patterns, and every example path the patterns give is matched by both."""

from __future__ import annotations

import fnmatch
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pop.globs import Glob, glob_problem, overlap


def reference_match(pattern: str, path: str) -> bool:
    """Does the glob match the relative path: each name by fnmatch, `**` as any number of names (none too)."""

    def go(parts: list[str], names: list[str]) -> bool:
        if not parts:
            return not names
        if parts[0] == "**":
            return any(go(parts[1:], names[k:]) for k in range(len(names) + 1))
        return bool(names) and fnmatch.fnmatchcase(names[0], parts[0]) and go(parts[1:], names[1:])

    return go(pattern.split("/"), path.split("/"))


# --- examples --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "example"),
    [
        ("helpline_ke/*.csv", "helpline_ke/2023_*", "helpline_ke/2023_.csv"),
        ("hl/*.csv", "hl/**/*.csv", "hl/a.csv"),
        ("**/*.csv", "ke/q?.csv", "ke/qa.csv"),
        ("*/2023.csv", "ke/*", "ke/2023.csv"),
        ("x/**/y/*.csv", "x/y/**/*.csv", "x/y/a.csv"),
        ("hl/[!a]*.csv", "hl/b*", "hl/b.csv"),
        ("hl/*", "hl/*", "hl/a"),
    ],
)
def test_globs_that_can_match_one_file_overlap_with_an_example(first: str, second: str, example: str) -> None:
    assert overlap(first, second) == example
    assert reference_match(first, example) and reference_match(second, example)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("helpline_ke/*.csv", "helpline_br/*.csv"),
        ("hl/*.csv", "hl/*.xlsx"),
        ("hl/*.csv", "hl/*.CSV"),  # case-sensitive, as on Linux
        ("a/*/b.csv", "a/b.csv"),  # a folder name is never empty
        ("hl/[!x]*.csv", "hl/x*.csv"),
        ("hl/?.csv", "hl/??.csv"),
        ("hl/[b-a]*", "hl/*"),  # an empty range matches nothing, as fnmatch has it
        ("hl/*", "hl/.lock*"),  # they meet only on hidden files, which are never taken
        ("ke/**/*.csv", "br/**/*.csv"),
    ],
)
def test_globs_that_cannot_match_one_file_do_not_overlap(first: str, second: str) -> None:
    assert overlap(first, second) is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "files is empty"),
        ("/etc/*.csv", "inside the inbox folder"),
        ("hl/../x.csv", "inside the inbox folder"),
        ("hl/[abc.csv", "unbalanced"),
        ("hl//*.csv", "empty or '.' folder name"),
        ("./hl/*.csv", "empty or '.' folder name"),
        ("hl/*.csv/", "empty or '.' folder name"),
        ("hl/a**/*.csv", "'**' must be a whole folder name"),
        ("hl/**", "matches folders, not files"),
    ],
)
def test_unsound_globs_are_named_with_how_to_write_them(pattern: str, problem: str) -> None:
    assert problem in (glob_problem(pattern) or "")


def test_a_glob_matches_as_pathlib_globs_the_inbox(tmp_path: Path) -> None:
    names = ["hl/a.csv", "hl/b.xlsx", "hl/.h.csv", "hl/sub/c.csv", "hl/sub/deep/d.csv", "ke/e.csv", "f.csv"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    for pattern in ["hl/*.csv", "hl/**/*.csv", "**/*.csv", "*/*.csv", "hl/?.*", "hl/[a-b].*", "**/deep/*", "*"]:
        expected = {p.relative_to(tmp_path).as_posix() for p in tmp_path.glob(pattern) if p.is_file()}
        assert {n for n in names if Glob(pattern).matches(n)} == expected, pattern


# --- properties: the decision on patterns agrees with fnmatch on names -------------------------------------------

CHARS = "ab.-"
name_parts = st.text(alphabet=CHARS, min_size=1, max_size=3)
pattern_parts = st.lists(
    st.sampled_from(["a", "b", ".", "*", "?", "[ab]", "[!a]", "[a-b]", "[.]", "-"]), min_size=1, max_size=4
).map("".join)
patterns = (
    st.lists(st.one_of(pattern_parts, st.just("**")), min_size=1, max_size=3)
    .map("/".join)
    .filter(lambda pattern: glob_problem(pattern) is None)
)


def names_up_to(depth: int, length: int) -> list[str]:
    """Every path of up to `depth` names of up to `length` characters of CHARS, the file's own name not hidden."""
    words = ["".join(w) for n in range(1, length + 1) for w in itertools.product(CHARS, repeat=n)]
    paths = []
    for n in range(1, depth + 1):
        for combo in itertools.product(words, repeat=n):
            if not combo[-1].startswith("."):
                paths.append("/".join(combo))
    return paths


SMALL_PATHS = names_up_to(2, 2) + names_up_to(1, 3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patterns, patterns)
def test_an_overlap_on_names_is_found_on_the_patterns(first: str, second: str) -> None:
    shared = next((p for p in SMALL_PATHS if reference_match(first, p) and reference_match(second, p)), None)
    example = overlap(first, second)
    if shared is not None:
        assert example is not None, (first, second, shared)
    if example is not None:  # the example is a real path both match, its file's name not hidden
        assert reference_match(first, example) and reference_match(second, example), (first, second, example)
        assert all(example.split("/")) and not example.split("/")[-1].startswith(".")


@settings(max_examples=300, deadline=None)
@given(patterns, st.lists(name_parts, min_size=1, max_size=3).map("/".join))
def test_a_glob_matches_the_names_fnmatch_matches(pattern: str, path: str) -> None:
    assert Glob(pattern).matches(path) == reference_match(pattern, path)


@settings(max_examples=200, deadline=None)
@given(patterns)
def test_a_glob_overlaps_itself_when_it_matches_a_file(pattern: str) -> None:
    matched = any(reference_match(pattern, p) for p in SMALL_PATHS)
    if matched:
        assert overlap(pattern, pattern) is not None
