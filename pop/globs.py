"""The registry's globs (a source's `files:`) as the inbox reads them, and whether two of them can match one file.

A glob is matched name by name under the inbox folder, as pathlib's Path.glob does on POSIX: `*` (any characters),
`?` (one) and `[...]` (one of a set, `[!...]` none of it) within one name, case-sensitive, a leading dot matched like
any character; `**` as a whole name stands for any number of folders (none too). Whether two globs can match one
file is decided on the patterns alone: both become automata over the characters of a path, and their product is
searched for a path both accept (its shortest is given as the example)."""

from __future__ import annotations

import fnmatch
import re
from collections import deque
from collections.abc import Iterable
from functools import lru_cache
from re import _parser  # the regex engine's own reading of a character set, so `[...]` means what fnmatch makes it

RECURSIVE = "**"
SLASH = ord("/")
TOP = 0x10FFFF

Intervals = tuple[tuple[int, int], ...]  # sorted, disjoint, inclusive ranges of code points

NAME_CHARS: Intervals = ((1, SLASH - 1), (SLASH + 1, TOP))  # what a file or folder name may hold
SEPARATOR: Intervals = ((SLASH, SLASH),)
NOTHING: Intervals = ()


def glob_problem(pattern: str) -> str | None:
    """What is wrong with a glob as a source's `files:`, in words that say how to write it; None when it is sound."""
    if not pattern.strip():
        return "files is empty: give a folder glob such as 'helplines/ke/*.csv'"
    parts = pattern.split("/")
    if pattern.startswith("/") or ".." in parts:
        return f"files {pattern!r} must be a glob inside the inbox folder (no absolute path, no '..')"
    if "\0" in pattern:
        return f"files {pattern!r} holds a NUL character, which no file name has"
    if pattern.count("[") != pattern.count("]"):
        return f"files {pattern!r} is not a valid glob: unbalanced '[' ']'"
    if "" in parts or "." in parts:
        return (
            f"files {pattern!r} has an empty or '.' folder name: write it as 'folder/*.csv', with no '//', './' or "
            "'/' at the end"
        )
    if any(RECURSIVE in part and part != RECURSIVE for part in parts):
        return f"files {pattern!r}: '**' must be a whole folder name, as in 'helplines/**/*.csv'"
    if parts[-1] == RECURSIVE:
        return (
            f"files {pattern!r} ends with '**', which matches folders, not files: end it with a file name, as in "
            f"'{pattern}/*.csv'"
        )
    return None


def parts_of(pattern: str) -> tuple[str, ...]:
    """The names of a sound glob, one per folder level (ValueError naming the problem otherwise)."""
    problem = glob_problem(pattern)
    if problem:
        raise ValueError(problem)
    return tuple(pattern.split("/"))


@lru_cache(maxsize=4096)
def _name_regex(part: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(part))


class Glob:
    """A glob matched one name at a time while walking down from the inbox: a set of positions in its names."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.parts = parts_of(pattern)

    def _closure(self, positions: Iterable[int]) -> frozenset[int]:
        found = set(positions)
        stack = list(found)
        while stack:  # `**` may stand for no folder at all
            at = stack.pop()
            if at < len(self.parts) and self.parts[at] == RECURSIVE and at + 1 not in found:
                found.add(at + 1)
                stack.append(at + 1)
        return frozenset(found)

    def start(self) -> frozenset[int]:
        return self._closure([0])

    def step(self, positions: frozenset[int], name: str) -> frozenset[int]:
        """Where the glob stands after one more name of the path."""
        after = set()
        for at in positions:
            if at == len(self.parts):
                continue
            part = self.parts[at]
            if part == RECURSIVE:
                after.add(at)
            elif _name_regex(part).match(name):
                after.add(at + 1)
        return self._closure(after)

    def complete(self, positions: frozenset[int]) -> bool:
        """The path so far is matched whole."""
        return len(self.parts) in positions

    def goes_deeper(self, positions: frozenset[int]) -> bool:
        """A longer path may still match (the name so far is a folder worth looking into)."""
        return any(at < len(self.parts) for at in positions)

    def names_literally(self, positions: frozenset[int], name: str) -> bool:
        """The glob names this folder as it is (no wildcard), as in 'incoming/.staged/*.csv'."""
        return any(at < len(self.parts) and self.parts[at] == name for at in positions)

    def matches(self, path: str) -> bool:
        """The relative path (names joined by '/') is matched by the glob."""
        positions = self.start()
        for name in path.split("/"):
            positions = self.step(positions, name)
        return self.complete(positions)


# --- two globs at once: automata over the characters of a path ----------------------------------------------------


def _normal(ranges: Iterable[tuple[int, int]]) -> Intervals:
    merged: list[list[int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return tuple((low, high) for low, high in merged)


def intersection(a: Intervals, b: Intervals) -> Intervals:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        low, high = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if low <= high:
            out.append((low, high))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def complement(ranges: Intervals) -> Intervals:
    """The name characters not in `ranges`."""
    gaps, low = [], 0
    for start, end in ranges:
        if start > low:
            gaps.append((low, start - 1))
        low = end + 1
    if low <= TOP:
        gaps.append((low, TOP))
    return intersection(_normal(gaps), NAME_CHARS)


def _char_set(bracket: str) -> Intervals:
    """The characters one `[...]` matches, as fnmatch translates it and the regex engine reads that."""
    [(_, (_, _, _, items)), _] = _parser.parse(fnmatch.translate(bracket))
    [(op, value)] = items
    name = str(op)
    if name == "ANY":
        return NAME_CHARS
    if name == "ASSERT_NOT":
        return NOTHING
    if name == "LITERAL":
        return intersection(((value, value),), NAME_CHARS)
    if name == "NOT_LITERAL":
        return complement(((value, value),))
    negate, ranges = False, []
    for kind, arg in value:  # IN
        kind = str(kind)
        if kind == "NEGATE":
            negate = True
        elif kind == "LITERAL":
            ranges.append((arg, arg))
        elif kind == "RANGE":
            ranges.append(arg)
        else:  # never made by fnmatch; read as any character, so that an overlap is never missed
            return NAME_CHARS
    chosen = _normal(ranges)
    return complement(chosen) if negate else intersection(chosen, NAME_CHARS)


def _tokens(part: str) -> list[Intervals | None]:
    """A name pattern as a sequence of character sets, None for `*` (consecutive stars made one)."""
    tokens: list[Intervals | None] = []
    i, n = 0, len(part)
    while i < n:
        c = part[i]
        i += 1
        if c == "*":
            if not tokens or tokens[-1] is not None:
                tokens.append(None)
        elif c == "?":
            tokens.append(NAME_CHARS)
        elif c == "[":
            j = i  # where the set ends, found as fnmatch.translate finds it
            if j < n and part[j] == "!":
                j += 1
            if j < n and part[j] == "]":
                j += 1
            while j < n and part[j] != "]":
                j += 1
            if j >= n:
                tokens.append(((ord("["), ord("[")),))
            else:
                tokens.append(_char_set(part[i - 1 : j + 1]))
                i = j + 1
        else:
            tokens.append(((ord(c), ord(c)),))
    return tokens


class _Automaton:
    """A nondeterministic automaton over the characters of a path, built from a glob's names."""

    def __init__(self, parts: tuple[str, ...]) -> None:
        self.edges: list[list[tuple[Intervals, int]]] = []
        self.empty: list[list[int]] = []
        current, after_name = self._state(), False
        self.start = current
        for part in parts:
            if part == RECURSIVE:  # (name '/')* before the next name
                if after_name:
                    folder = self._state()
                    self._edge(current, SEPARATOR, folder)
                    current = folder
                inside = self._state()
                self._edge(current, NAME_CHARS, inside)
                self._edge(inside, NAME_CHARS, inside)
                self._edge(inside, SEPARATOR, current)
                after_name = False
                continue
            begin = self._state()
            if after_name:
                self._edge(current, SEPARATOR, begin)
            else:
                self.empty[current].append(begin)
            current = begin
            for token in _tokens(part):
                if token is None:
                    self._edge(current, NAME_CHARS, current)
                else:
                    following = self._state()
                    self._edge(current, token, following)
                    current = following
            after_name = True
        self.final = current
        self.closures = [self._closure(state) for state in range(len(self.edges))]

    def _state(self) -> int:
        self.edges.append([])
        self.empty.append([])
        return len(self.edges) - 1

    def _edge(self, source: int, chars: Intervals, target: int) -> None:
        if chars:
            self.edges[source].append((chars, target))

    def _closure(self, state: int) -> frozenset[int]:
        found, stack = {state}, [state]
        while stack:
            for target in self.empty[stack.pop()]:
                if target not in found:
                    found.add(target)
                    stack.append(target)
        return frozenset(found)

    def moves(self, state: int) -> list[tuple[Intervals, int]]:
        return [edge for member in self.closures[state] for edge in self.edges[member]]

    def accepts(self, state: int) -> bool:
        return self.final in self.closures[state]


PREFERRED = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_.-"


def _example_char(chars: Intervals) -> str:
    """A readable character of the set, for the example path."""
    for c in PREFERRED:
        if any(low <= ord(c) <= high for low, high in chars):
            return c
    for low, high in chars:
        if high >= 0x21 and low <= 0x7E:
            return chr(max(low, 0x21))
    return chr(chars[0][0])


DOT: Intervals = ((ord("."), ord(".")),)


def _steps(both: Intervals, in_name: int) -> list[tuple[int, str]]:
    """Where a step on these characters leads the name part of a state, with an example character for each:
    0 at the start of a name, 1 inside a name that does not start with a dot, 2 inside one that does (hidden)."""
    if both == SEPARATOR:
        return [(0, "/")] if in_name else []  # an empty name: no path has one
    if in_name:
        return [(in_name, _example_char(both))]
    steps = []
    if plain := intersection(both, complement(DOT)):
        steps.append((1, _example_char(plain)))
    if intersection(both, DOT):
        steps.append((2, "."))
    return steps


@lru_cache(maxsize=1024)
def overlap(first: str, second: str) -> str | None:
    """A path (relative to the inbox) that both globs match, the shortest there is; None when no file can match both.

    Every name of the path is non-empty, as on disk, and the file's own name does not start with a dot: hidden files
    are never taken, so two globs that meet only on them do not overlap. Names that no folder walk produces ('.' and
    '..') are not told apart, so two globs that could only meet on such a folder are said to overlap (never the other
    way round)."""
    a, b = _Automaton(parts_of(first)), _Automaton(parts_of(second))
    begin = (a.start, b.start, 0)
    came_from: dict[tuple[int, int, int], tuple[tuple[int, int, int], str] | None] = {begin: None}
    queue = deque([begin])
    while queue:
        state = queue.popleft()
        at_a, at_b, in_name = state
        if in_name == 1 and a.accepts(at_a) and b.accepts(at_b):
            path = []
            while (previous := came_from[state]) is not None:
                state, char = previous
                path.append(char)
            return "".join(reversed(path))
        for chars_a, next_a in a.moves(at_a):
            for chars_b, next_b in b.moves(at_b):
                both = intersection(chars_a, chars_b)
                if not both:
                    continue
                for name_part, char in _steps(both, in_name):
                    following = (next_a, next_b, name_part)
                    if following not in came_from:
                        came_from[following] = (state, char)
                        queue.append(following)
    return None
