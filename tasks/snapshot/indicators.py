"""Indicators: one SQL file each under sql/indicators (metadata header, basis, indicator), computed in the
warehouse over the approved views, with the coverage (sources, countries, periods) each one rests on."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from pop import paths
from pop.sql_header import header_list, read_sql_file
from schemas.spec import GROUPS
from tasks.snapshot.margins import Formula, MarginError, Operand, Totals, parse_formula, with_totals

log = logging.getLogger(__name__)

REQUIRED = (
    "id",
    "title",
    "description",
    "unit",
    "numerator",
    "denominator",
    "dimensions",
    "values",
    "counts",
    "groups",
    "caveats",
)
UNITS = ("share", "count", "percentage_points", "number")
TOTAL = "all"  # a dimension's value on a total row
TOTALS_KEYS = ("sums", "one_way", "computed", "nonzero")  # how the totals along the margins are generated
KEY = "_key"  # a count's companion column: the sum of the record keys of what it counts, weighted by their count


class IndicatorError(ValueError):
    """An indicator file cannot be used or did not run; the message says which and what to fix."""


@dataclass(frozen=True)
class Indicator:
    """One indicator: its metadata header and its two statements (the basis and the indicator over it)."""

    id: str
    title: str
    description: str
    unit: str
    numerator: str
    denominator: str
    dimensions: tuple[str, ...]
    margins: tuple[str, ...]
    nested: tuple[str, ...]
    values: tuple[str, ...]
    counts: tuple[str, ...]  # empty: not counts of children (see disclosure)
    disclosure: str
    attributes: tuple[str, ...]
    contributors: tuple[str, ...]  # counts of the organisations' reports behind a cell: withheld, the whole row is
    groups: tuple[str, ...]
    caveats: str
    chart: str
    basis_sql: str
    indicator_sql: str
    totals: Totals | None  # how the total rows are generated from the inner cells; None: no margins
    path: Path = field(compare=False)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the indicator publishes, in order."""
        return self.dimensions + self.values + self.counts + self.attributes

    @property
    def keyed(self) -> tuple[str, ...]:
        """The counts the statement returns (the others are computed from them): each comes with its cell key
        column (KEY), so disclosure control can perturb it."""
        computed = self.totals.targets if self.totals is not None else ()
        return tuple(c for c in self.counts if c not in computed)

    @property
    def keys(self) -> tuple[str, ...]:
        """The cell key columns the statement returns, one per keyed count."""
        return tuple(c + KEY for c in self.keyed)

    @property
    def kept(self) -> tuple[str, ...]:
        """The columns of the cells that are not published but kept to compute them again after disclosure control:
        the cell keys, and the sums and computed columns the formulas read."""
        made = (self.totals.sums + self.totals.targets) if self.totals is not None else ()
        return tuple(c for c in dict.fromkeys((*self.keys, *made, *self.inputs)) if c not in self.columns)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The columns the computed formulas read that the indicator neither publishes nor makes (weighted sums of
        an indicator without margins)."""
        if self.totals is None:
            return ()
        made = self.totals.sums + self.totals.targets + self.columns + self.keys
        read = (op.column for f in self.totals.computed for op in f.operands)
        return tuple(c for c in dict.fromkeys(read) if c not in made)

    @property
    def returned(self) -> tuple[str, ...]:
        """The columns the indicator statement returns: with generated totals, the inner cells' dimensions, sums
        and attributes (values and counts are summed or computed on the totals); and the counts' cell keys."""
        if self.totals is None:
            return self.columns + self.keys
        made = self.totals.sums + self.totals.targets
        plain = tuple(c for c in self.columns if c not in self.totals.targets)
        if not self.margins:
            return plain + self.keys + self.inputs
        return self.dimensions + self.totals.sums + tuple(a for a in self.attributes if a not in made)

    def metadata(self) -> dict[str, Any]:
        """The header as published with the indicator."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "unit": self.unit,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "dimensions": list(self.dimensions),
            "margins": list(self.margins),
            "values": list(self.values),
            "counts": list(self.counts),
            "attributes": list(self.attributes),
            "contributors": list(self.contributors),
            "stakeholder_groups": list(self.groups),
            "caveats": self.caveats,
            "disclosure": self.disclosure or None,
            "sql": f"sql/indicators/{self.path.name}",
        }


def _statements(sql: str, name: str, expected: int = 2) -> list[str]:
    """The file's statements: the basis and the indicator over it (or only the indicator, when its header names
    another indicator's basis), split on ';'."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    parts = [part.strip() for part in body.split(";") if part.strip()]
    if len(parts) != expected:
        what = (
            "two statements (the basis, then the indicator over `basis`)"
            if expected == 2
            else "one statement (the indicator over the basis its header names)"
        )
        raise IndicatorError(f"{name}: expected {what}, found {len(parts)}")
    return parts


def _totals(fields: dict[str, str], dims: tuple[str, ...], counts: tuple[str, ...], name: str) -> Totals | None:
    """How the header says to generate the totals along its margins (and the computed columns); None without
    either. The cell keys of the counts summed add up along the margins too."""
    margins = header_list(fields.get("margins"))
    if not margins:
        if given := [key for key in TOTALS_KEYS if key != "computed" and fields.get(key)]:
            raise IndicatorError(f"{name}: {', '.join(given)} without margins: there are no totals to generate")
        if not fields.get("computed"):
            return None
        try:
            computed = tuple(parse_formula(item) for item in header_list(fields["computed"]))
            return Totals(dimensions=dims, margins=(), sums=(), computed=computed)
        except MarginError as exc:
            raise IndicatorError(f"{name}: {exc}") from exc
    if not fields.get("sums"):
        raise IndicatorError(
            f"{name}: with margins the header must name under 'sums' the columns that add up along them "
            "(the statement returns the inner cells; the totals are generated)"
        )
    try:
        return Totals(
            dimensions=dims,
            margins=margins,
            sums=(sums := header_list(fields["sums"])) + tuple(c + KEY for c in sums if c in counts),
            # a nested dimension without a margin (a question, fixed by its answer) has no totals to hold back
            nested=tuple(d for d in header_list(fields.get("nested")) if d in margins),
            one_way=header_list(fields.get("one_way")),
            computed=_with_keys(tuple(parse_formula(item) for item in header_list(fields.get("computed"))), counts),
            nonzero=header_list(fields.get("nonzero")),
        )
    except MarginError as exc:
        raise IndicatorError(f"{name}: {exc}") from exc


def _with_keys(computed: tuple[Formula, ...], counts: tuple[str, ...]) -> tuple[Formula, ...]:
    """The formulas, and for a count that copies another (`base = cases[reason=all]`) the copy of its cell key: the
    same records, the same key."""
    copies = tuple(
        Formula(f.target + KEY, Operand(f.numerator.column + KEY, f.numerator.of_total))
        for f in computed
        if f.target in counts and f.denominator is None and f.numerator.column in counts
    )
    return computed + copies


def _check_totals(indicator: Indicator) -> None:
    """Raise IndicatorError unless the totals give every published value and count, and what they read."""
    totals = indicator.totals
    if totals is None:
        return
    made = totals.sums + totals.targets
    returned = () if totals.margins else indicator.returned
    if unmade := [c for c in indicator.values + indicator.counts if c not in made + returned]:
        raise IndicatorError(
            f"{indicator.path.name}: {', '.join(unmade)} must be summed (sums) or computed (computed) on the totals"
        )
    known = indicator.returned + totals.targets
    read = [op.column for f in totals.computed for op in f.operands] + list(totals.nonzero)
    if unknown := [c for c in read if c not in known]:
        raise IndicatorError(f"{indicator.path.name}: computed or nonzero reads unknown column(s) {', '.join(unknown)}")


def load_indicator(path: Path) -> Indicator:
    """An indicator file with its header checked."""
    sql, fields = read_sql_file(path, REQUIRED, IndicatorError)
    if fields["unit"] not in UNITS:
        raise IndicatorError(f"{path.name}: unit {fields['unit']!r} is not one of {', '.join(UNITS)}")
    groups = header_list(fields["groups"])
    if unknown := [g for g in groups if g not in GROUPS]:
        raise IndicatorError(
            f"{path.name}: unknown stakeholder group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}"
        )
    dims = header_list(fields["dimensions"])
    for key in ("margins", "nested"):
        if stray := [d for d in header_list(fields.get(key)) if d not in dims]:
            raise IndicatorError(f"{path.name}: {key} {', '.join(stray)} not among the dimensions {', '.join(dims)}")
    counts = () if fields["counts"] == "none" else header_list(fields["counts"])
    if stray := [c for c in header_list(fields.get("contributors")) if c not in counts]:
        raise IndicatorError(f"{path.name}: contributors {', '.join(stray)} not among the counts {', '.join(counts)}")
    if not counts and not fields.get("disclosure"):
        raise IndicatorError(
            f"{path.name}: with 'counts: none' the header must say under 'disclosure' why its "
            "numbers are not counts of children"
        )
    if shared := fields.get("basis"):  # the basis of another indicator, computed once for both
        other = path.parent / f"{shared}.sql"
        if shared == path.stem or not other.exists():
            raise IndicatorError(f"{path.name}: basis {shared!r} must name another indicator file in {path.parent}")
        basis, indicator = load_indicator(other).basis_sql, _statements(sql, path.name, expected=1)[0]
    else:
        basis, indicator = _statements(sql, path.name)
    loaded = Indicator(
        id=fields["id"],
        title=fields["title"],
        description=fields["description"],
        unit=fields["unit"],
        numerator=fields["numerator"],
        denominator=fields["denominator"],
        dimensions=dims,
        margins=header_list(fields.get("margins")),
        nested=header_list(fields.get("nested")),
        values=header_list(fields["values"]),
        counts=counts,
        disclosure=fields.get("disclosure", ""),
        attributes=header_list(fields.get("attributes")),
        contributors=header_list(fields.get("contributors")),
        groups=groups,
        caveats=fields["caveats"],
        chart=fields.get("chart", "none"),
        basis_sql=basis,
        indicator_sql=indicator,
        totals=_totals(fields, dims, counts, path.name),
        path=path,
    )
    _check_totals(loaded)
    return loaded


def load_indicators(folder: Path = paths.INDICATORS) -> list[Indicator]:
    """Every indicator under sql/indicators, in file-name order."""
    return [load_indicator(path) for path in sorted(folder.glob("*.sql"))]


BASIS_TABLE = "basis"  # the temporary table each indicator statement reads
COVERAGE_SQL = (
    "SELECT source_id, country_iso3, MIN(period) AS first_period, MAX(period) AS last_period, "
    "{rows} AS basis_rows, {keys} AS basis_keys FROM basis GROUP BY source_id, country_iso3"
)
RECORD_KEY = "record_key"  # a basis of fact rows carries each row's record key (pop.record_keys) ...
FACT_KEYS = "fact_keys"  # ... and a basis that adds up fact rows the sum of their keys
FACT_ROWS = "fact_rows"  # a basis that adds up fact rows says in this column how many each of its rows stands for


def _plain(value: Any) -> Any:
    """A database value as published, the same from every backend: whole Decimals (PostgreSQL's sums of integers)
    as int, other Decimals as float, NaN as None, booleans as 0/1."""
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool):
        return int(value)
    return value


@dataclass
class IndicatorResult:
    """An indicator's cells (one row per cell, sorted by its dimensions) and its coverage."""

    indicator: Indicator
    cells: pd.DataFrame
    coverage: list[dict[str, Any]]


def make_basis(conn: Connection, indicator: Indicator) -> str:
    """The indicator's basis as the temporary table `basis`; the SQL to compute its coverage."""
    conn.execute(text(f"CREATE TEMPORARY TABLE {BASIS_TABLE} AS {indicator.basis_sql}"))
    # each basis has its own shape: its own statement text, so PostgreSQL never reuses a plan prepared for
    # another basis ("cached plan must not change result type")
    columns = set(conn.execute(text(f"SELECT * FROM {BASIS_TABLE} WHERE 1 = 0 -- {indicator.id}")).keys())
    if {"batch_id", "row_number"} <= columns:
        # a basis of fact rows is joined back to their multi-select answers (fact_choices) by row
        conn.execute(text(f"CREATE INDEX ix_basis_row ON {BASIS_TABLE} (batch_id, row_number)"))
    rows = f"SUM({FACT_ROWS})" if FACT_ROWS in columns else "COUNT(*)"
    keys = f"SUM({FACT_KEYS})" if FACT_ROWS in columns else f"SUM({RECORD_KEY})" if RECORD_KEY in columns else "NULL"
    if indicator.counts and keys == "NULL":
        raise IndicatorError(
            f"{indicator.path.name}: the basis of an indicator of counts of children must return each row's "
            f"{RECORD_KEY} (or, adding up fact rows, {FACT_ROWS} and {FACT_KEYS}), so its coverage can be protected"
        )
    return COVERAGE_SQL.format(rows=rows, keys=keys) + f" -- {indicator.id}"


def drop_basis(conn: Connection) -> None:
    conn.execute(text(f"DROP TABLE IF EXISTS {BASIS_TABLE}"))


def _rows(conn: Connection, sql: str) -> list[dict[str, Any]]:
    """A statement's rows, their values as published (see _plain)."""
    return [{k: _plain(v) for k, v in row.items()} for row in conn.execute(text(sql)).mappings()]


def _failed(indicator: Indicator, exc: Exception) -> IndicatorError:
    return IndicatorError(f"{indicator.path.name}: the indicator failed to run ({exc.__class__.__name__}: {exc})")


def cells_of(indicator: Indicator, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows of the indicator statement as its cells: totals generated, columns checked, sorted by dimension."""
    if not rows:
        return pd.DataFrame(columns=[*indicator.columns, *indicator.kept])
    if missing := [c for c in indicator.returned if c not in rows[0]]:
        raise IndicatorError(
            f"{indicator.path.name}: the query does not return the column(s) {', '.join(missing)} its header declares"
        )
    cells = pd.DataFrame(rows)
    for dim in indicator.dimensions:
        cells[dim] = cells[dim].astype(str)
    if indicator.totals is not None:
        try:
            cells = with_totals(cells, indicator.totals)
        except MarginError as exc:
            raise IndicatorError(f"{indicator.path.name}: {exc}") from exc
    cells = cells[[*indicator.columns, *indicator.kept]]
    if cells.duplicated(list(indicator.dimensions)).any():
        raise IndicatorError(
            f"{indicator.path.name}: the query returned the same cell twice "
            f"(dimensions {', '.join(indicator.dimensions)})"
        )
    return cells.sort_values(list(indicator.dimensions), kind="stable").reset_index(drop=True)


def indicator_cells(conn: Connection, indicator: Indicator) -> pd.DataFrame:
    """The indicator's cells over the temporary table `basis` as it stands (made by make_basis, or a test's)."""
    try:
        rows = _rows(conn, indicator.indicator_sql)
    except Exception as exc:
        raise _failed(indicator, exc) from exc
    return cells_of(indicator, rows)


def run_indicator(conn: Connection, indicator: Indicator, coverage_sql: str | None = None) -> IndicatorResult:
    """Compute one indicator in the database: its cells and its coverage. With `coverage_sql`, its basis is
    already the temporary table `basis` (shared with the indicator before it); otherwise it is made here."""
    made_here = coverage_sql is None
    try:
        if made_here:
            coverage_sql = make_basis(conn, indicator)
        try:
            rows = _rows(conn, indicator.indicator_sql)
            coverage = _rows(conn, coverage_sql)
        finally:
            if made_here:
                drop_basis(conn)
    except Exception as exc:
        raise _failed(indicator, exc) from exc
    coverage.sort(key=lambda r: (r["source_id"], r["country_iso3"]))
    return IndicatorResult(indicator, cells_of(indicator, rows), coverage)


def compute_indicators(conn: Connection, indicators: list[Indicator]) -> dict[str, IndicatorResult]:
    """Every indicator's cells and coverage, by id; indicators sharing a basis compute it once."""
    results = {}
    by_basis: dict[str, list[Indicator]] = {}
    for indicator in indicators:
        by_basis.setdefault(indicator.basis_sql, []).append(indicator)
    for group in by_basis.values():
        try:
            coverage_sql = make_basis(conn, group[0])
        except Exception as exc:
            raise IndicatorError(
                f"{group[0].path.name}: its basis failed to run ({exc.__class__.__name__}: {exc})"
            ) from exc
        try:
            for indicator in group:
                results[indicator.id] = run_indicator(conn, indicator, coverage_sql)
                log.info("indicator %s: %d cell(s)", indicator.id, len(results[indicator.id].cells))
        finally:
            drop_basis(conn)
    return {i.id: results[i.id] for i in indicators}
