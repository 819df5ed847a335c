"""An intruder who attacks every published table of a snapshot jointly (issue 11, point 5), for tests.

The model holds only what a reader of the published files can know: one integer variable per distinct true count
(an indicator's count column on one row, several published places merged when the intruder knows they hold one
count), the range of true counts each published value allows (the ptable is published, so the intruder rebuilds it
from the published perturbation parameters and reads its preimages), what the indicator files say of every table
(a total row is the sum of its members, the rows left out hold zero, a row is published only when its count is at
least 1, a share's cases are at most its base) and the links between tables listed below as data. The attack gives
each variable's least and greatest value over every integer solution (linear programming; an integer program where
a linear optimum is not a whole-number solution). A variable pinned to one value, or known
to lie within 1 .. smallest_published - 1 (a small group of children), is a disclosure. Two snapshots made before and
after a change are one model (publications_model): both snapshots' tables, and a variable per count for the change's
contribution to it, the difference of its two publications.

The true counts (tasks.snapshot.indicators.compute_indicators, unperturbed) are not the intruder's: tests use them
to check that the model is sound (every bound, equation and inequality holds on the truth, every merge joins equal
counts) and to report how far the protection moved the published counts."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_array

from tasks.snapshot.ptable import PerturbationRules, preimage, preimage_of_set

ALL = "all"  # a dimension's value on a total row
INF = math.inf
LP_NARROW = INF  # an integer program refines a linear range narrower than this whose optimum is not whole
EPS = 1e-6  # the solvers' slack when their optima are rounded to whole numbers

Key = tuple[Any, ...]  # a variable's identity: (indicator, dimension values, column) or ("coverage", ...)


# --- what the intruder knows besides the published numbers (each entry: why they know it) ------------------------


# A computed base: the `base` of a row is the `cases` of the row equal to it with this dimension "all".
COMPUTED_BASES: dict[str, str] = {
    # sql/indicators/helpline_reasons.sql, published header: `computed: base = cases[reason=all]`
    "helpline_reasons": "reason",
    # sql/indicators/youth_help_outcome.sql, published header: `computed: base = cases[outcome=all]`
    "youth_help_outcome": "outcome",
}

# A shared base: every row with the same values in these dimensions has one base, whatever its other dimensions.
SHARED_BASES: dict[str, tuple[str, ...]] = {
    # youth_choices.sql: the base is asked_cells' COUNT(*) per question and cell, joined to every answer; the README
    # says so too ("a base counted once per cell of a grid, whatever the answer")
    "youth_choices": ("question", "country_iso3", "age_band", "gender"),
    # platform_triangulation.sql: `asked` is one row (everyone who used online help) CROSS JOINed to every platform
    "platform_triangulation": (),
}


@dataclass(frozen=True)
class Link:
    """The count `column` of every published row of `indicator` is the count `other_column` of the published row(s)
    of `other` whose dimensions are `where` says: "=v" the value v, "d" the row's value of its dimension d, "d-1"
    that value (a year) minus one. Dimensions `where` leaves out may be anything but "all"."""

    indicator: str
    column: str
    other: str
    other_column: str
    where: tuple[tuple[str, str], ...]


LINKS: tuple[Link, ...] = (
    # helpline_online_share_trend.sql (`basis: helpline_online_share`): its `yearly` sums the shared basis by country
    # and year exactly as helpline_online_share does; the region is nested (fixed by the country), so it is left open
    Link("helpline_online_share_trend", "cases", "helpline_online_share", "cases",
         (("country_iso3", "country_iso3"), ("year", "year"))),
    Link("helpline_online_share_trend", "base", "helpline_online_share", "base",
         (("country_iso3", "country_iso3"), ("year", "year"))),
    # ... and its previous_* are the same yearly sums of the year before (JOIN yearly p ON year = year - 1)
    Link("helpline_online_share_trend", "previous_cases", "helpline_online_share", "cases",
         (("country_iso3", "country_iso3"), ("year", "year-1"))),
    Link("helpline_online_share_trend", "previous_base", "helpline_online_share", "base",
         (("country_iso3", "country_iso3"), ("year", "year-1"))),
    # platform_triangulation.sql: cases(p) counts the youth responses of those who used online help naming p among
    # platforms_named, as youth_choices' answer p to platforms_named (asked if used_online_help) does over all
    # countries, ages and genders (true only while every respondent's age falls in an age band: checked on the truth)
    Link("platform_triangulation", "cases", "youth_choices", "cases",
         (("question", "=platforms_named"), ("answer", "platform"), ("country_iso3", "=all"), ("age_band", "=all"),
          ("gender", "=all"))),
    # ... and its base is everyone who used online help: youth_choices' base of platforms_named, all cells
    Link("platform_triangulation", "base", "youth_choices", "base",
         (("question", "=platforms_named"), ("country_iso3", "=all"), ("age_band", "=all"), ("gender", "=all"))),
)  # fmt: skip


@dataclass(frozen=True)
class CoverageLink:
    """The coverage rows (basis_rows) of `indicator` in one country, summed over its sources, are the count `column`
    of the published row of `other` that `where` names (as in Link; "country_iso3" reads the coverage row's). With
    `per_country` False: all its coverage rows are the sum of the (distinct) counts of every row `where` names."""

    indicator: str
    other: str
    column: str
    where: tuple[tuple[str, str], ...]
    per_country: bool = True


COVERAGE_LINKS: tuple[CoverageLink, ...] = (
    # youth_help_seeking.sql: its basis is one row per respondent who felt unsafe, and the measure used_online_help
    # counts every basis row (COUNT(*) over all of them): its base per country is the country's basis rows
    CoverageLink("youth_help_seeking", "youth_help_seeking", "base",
                 (("measure", "=used_online_help"), ("country_iso3", "country_iso3"), ("age_band", "=all"),
                  ("gender", "=all"))),
    # youth_help_outcome.sql: its basis is one row per respondent counted, grouped by outcome: the total outcome's
    # cases per country are the country's basis rows
    CoverageLink("youth_help_outcome", "youth_help_outcome", "cases",
                 (("outcome", "=all"), ("country_iso3", "country_iso3"), ("age_band", "=all"), ("gender", "=all"))),
    # provider_online_referrals.sql: its basis is one row per provider report, and reports is COUNT(*) per org_type
    # and year: the reports of the total rows (org_type all) of every year add up to all its coverage rows
    CoverageLink("provider_online_referrals", "provider_online_referrals", "reports", (("org_type", "=all"),),
                 per_country=False),
)  # fmt: skip

# An indicator whose header says `basis: other` has the other's coverage (the same basis, computed once for both).
SHARED_COVERAGE: dict[str, str] = {
    # helpline_online_share_trend.sql: `basis: helpline_online_share`
    "helpline_online_share_trend": "helpline_online_share",
}

# A published row exists only if these counts are at least 1 (so a withheld one is 1 .. the withheld range's top).
EXISTS: dict[str, tuple[str, ...]] = {
    # `nonzero: cases`
    "youth_choices": ("cases",),
    # `nonzero: base`
    "helpline_online_share": ("base",),
    "helpline_reasons": ("base",),
    # base is COUNT(*) of the cell's answers, each cell a GROUP BY of at least one of them
    "youth_help_seeking": ("base",),
    # cases is COUNT(*) per GROUP BY cell; a total row sums at least one such cell
    "youth_help_outcome": ("cases",),
    # reports is COUNT(*) per GROUP BY cell
    "provider_online_referrals": ("reports",),
    # WHERE t.base > 0 AND p.base > 0
    "helpline_online_share_trend": ("base", "previous_base"),
}

# A count that is at most another count on the same row (the cases of a share among its base).
AT_MOST: dict[str, tuple[tuple[str, str], ...]] = {
    # online contacts are among the contacts of every channel (CASE WHEN online THEN contacts ELSE 0)
    "helpline_online_share": (("cases", "base"),),
    "helpline_online_share_trend": (("cases", "base"), ("previous_cases", "previous_base")),
    # respondents who gave an answer are among those asked the question (answers JOIN asked)
    "youth_choices": (("cases", "base"),),
    # SUM(yes) over rows counted by COUNT(*), yes 0 or 1
    "youth_help_seeking": (("cases", "base"),),
    # respondents naming the platform are among those who used online help (the platform rows' WHERE)
    "platform_triangulation": (("cases", "base"),),
}


# Counts a table publishes no row for only when they are 0 (a row absent from one of two publications of the table
# holds 0 there): the count sums or counts the basis rows of its cell, and the table publishes a row for every cell
# with a basis row, or leaves out only rows where a count that is at least this one is 0. Counts not listed may be
# more than 0 on a row left out (a base shared with published rows, a computed base, a row left out for another
# count of 0).
ZERO_WHEN_ABSENT: dict[str, tuple[str, ...]] = {
    # a row per (region, country, year) of helpline contacts, left out when its base (all contacts) is 0, and the
    # online cases are among them
    "helpline_online_share": ("cases", "base"),
    # a row per (reason, age band, gender) of counselling contacts (GROUP BY), left out when its base (the contacts
    # of every reason) is 0: then its cases are 0 too; its base is the total row's cases (a row of its own)
    "helpline_reasons": ("cases",),
    # a row per platform of any group (GROUP BY platform over the union of every group's rows): the cases, helpline
    # contacts and provider reports of a platform without a row are 0; the base is everyone asked (CROSS JOIN)
    "platform_triangulation": ("cases", "helpline_contacts", "provider_reports"),
    # a row per (org_type, year) of provider reports (GROUP BY): every count of a cell without reports is 0
    "provider_online_referrals": ("cases", "base", "referrals_in", "referrals_out", "reports"),
    # `nonzero: cases`: a row per answer and cell with at least one answer; the base is the cell's (shared)
    "youth_choices": ("cases",),
    # a row per outcome and cell (GROUP BY); the base is the total outcome's cases (a row of its own)
    "youth_help_outcome": ("cases",),
    # a row per measure and cell of the respondents who felt unsafe (GROUP BY): base COUNT(*), cases SUM(yes)
    "youth_help_seeking": ("cases", "base"),
    # helpline_online_share_trend: none (WHERE t.base > 0 AND p.base > 0: a row is left out when the year before
    # has no contacts, whatever this year's)
}


# --- the model ----------------------------------------------------------------------------------------------------


class ModelError(ValueError):
    """The published files cannot be read into a model; the message says why."""


@dataclass
class Table:
    """A published table as the model reads it: the indicator's id, dimensions, margins, count columns and rows."""

    id: str
    dimensions: tuple[str, ...]
    margins: tuple[str, ...]
    counts: tuple[str, ...]
    rows: list[dict[str, Any]]
    contributors: tuple[str, ...] = ()  # counts of reports: one withheld withholds every figure of its row
    # (row position, count) withheld by the snapshot's own audit (tasks/snapshot/audit.py), whatever their value:
    # the published files do not say which; a test may tell the intruder, the strongest it can be
    unbounded: frozenset[tuple[int, str]] = frozenset()

    @classmethod
    def of(cls, indicator: Mapping[str, Any]) -> Table:
        """A table from an entry of snapshot.json's `indicators`."""
        meta = indicator["metadata"]
        return cls(
            indicator["id"],
            tuple(meta["dimensions"]),
            tuple(meta["margins"]),
            tuple(meta["counts"]),
            indicator["rows"],
            tuple(meta.get("contributors") or ()),
        )


@dataclass
class Knowledge:
    """What the intruder knows of the tables' structure besides the numbers (defaults: the module's lists)."""

    computed_bases: Mapping[str, str] = field(default_factory=lambda: dict(COMPUTED_BASES))
    shared_bases: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(SHARED_BASES))
    links: Sequence[Link] = LINKS
    coverage_links: Sequence[CoverageLink] = COVERAGE_LINKS
    shared_coverage: Mapping[str, str] = field(default_factory=lambda: dict(SHARED_COVERAGE))
    exists: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(EXISTS))
    at_most: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=lambda: dict(AT_MOST))
    zero_when_absent: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(ZERO_WHEN_ABSENT))

    @classmethod
    def bare(cls, exists: Mapping[str, tuple[str, ...]] | None = None) -> Knowledge:
        """Knowledge of tables of one's own: no links, no computed or shared bases; `exists` as given."""
        return cls({}, {}, (), (), {}, dict(exists or {}), {}, {})

    def prefixed(self, prefix: str) -> Knowledge:
        """The same knowledge of tables whose ids carry `prefix` (two publications of one table in one model)."""

        def ids(mapping: Mapping[str, Any]) -> dict[str, Any]:
            return {prefix + name: value for name, value in mapping.items()}

        return Knowledge(
            ids(self.computed_bases),
            ids(self.shared_bases),
            tuple(replace(x, indicator=prefix + x.indicator, other=prefix + x.other) for x in self.links),
            tuple(replace(x, indicator=prefix + x.indicator, other=prefix + x.other) for x in self.coverage_links),
            {prefix + name: prefix + owner for name, owner in self.shared_coverage.items()},
            ids(self.exists),
            ids(self.at_most),
            ids(self.zero_when_absent),
        )

    @classmethod
    def joined(cls, *parts: Knowledge) -> Knowledge:
        """The knowledge of tables of several parts (their ids apart, e.g. prefixed)."""
        return cls(
            {k: v for p in parts for k, v in p.computed_bases.items()},
            {k: v for p in parts for k, v in p.shared_bases.items()},
            tuple(x for p in parts for x in p.links),
            tuple(x for p in parts for x in p.coverage_links),
            {k: v for p in parts for k, v in p.shared_coverage.items()},
            {k: v for p in parts for k, v in p.exists.items()},
            {k: v for p in parts for k, v in p.at_most.items()},
            {k: v for p in parts for k, v in p.zero_when_absent.items()},
        )

    def count_key(self, table: Table, row: Mapping[str, Any], column: str) -> Key:
        """The identity of the count `column` on `row` before links: a computed base is its total row's cases, a
        shared base one count per cell of its dimensions."""
        if column == "base" and table.id in self.computed_bases:
            d = self.computed_bases[table.id]
            return (table.id, tuple(ALL if x == d else str(row[x]) for x in table.dimensions), "cases")
        if column == "base" and table.id in self.shared_bases:
            return (table.id, tuple(str(row[x]) for x in self.shared_bases[table.id]), "base*")
        return (table.id, tuple(str(row[x]) for x in table.dimensions), column)

    def withheld_with(self, table: Table, column: str) -> tuple[str, ...]:
        """The counts of a row whose withholding withholds this one too (the methods text: "with every value
        computed from it"): a computed base goes with its row's cases; every count but the contributors with the
        contributors (README: a row resting on too few organisations' reports is withheld whole)."""
        out = ("cases",) if not self.additive(table, column) else ()
        return out + (() if column in table.contributors else table.contributors)

    def additive(self, table: Table, column: str) -> bool:
        """Whether the count adds up along the table's margins (a computed base does not)."""
        return not (column == "base" and table.id in self.computed_bases)


class _Union:
    """Union-find over variable identities."""

    def __init__(self) -> None:
        self.parent: dict[Key, Key] = {}

    def find(self, key: Key) -> Key:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: Key, b: Key) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb, key=repr)] = min(ra, rb, key=repr)


Row = Mapping[str, Any]
Coefficients = dict[Key, int]


@dataclass
class Model:
    """The intruder's integer program: variables with bounds, equations Σ c·x = 0 and inequalities Σ c·x <= 0."""

    lo: dict[Key, float] = field(default_factory=dict)
    hi: dict[Key, float] = field(default_factory=dict)
    equations: list[Coefficients] = field(default_factory=list)
    inequalities: list[Coefficients] = field(default_factory=list)
    # every published place of a variable: (table id, row, column, published value)
    places: dict[Key, list[tuple[str, Row, str, Any]]] = field(default_factory=lambda: defaultdict(list))
    why: dict[Key, list[str]] = field(default_factory=lambda: defaultdict(list))  # where each bound came from

    def var(self, key: Key) -> Key:
        self.lo.setdefault(key, 0)  # a count is never negative
        self.hi.setdefault(key, INF)
        return key

    def bound(self, key: Key, low: float, high: float, why: str) -> None:
        self.var(key)
        self.lo[key], self.hi[key] = max(self.lo[key], low), min(self.hi[key], high)
        self.why[key].append(f"{why}: [{low}, {high}]")
        if self.lo[key] > self.hi[key]:
            raise ModelError(f"no true count fits {key}: {'; '.join(self.why[key])}")

    def equation(self, coefficients: Mapping[Key, int], what: str) -> None:
        kept = {k: c for k, c in coefficients.items() if c}
        if kept:
            for k in kept:
                self.var(k)
            self.equations.append(kept)
            self.why[("equation", len(self.equations) - 1)].append(what)

    def inequality(self, coefficients: Mapping[Key, int], what: str) -> None:
        kept = {k: c for k, c in coefficients.items() if c}
        if kept:
            for k in kept:
                self.var(k)
            self.inequalities.append(kept)
            self.why[("inequality", len(self.inequalities) - 1)].append(what)

    @property
    def variables(self) -> list[Key]:
        return list(self.lo)

    def own_range(self, key: Key) -> tuple[float, float]:
        """The variable's range from its own bounds only (the published values of its places)."""
        return self.lo[key], self.hi[key]


def published_range(value: Any, rules: PerturbationRules, threshold: int, code: str) -> tuple[int, int] | None:
    """The true counts a published count allows: the preimage of a number, the withheld range of the code, None
    for a missing one."""
    if value is None:
        return None
    if value == code:
        return preimage_of_set(range(threshold), rules)
    if isinstance(value, float) and not value.is_integer():
        raise ModelError(f"a published count {value!r} is not a whole number")
    return preimage(int(value), rules)


def _resolve(where: Iterable[tuple[str, str]], row: Row) -> dict[str, str]:
    """The dimension values a Link's `where` names for a row."""
    out = {}
    for dim, spec in where:
        if spec.startswith("="):
            out[dim] = spec[1:]
        elif spec.endswith("-1"):
            out[dim] = str(int(row[spec[:-2]]) - 1)
        else:
            out[dim] = str(row[spec])
    return out


def _matching(table: Table, values: Mapping[str, str]) -> list[Row]:
    """The rows of the table with these dimension values, and no total in the dimensions not named."""
    return [
        r
        for r in table.rows
        if all(str(r[d]) == v for d, v in values.items())
        and all(str(r[d]) != ALL for d in table.dimensions if d not in values)
    ]


class Builder:
    """Reads published tables (and coverage) into a Model; `key` maps every (table, row, count column) to its
    variable, the same way for the published rows and for the true cells (truth_of)."""

    def __init__(self, tables: Sequence[Table], knowledge: Knowledge | None = None) -> None:
        self.tables = {t.id: t for t in tables}
        self.knowledge = knowledge or Knowledge()
        self.union = _Union()
        self.matched: dict[Link | CoverageLink, int] = defaultdict(int)  # rows each link joined (0: a stale link)
        self._link()

    def key(self, table: Table, row: Row, column: str) -> Key:
        return self.union.find(self.knowledge.count_key(table, row, column))

    def _link(self) -> None:
        k = self.knowledge
        for link in k.links:
            if link.indicator not in self.tables or link.other not in self.tables:
                continue
            table, other = self.tables[link.indicator], self.tables[link.other]
            for row in table.rows:
                targets = {
                    k.count_key(other, r, link.other_column) for r in _matching(other, _resolve(link.where, row))
                }
                if len(targets) > 1:
                    raise ModelError(f"link {link} names several counts for {row}: {sorted(targets, key=repr)}")
                for target in targets:
                    self.union.union(k.count_key(table, row, link.column), target)
                    self.matched[link] += 1

    # --- the tables ---

    def add_tables(self, model: Model, rules: PerturbationRules, threshold: int, code: str) -> None:
        """Variables, bounds, sums along the margins, existence and at-most knowledge of every table of counts."""
        k = self.knowledge
        for table in self.tables.values():
            if not table.counts:
                continue  # not counts of children: out of scope
            exists = k.exists.get(table.id, ())
            for position, row in enumerate(table.rows):
                for column in table.counts:
                    key = model.var(self.key(table, row, column))
                    value = row.get(column)
                    model.places[key].append((table.id, row, column, value))
                    if value == code and (position, column) in table.unbounded:
                        pass  # withheld by the audit: it may hold any value
                    elif value == code and any(row.get(c) == code for c in k.withheld_with(table, column)):
                        pass  # withheld with another count of the row: no bound of its own
                    elif (found := published_range(value, rules, threshold, code)) is not None:
                        model.bound(key, *found, f"{table.id} {column} published {value!r}")
                    if column in exists:
                        model.bound(key, 1, INF, f"{table.id}: a published row has {column} >= 1")
                for small, large in k.at_most.get(table.id, ()):
                    if small in table.counts and large in table.counts:
                        model.inequality(
                            _add({self.key(table, row, small): 1}, {self.key(table, row, large): -1}),
                            f"{table.id}: {small} <= {large}",
                        )
            for column in table.counts:
                if k.additive(table, column):
                    self._sums(model, table, column)

    def _sums(self, model: Model, table: Table, column: str) -> None:
        """For each margin d: a row with d = all is the sum of the rows equal to it elsewhere with d not all (the
        union of those members over every row holding the same count; rows not published hold zero)."""
        members: dict[tuple[Key, str], set[Key]] = defaultdict(set)
        others = {d: [x for x in table.dimensions if x != d] for d in table.margins}
        for d in table.margins:
            inner: dict[tuple[str, ...], list[Row]] = defaultdict(list)
            for row in table.rows:
                if str(row[d]) != ALL:
                    inner[tuple(str(row[x]) for x in others[d])].append(row)
            for row in table.rows:
                if str(row[d]) == ALL and (found := inner.get(tuple(str(row[x]) for x in others[d]))):
                    members[self.key(table, row, column), d] |= {self.key(table, m, column) for m in found}
        for (total, d), parts in members.items():
            coefficients: Coefficients = {total: 1}
            for part in parts:
                coefficients[part] = coefficients.get(part, 0) - 1
            model.equation(coefficients, f"{table.id} {column}: {total} = sum over {d}")

    # --- coverage ---

    def coverage_key(self, indicator: str, source: str, country: str) -> Key:
        owner = self.knowledge.shared_coverage.get(indicator, indicator)
        return ("coverage", owner, source, country)

    def add_coverage(
        self,
        model: Model,
        coverage: Mapping[str, Mapping[str, Any]],
        rules: PerturbationRules,
        threshold: int,
        code: str,
    ) -> None:
        """Coverage rows (basis_rows per source and country, and their total) as variables: each row exists only if
        its basis has a row; the total is the sum of the details; the coverage links. `coverage`: an indicator's
        `coverage` as snapshot.json publishes it (`detail` and the total `basis_rows`)."""
        k = self.knowledge
        for indicator, published_coverage in coverage.items():
            if indicator not in self.tables or not self.tables[indicator].counts:
                continue
            detail = published_coverage["detail"]
            total = model.var(self.coverage_key(indicator, ALL, ALL))
            shown = published_coverage.get("basis_rows")
            model.places[total].append((f"{indicator} coverage", {}, "basis_rows", shown))
            if (found := published_range(shown, rules, threshold, code)) is not None:
                model.bound(total, *found, f"{indicator} coverage total published {shown!r}")
            by_country: dict[str, list[Key]] = defaultdict(list)
            for row in detail:
                key = model.var(self.coverage_key(indicator, row["source_id"], row["country_iso3"]))
                model.places[key].append((f"{indicator} coverage", row, "basis_rows", row.get("basis_rows")))
                if (found := published_range(row.get("basis_rows"), rules, threshold, code)) is not None:
                    model.bound(key, *found, f"{indicator} coverage published {row.get('basis_rows')!r}")
                model.bound(key, 1, INF, f"{indicator} coverage: a row per source and country with basis rows")
                by_country[row["country_iso3"]].append(key)
            model.equation(
                _add({total: 1}, {key: -1 for keys in by_country.values() for key in keys}), f"{indicator} coverage"
            )
            for link in k.coverage_links:
                if link.indicator != indicator or link.other not in self.tables:
                    continue
                other = self.tables[link.other]
                if not link.per_country:
                    parts = {self.key(other, r, link.column) for r in _matching(other, _resolve(link.where, {}))}
                    if parts:
                        model.equation(_add({total: 1}, dict.fromkeys(parts, -1)), f"{indicator} coverage total")
                        self.matched[link] += 1
                    continue
                for country, keys in by_country.items():
                    targets = {
                        self.key(other, r, link.column)
                        for r in _matching(other, _resolve(link.where, {"country_iso3": country}))
                    }
                    if len(targets) > 1:
                        raise ModelError(f"coverage link {link} names several counts for {country}")
                    for target in targets:
                        model.equation(_add({target: 1}, dict.fromkeys(keys, -1)), f"{indicator} coverage {country}")
                        self.matched[link] += 1


def add_differences(model: Model, builder: Builder, before: Table, after: Table, grows: bool) -> dict[Key, Key]:
    """Two publications of one table, before and after a change the intruder knows the direction of (a file added:
    every count grows; a batch removed: every count shrinks): a variable per row for its contribution, the after
    minus the before count (or the reverse), at least 0. A row published in only one of them holds 0 in the other
    (a row exists only where records are). The contribution variables by the row's dimension values."""
    count = before.counts[0]
    if before.dimensions != after.dimensions or after.counts[:1] != (count,):
        raise ModelError("the two publications are not of one table")
    sign = 1 if grows else -1
    keys: dict[Key, dict[str, Key]] = defaultdict(dict)
    for label, table in (("before", before), ("after", after)):
        for row in table.rows:
            keys[tuple(str(row[d]) for d in table.dimensions)][label] = builder.key(table, row, count)
    contributions = {}
    for cell, found in keys.items():
        contribution = model.var(("contribution", before.id, after.id, cell))
        model.bound(contribution, 0, INF, "a contribution is never negative")
        coefficients = {contribution: -1}
        for label, c in (("after", sign), ("before", -sign)):
            if label in found:
                coefficients = _add(coefficients, {found[label]: c})
        model.equation(coefficients, f"contribution to {cell}")
        contributions[cell] = contribution
    return contributions


BEFORE, AFTER = "before/", "after/"  # the prefixes of the two publications' table ids in one model


@dataclass
class Publications:
    """Two snapshots in one model: their tables (ids prefixed BEFORE and AFTER), and for every count the change
    touched, a contribution variable: the change's size in children, after - before for an addition (a file added),
    before - after for a removal (a batch rejected), at least 0 either way. `contributions`: each contribution
    variable with the before and after variables it is the difference of (None: the row is absent there and its
    count 0; `absent` gives the key it would have there); `one_sided_left_out`: counts of rows published in only
    one snapshot that are not known to be 0 where absent (no contribution for them)."""

    model: Model
    builder: Builder
    before: dict[str, Table]
    after: dict[str, Table]
    grows: bool
    contributions: dict[Key, tuple[Key | None, Key | None]] = field(default_factory=dict)
    # a contribution of a row in one snapshot only -> the key its count would have in the other (held 0 there)
    absent: dict[Key, Key] = field(default_factory=dict)
    one_sided_left_out: int = 0


def publications_model(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    grows: bool,
    unbounded: Mapping[tuple[str, str], frozenset[tuple[int, str]]] | None = None,
    source: str | None = None,
    scope: Mapping[str, str] | None = None,
    knowledge: Knowledge | None = None,
) -> Publications:
    """The intruder's model of two snapshot.json documents made before and after a change whose direction the
    intruder knows (the snapshots list their approved batches): each snapshot's tables and coverage with its own
    knowledge, and the contributions of the change to every count of a table published in both (a row published in
    only one holds 0 in the other where the knowledge says so: ZERO_WHEN_ABSENT; a coverage row exists only where its
    basis has rows). `unbounded`: (BEFORE or AFTER, table id) -> the (row position, count) withheld by that
    snapshot's audit. What else the intruder knows of the change, each making contributions 0: `source`, the changed
    batch's source (the snapshots list it): a table none of whose sources it is (its published coverage), and a
    coverage row of another source, do not change; `scope`, dimension values the batch's records all have (e.g. a
    country's file, known from its name): a count of a row with another value in that dimension (not "all") does not
    change, nor a coverage row of another country."""
    if rules_of(before) != rules_of(after):
        raise ModelError("the two snapshots were protected with different rules")
    rules, threshold, code = rules_of(before)
    unbounded, scope = unbounded or {}, dict(scope or {})
    tables = {
        prefix: {
            t.id: replace(t, id=prefix + t.id, unbounded=unbounded.get((prefix, t.id), frozenset()))
            for t in tables_of(document)
        }
        for prefix, document in ((BEFORE, before), (AFTER, after))
    }
    k = knowledge or Knowledge()
    builder = Builder([*tables[BEFORE].values(), *tables[AFTER].values()], Knowledge.joined(*map(k.prefixed, tables)))
    model = Model()
    builder.add_tables(model, rules, threshold, code)
    for prefix, document in ((BEFORE, before), (AFTER, after)):
        coverage = {prefix + i["id"]: i["coverage"] for i in document["indicators"] if i["metadata"]["counts"]}
        builder.add_coverage(model, coverage, rules, threshold, code)
    found = Publications(model, builder, tables[BEFORE], tables[AFTER], grows)
    untouched: set[str] = set()
    if source is not None:  # a table none of whose sources it is, before nor after
        untouched = set.intersection(
            *({i["id"] for i in d["indicators"] if source not in i["coverage"]["sources"]} for d in (before, after))
        )
    linked = {
        (link.indicator, link.column) for link in k.links
    }  # counts of another row: the row's values are not theirs

    def outside(row: Row, dimensions: Sequence[str]) -> str | None:
        """The scope's dimension a row lies outside of, if any."""
        return next((d for d in dimensions if d in scope and str(row[d]) not in (scope[d], ALL)), None)

    # (before, after) variables -> why their contribution is 0 (empty: no knowledge of it), and for a row in one
    # snapshot only, the key its count would have in the other (the test reads the truth there: none, or 0, when
    # the knowledge is right)
    pairs: dict[tuple[Key | None, Key | None], list[str]] = defaultdict(list)
    one_sided: dict[tuple[Key | None, Key | None], list[str]] = defaultdict(list)
    counterparts: dict[tuple[Key | None, Key | None], Key] = {}
    names = sorted(tables[BEFORE].keys() & tables[AFTER].keys())
    for name in names:
        old, new = tables[BEFORE][name], tables[AFTER][name]
        if (old.dimensions, old.counts) != (new.dimensions, new.counts):
            continue  # not one table
        rows: dict[tuple[str, ...], dict[str, Row]] = defaultdict(dict)
        for label, table in ((BEFORE, old), (AFTER, new)):
            for row in table.rows:
                rows[tuple(str(row[d]) for d in table.dimensions)][label] = row
        zero = k.zero_when_absent.get(name, ())
        for column in old.counts:
            for found_rows in rows.values():
                b, a = (builder.key(t, found_rows[x], column) if x in found_rows else None for x, t in
                        ((BEFORE, old), (AFTER, new)))  # fmt: skip
                row = found_rows.get(BEFORE) or found_rows[AFTER]
                why = [f"{name}: the change touches none of its sources"] if name in untouched else []
                if (name, column) not in linked and (d := outside(row, old.dimensions)):
                    why.append(f"{name}: {d} {row[d]} is outside the change's scope")
                if b is not None and a is not None:
                    pairs[b, a] += why
                elif column in zero:
                    one_sided[b, a] += why
                    counterparts.setdefault((b, a), builder.key(new if a is None else old, row, column))
                else:
                    found.one_sided_left_out += 1
    for name in names:
        keys = {
            prefix: {key[2:]: key for key in model.variables if key[:2] == ("coverage", prefix + name)}
            for prefix in (BEFORE, AFTER)
        }
        for place in keys[BEFORE].keys() | keys[AFTER].keys():
            b, a = keys[BEFORE].get(place), keys[AFTER].get(place)
            why = [f"{name} coverage: the change touches none of its sources"] if name in untouched else []
            if source is not None and place[0] not in (source, ALL):
                why.append(f"{name} coverage of {place[0]}: not the changed batch's source")
            if outside({"country_iso3": place[1]}, ("country_iso3",)):
                why.append(f"{name} coverage of {place[1]}: outside the change's scope")
            if b is not None and a is not None:
                pairs[b, a] += why
            else:  # a coverage row exists only where its basis has rows
                one_sided[b, a] += why
                counterparts[b, a] = ("coverage", (AFTER if a is None else BEFORE) + name, *place)
    # a variable of a row absent from one snapshot may be the variable of another row present in both (a link):
    # then its count there is that row's, not 0
    paired = {key for pair in pairs for key in pair}
    sign = 1 if grows else -1
    for (b, a), why in [*pairs.items(), *((p, w) for p, w in one_sided.items() if not paired & set(p))]:
        contribution = model.var(("contribution", b, a))
        model.equation(_add({contribution: -1}, {a: sign} if a else {}, {b: -sign} if b else {}), f"change of {b}, {a}")
        if why:  # a count of a table or cell the change cannot touch (whatever else it is a count of)
            model.bound(contribution, 0, 0, "; ".join(sorted(set(why))))
        found.contributions[contribution] = (b, a)
        if (b, a) in counterparts:
            found.absent[contribution] = counterparts[b, a]
    return found


def _add(*parts: Mapping[Key, int]) -> Coefficients:
    out: Coefficients = {}
    for part in parts:
        for key, c in part.items():
            out[key] = out.get(key, 0) + c
    return out


# --- from a snapshot --------------------------------------------------------------------------------------------


def rules_of(document: Mapping[str, Any]) -> tuple[PerturbationRules, int, str]:
    """The ptable's rules, the threshold and the withheld code, as snapshot.json publishes them."""
    disclosure = document["snapshot"]["disclosure"]
    rules = PerturbationRules(**disclosure["perturbation"]["parameters"])
    return rules, int(disclosure["parameters"]["threshold"]), disclosure["code"]


def tables_of(document: Mapping[str, Any]) -> list[Table]:
    """The tables of counts of children of a snapshot (the others are out of scope)."""
    return [Table.of(ind) for ind in document["indicators"] if ind["metadata"]["counts"]]


def snapshot_model(document: Mapping[str, Any], knowledge: Knowledge | None = None) -> tuple[Model, Builder]:
    """The intruder's model of a snapshot, from snapshot.json alone."""
    rules, threshold, code = rules_of(document)
    builder = Builder(tables_of(document), knowledge)
    model = Model()
    builder.add_tables(model, rules, threshold, code)
    coverage = {ind["id"]: ind["coverage"] for ind in document["indicators"] if ind["metadata"]["counts"]}
    builder.add_coverage(model, coverage, rules, threshold, code)
    return model, builder


# --- the truth (not the intruder's) -------------------------------------------------------------------------------


def truth_of(
    builder: Builder, cells: Mapping[str, Sequence[Row]], coverage: Mapping[str, Sequence[Row]] | None = None
) -> tuple[dict[Key, int], list[str]]:
    """The true count of every variable from the unperturbed cells (and coverage rows with basis_rows) of the
    tables, read with the builder's keys; and the contradictions: one variable given two different true counts (a
    wrong merge)."""
    truth: dict[Key, int] = {}
    problems = []

    def put(key: Key, value: Any, where: str) -> None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        value = int(value)
        if key in truth and truth[key] != value:
            problems.append(f"{key} is {truth[key]} and {value} ({where})")
        truth.setdefault(key, value)

    for table_id, rows in cells.items():
        if table_id not in builder.tables or not builder.tables[table_id].counts:
            continue
        table = builder.tables[table_id]
        for row in rows:
            for column in table.counts:
                put(builder.key(table, row, column), row.get(column), f"{table_id} {column} {dict(row)}")
    for indicator, detail in (coverage or {}).items():
        if indicator not in builder.tables or not builder.tables[indicator].counts:
            continue
        total = 0
        for row in detail:
            put(builder.coverage_key(indicator, row["source_id"], row["country_iso3"]), row["basis_rows"], indicator)
            total += int(row["basis_rows"])
        put(builder.coverage_key(indicator, ALL, ALL), total, f"{indicator} coverage total")
    return truth, problems


def unsound(model: Model, truth: Mapping[Key, int]) -> list[str]:
    """Everything in the model that does not hold on the true counts (empty when the model is sound)."""
    problems = [f"no true count for {key}" for key in model.variables if key not in truth]
    for key in model.variables:
        if key in truth and not model.lo[key] <= truth[key] <= model.hi[key]:
            problems.append(f"{key} = {truth[key]} outside [{model.lo[key]}, {model.hi[key]}]: {model.why[key]}")
    for kind, rows, holds in (
        ("equation", model.equations, lambda s: s == 0),
        ("inequality", model.inequalities, lambda s: s <= 0),
    ):
        for i, coefficients in enumerate(rows):
            if all(k in truth for k in coefficients):
                total = sum(c * truth[k] for k, c in coefficients.items())
                if not holds(total):
                    terms = {k: (c, truth[k]) for k, c in coefficients.items()}
                    problems.append(f"{kind} {model.why[(kind, i)]} gives {total} on the truth: {terms}")
    return problems


# --- the attack -------------------------------------------------------------------------------------------------


def components(model: Model) -> list[list[Key]]:
    """The variables in groups that share no equation or inequality with another group."""
    union = _Union()
    for key in model.variables:
        union.find(key)
    for coefficients in (*model.equations, *model.inequalities):
        first, *rest = coefficients
        for key in rest:
            union.union(first, key)
    groups: dict[Key, list[Key]] = defaultdict(list)
    for key in model.variables:
        groups[union.find(key)].append(key)
    return list(groups.values())


@dataclass
class Attack:
    """Each variable's range over every integer solution of the model, and how many programs were solved."""

    ranges: dict[Key, tuple[float, float]]
    linear_programs: int = 0
    integer_programs: int = 0
    witnessed: int = 0  # optima at a variable's own bound, read from a whole-number solution of another program
    # variables whose range is the linear one though an optimum was not a whole-number solution (the range was too
    # wide for an integer program): the integer range may be narrower (never wider) than the one given
    linear_only: list[Key] = field(default_factory=list)


def attack(model: Model, narrow: int = LP_NARROW) -> Attack:
    """The least and greatest value of every variable over the integer solutions of the model, per component (a
    variable alone keeps its own bounds): a linear program for each; an optimum at a whole-number solution is the
    integer optimum too, any other is refined by an integer program when the range is narrower than `narrow` (else
    the variable is listed in linear_only)."""
    result = Attack({})
    for group in components(model):
        if len(group) == 1:
            result.ranges[group[0]] = model.own_range(group[0])
            continue
        _attack_group(model, group, narrow, result)
    return result


def _matrix(rows: Sequence[Coefficients], index: Mapping[Key, int]) -> np.ndarray:
    matrix = np.zeros((len(rows), len(index)))
    for i, coefficients in enumerate(rows):
        for key, c in coefficients.items():
            matrix[i, index[key]] = c
    return matrix


def _attack_group(model: Model, group: list[Key], narrow: int, result: Attack) -> None:
    index = {key: i for i, key in enumerate(group)}
    members = set(group)
    # sparse: the solvers take them as they are (a dense matrix is converted again for every program)
    equations = csr_array(_matrix([e for e in model.equations if next(iter(e)) in members], index))
    inequalities = csr_array(_matrix([e for e in model.inequalities if next(iter(e)) in members], index))
    lo = np.array([model.lo[k] for k in group], dtype=float)
    hi = np.array([model.hi[k] for k in group], dtype=float)
    bounds = list(zip(lo, [None if math.isinf(h) else h for h in hi], strict=True))
    constraints = {
        "A_eq": equations if equations.shape[0] else None,
        "b_eq": np.zeros(equations.shape[0]) if equations.shape[0] else None,
        "A_ub": inequalities if inequalities.shape[0] else None,
        "b_ub": np.zeros(inequalities.shape[0]) if inequalities.shape[0] else None,
    }
    integer = [LinearConstraint(m, lb, 0) for m, lb in ((equations, 0), (inequalities, -np.inf)) if m.shape[0]]
    # the least and greatest value of each variable in the whole-number solutions found so far: one at a variable's
    # own bound is its optimum that way (no program needed)
    seen_lo, seen_hi = np.full(len(group), INF), np.full(len(group), -INF)
    for i, key in enumerate(group):
        extremes, whole = [], []
        for sign in (1, -1):
            if seen_lo[i] <= lo[i] if sign == 1 else seen_hi[i] >= hi[i]:
                extremes.append(lo[i] if sign == 1 else hi[i])
                whole.append(True)
                result.witnessed += 1
                continue
            c = np.zeros(len(group))
            c[i] = sign
            found = linprog(c, bounds=bounds, method="highs", **constraints)
            result.linear_programs += 1
            if found.status == 3:  # unbounded: only a maximum can be
                extremes.append(INF)
                whole.append(True)
                continue
            if found.status != 0:
                raise ModelError(f"the linear program for {key} failed ({found.message}): the model is inconsistent")
            extremes.append(sign * found.fun)
            # an optimum at a whole-number solution is the integer program's optimum too
            whole.append(bool(np.all(np.abs(found.x - np.round(found.x)) <= EPS)))
            if whole[-1]:
                np.minimum(seen_lo, np.round(found.x), out=seen_lo)
                np.maximum(seen_hi, np.round(found.x), out=seen_hi)
        low = math.ceil(extremes[0] - EPS)
        high = extremes[1] if math.isinf(extremes[1]) else math.floor(extremes[1] + EPS)
        if high - low >= narrow and not all(whole):
            result.linear_only.append(key)
        elif high - low < narrow:
            for j, sign in enumerate((1, -1)):
                if whole[j]:
                    continue
                c = np.zeros(len(group))
                c[i] = sign
                found = milp(c, integrality=np.ones(len(group)), bounds=Bounds(lo, hi), constraints=integer)
                result.integer_programs += 1
                if found.status != 0:
                    raise ModelError(f"the integer program for {key} failed ({found.message})")
                value = round(sign * found.fun)
                low, high = (value, high) if j == 0 else (low, value)
        result.ranges[key] = (low, high)


# --- what the attack found ----------------------------------------------------------------------------------------


def disclosed(low: float, high: float, smallest_published: int) -> bool:
    """Whether a range pins its count, or puts it within 1 .. smallest_published - 1 (a small group of children)."""
    return low == high or (low >= 1 and high <= smallest_published - 1)


def disclosures(found: Attack, smallest_published: int) -> dict[Key, tuple[float, float]]:
    return {k: r for k, r in found.ranges.items() if disclosed(*r, smallest_published)}


def narrowed(model: Model, found: Attack) -> dict[Key, tuple[tuple[float, float], tuple[float, float]]]:
    """The variables the attack narrowed below their own bounds: key -> (own range, attacked range)."""
    return {k: (model.own_range(k), r) for k, r in found.ranges.items() if r[0] > model.lo[k] or r[1] < model.hi[k]}


def largest_changes(model: Model, truth: Mapping[Key, int], code: str) -> dict[str, Any]:
    """The largest absolute and relative difference between a published count and its true count."""
    absolute: tuple[float, Any] = (-1, None)
    relative: tuple[float, Any] = (-1, None)
    for key, places in model.places.items():
        for table, row, column, value in places:
            if value is None or value == code or key not in truth:
                continue
            change = int(value) - truth[key]
            where = (table, {d: v for d, v in row.items() if isinstance(v, str) and v != code}, column)
            if abs(change) > absolute[0]:
                absolute = (abs(change), (*where, truth[key], value))
            if truth[key] and abs(change) / truth[key] > relative[0]:
                relative = (abs(change) / truth[key], (*where, truth[key], value))
    return {"absolute": absolute, "relative": relative}
