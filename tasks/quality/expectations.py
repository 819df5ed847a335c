"""Great Expectations on the warehouse: one suite per fact table derived from schemas/<group>.yaml, one on source
freshness, run by the checkpoints of the committed GX project in gx/; every outcome is stored in quality_results and
the Data Docs are written under the outputs folder.

The committed project holds no run-time value: the warehouse URL and the folders of validation results and Data Docs
are ${VARIABLES} in gx/great_expectations.yml, set from the call's arguments while the checks run."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection, func, select, text

from pop import paths, views
from pop.contracts import BatchStatus, FailedExpectation, QualityOutcome, SuiteOutcome
from pop.db import get_engine, writing
from pop.models import DimCompany, DimCountry, DimOrganisation, DimPeriod, DimPlatform, QualityResult, SourceRecord
from pop.paths import OutputPaths
from pop.settings import get_settings
from schemas.kinds import COMPANY_CODES, COUNTRY_CODES, ORGANISATION_CODES, PLATFORM_CODES
from schemas.spec import GROUPS, FieldSpec, SourceSchema, load_schema
from tasks.quality.data_docs import make_offline

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuite, ExpectationSuiteValidationResult
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.data_context import FileDataContext
    from great_expectations.expectations import Expectation

log = logging.getLogger(__name__)

ENV_URL, ENV_RESULTS, ENV_DOCS = "POP_GX_WAREHOUSE_URL", "POP_GX_RESULTS_DIR", "POP_GX_DATA_DOCS_DIR"
WAREHOUSE, FRAMES, ALL_ROWS = "warehouse", "quality_frames", "all_rows"
FRESHNESS = "source_freshness"
SITE = "pop_data_docs"
TABLES_CHECKPOINT, FRESHNESS_CHECKPOINT = "warehouse_tables", "warehouse_freshness"
FRESHNESS_DAYS: dict[str, int | None] = {
    "daily": 2,
    "weekly": 8,
    "monthly": 35,
    "quarterly": 100,
    "half-yearly": 190,
    "yearly": 400,
    "ad-hoc": None,
}
EXAMPLES = 10  # unexpected values kept per failed expectation
# a failed row expectation reports where its first rows are: in a fact table, the source, batch and row in the sent
# file; in the freshness frame, the source. The Data Docs show those places only in a COMPLETE result, which fetches
# every failing row: affordable for the frame (a row per source), not for the fact tables.
TABLE_RESULTS = {"result_format": "SUMMARY", "unexpected_index_column_names": ["source_id", "batch_id", "row_number"]}
FRESHNESS_RESULTS = {"result_format": "COMPLETE", "unexpected_index_column_names": ["source_id"]}


# --- suites, derived from the schemas -------------------------------------------------------------------------


def _gx() -> Any:
    """Great Expectations, imported on first use (~2 s) with its analytics off."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations

    # one generic SQL datasource serves SQLite and PostgreSQL alike: its advice to pick a specific one is noise
    warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")
    return great_expectations


def rows_parameter(table: str) -> str:
    """The suite parameter holding a fact table's expected row count."""
    return f"{table}_rows"


def field_expectations(spec: FieldSpec) -> list[Expectation]:
    """What the field's kind expects of its stored column: completeness, range, vocabulary (schemas/kinds.py)."""
    gxe = _gx().expectations
    return [getattr(gxe, e.type)(**e.kwargs, meta=e.meta or None) for e in spec.field_kind.expectations(spec)]


def _stable_ids(suite: ExpectationSuite) -> ExpectationSuite:
    """Expectation ids derived from their content: saving an unchanged suite again rewrites nothing (add_or_update
    compares expectations with their ids, so a new id-less expectation would never match its saved self)."""
    for expectation in suite.expectations:
        content = json.dumps(expectation.dict(exclude={"id", "rendered_content"}), sort_keys=True, default=str)
        expectation.id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"pop-gx/{suite.name}/{content}"))
    return suite


def _suite(name: str, expectations: list[Expectation], meta: dict[str, Any] | None = None) -> ExpectationSuite:
    """A suite with content-derived expectation ids."""
    return _stable_ids(_gx().ExpectationSuite(name=name, expectations=expectations, meta=meta or {}))


def table_suite(schema: SourceSchema) -> ExpectationSuite:
    """A fact table's suite: rows belong to loaded batches and match their count, natural keys are unique per
    source, and every stored field is complete, in range and in its vocabulary."""
    gxe = _gx().expectations
    expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column="source_id", meta={"rule": "every row belongs to a loaded batch"}),
        gxe.ExpectTableRowCountToEqual(
            value={"$PARAMETER": rows_parameter(schema.fact_table)},
            meta={"rule": "rows_loaded of the loaded batches of this group"},
        ),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["source_id", *schema.natural_key_columns], meta={"rule": "natural key unique per source"}
        ),
    ]
    for spec in schema.fields.values():
        expectations += field_expectations(spec)
    return _suite(schema.fact_table, expectations, meta={"derived_from": f"schemas/{schema.group}.yaml"})


def freshness_suite() -> ExpectationSuite:
    """Each source's newest date (its newest period's end, or for submissions the newest submitted_on) is no older
    than its update frequency allows."""
    return _suite(
        FRESHNESS,
        [
            _gx().expectations.ExpectColumnValuesToBeBetween(
                column="days_overdue", max_value=0, meta={"limits_in_days": FRESHNESS_DAYS}
            )
        ],
    )


def rows_query(table: str) -> str:
    """A fact table's rows the checks cover, with their source: the rows of current batches (pop.views), and any row
    of no loaded batch, kept with source_id NULL so that it fails (a rejected batch's rows are left out). source_id
    is a scalar subquery, not a join: joined, SQLite and PostgreSQL (without statistics) match GX's per-key counts
    back to the rows batch by batch, in n squared time."""
    current = views.batches_view(views.CURRENT)
    return (
        f"SELECT f.*, (SELECT c.source_id FROM {current} c WHERE c.batch_id = f.batch_id) AS source_id "
        f"FROM {table} f WHERE f.batch_id IN (SELECT batch_id FROM {current}) OR NOT EXISTS "
        f"(SELECT 1 FROM batches b WHERE b.batch_id = f.batch_id AND b.status = '{BatchStatus.LOADED}')"
    )


# --- the GX project (idempotent set-up) -----------------------------------------------------------------------


def _store_config(variable: str, class_name: str) -> dict[str, Any]:
    """A filesystem store (or site) whose folder is the value of ${variable}."""
    return {
        "class_name": class_name,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": f"${{{variable}}}"},
    }


def _site_config() -> dict[str, Any]:
    """The SiteBuilder config of our Data Docs site."""
    return {
        **_store_config(ENV_DOCS, "SiteBuilder"),
        "show_how_to_buttons": False,
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }


def _configure(context: FileDataContext) -> None:
    """Progress bars off, validation results and the Data Docs site under the run's outputs folder."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    variables = context.variables
    variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    # written, not built: a store built now would make a folder named after the unsubstituted ${VARIABLE}
    variables.stores = {
        **variables.stores,
        "validation_results_store": _store_config(ENV_RESULTS, "ValidationResultsStore"),
    }
    variables.save()
    sites = context.list_data_docs_sites()
    for name in set(sites) - {SITE}:
        context.delete_data_docs_site(name)
    if SITE not in sites:
        context.add_data_docs_site(SITE, _site_config())
    elif sites[SITE] != _site_config():
        context.update_data_docs_site(SITE, _site_config())


def _datasource(context: FileDataContext, name: str, kind: str) -> Any:
    """The named datasource, added when missing (add_or_update would drop its assets and their ids)."""
    existing = context.data_sources.all().get(name)
    if existing is not None:
        return existing
    if kind == "sql":
        return context.data_sources.add_or_update_sql(name=name, connection_string=f"${{{ENV_URL}}}")
    return context.data_sources.add_or_update_pandas(name=name)


def _query_batch(datasource: Any, name: str, query: str) -> Any:
    """The whole-query batch definition of a query asset, (re)made when missing or when its query changed."""
    if name in datasource.get_asset_names() and datasource.get_asset(name).query != query:
        datasource.delete_asset(name)
    if name not in datasource.get_asset_names():
        datasource.add_query_asset(name=name, query=query)
    asset = datasource.get_asset(name)
    try:
        return asset.get_batch_definition(ALL_ROWS)
    except KeyError:
        return asset.add_batch_definition_whole_table(ALL_ROWS)


def _frame_batch(datasource: Any, name: str) -> Any:
    """The whole-dataframe batch definition of a dataframe asset (the frame is given at run time)."""
    if name not in datasource.get_asset_names():
        datasource.add_dataframe_asset(name=name)
    asset = datasource.get_asset(name)
    try:
        return asset.get_batch_definition(ALL_ROWS)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(ALL_ROWS)


def _saved(context: FileDataContext, suite: ExpectationSuite) -> ExpectationSuite:
    """The suite, saved with its content-derived ids (a first save draws random ones, so it is saved twice)."""
    try:
        context.suites.get(suite.name)
    except _gx().exceptions.DataContextError:
        context.suites.add(suite)
    return context.suites.add_or_update(_stable_ids(suite))


def _checkpoint(
    context: FileDataContext,
    name: str,
    validations: list[tuple[Any, ExpectationSuite]],
    result_format: str | dict[str, Any] = "SUMMARY",
) -> None:
    """Save a checkpoint over (batch definition, suite) pairs, with their suites and validation definitions."""
    gx = _gx()
    definitions = [
        gx.ValidationDefinition(name=suite.name, data=batch, suite=_saved(context, suite))
        for batch, suite in validations
    ]
    context.checkpoints.add_or_update(
        gx.Checkpoint(name=name, validation_definitions=definitions, result_format=result_format)
    )


def setup_project() -> None:
    """Bring the committed GX project in line with the schemas (idempotent; the ${VARIABLES} must be set)."""
    context = project_context()
    _configure(context)
    warehouse = _datasource(context, WAREHOUSE, "sql")
    tables = [
        (_query_batch(warehouse, schema.fact_table, rows_query(schema.fact_table)), table_suite(schema))
        for schema in map(load_schema, GROUPS)
    ]
    freshness = [(_frame_batch(_datasource(context, FRAMES, "pandas"), FRESHNESS), freshness_suite())]
    _checkpoint(context, TABLES_CHECKPOINT, tables, TABLE_RESULTS)
    _checkpoint(context, FRESHNESS_CHECKPOINT, freshness, FRESHNESS_RESULTS)


@contextmanager
def _one_check_at_a_time() -> Iterator[None]:
    """Hold the project's lock: a check rewrites gx/ files that another process must not read half-written, and sets
    the ${VARIABLES} in os.environ, which another thread must not change meanwhile."""
    lock = paths.GX_PROJECT / "uncommitted" / "check.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def _variables(values: dict[str, str]) -> Iterator[None]:
    """The project's ${VARIABLES} for the duration of a check."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def project_context() -> FileDataContext:
    """The committed file-based GX project at <repo>/gx."""
    return _gx().get_context(mode="file", project_root_dir=paths.ROOT)


# --- run-time values from the warehouse -----------------------------------------------------------------------


def suite_parameters(conn: Connection) -> dict[str, Any]:
    """Expected row counts per fact table (rows_loaded of the group's current batches), and the codes of countries,
    companies and platforms, whose dimensions hold the names added in the warehouse too."""
    source, current = SourceRecord.__table__, views.batches(views.CURRENT)
    loaded = dict(
        conn.execute(
            select(source.c.stakeholder_group, func.sum(current.c.rows_loaded))
            .join(source, source.c.id == current.c.source_id)
            .group_by(source.c.stakeholder_group)
        ).all()
    )
    counts = {rows_parameter(load_schema(g).fact_table): int(loaded.get(g) or 0) for g in GROUPS}
    codes = {
        COUNTRY_CODES: DimCountry.iso3,
        COMPANY_CODES: DimCompany.code,
        PLATFORM_CODES: DimPlatform.code,
        ORGANISATION_CODES: DimOrganisation.code,
    }
    return {**counts, **{name: list(conn.execute(select(c).order_by(c)).scalars()) for name, c in codes.items()}}


PERIOD_END = "period_end"  # what a group with periods is dated by: the end of its newest period


def dated_by(schema: SourceSchema) -> str | None:
    """What a group's freshness is judged by: the end of its newest period, else its first date field (e.g. the
    submissions' submitted_on); None when it has neither."""
    dating = [spec for spec in schema.fields.values() if spec.field_kind.dates_rows]
    if any(spec.stored_column == "period" for spec in dating):
        return PERIOD_END
    return dating[0].stored_column if dating else None


def _newest_dates(conn: Connection, schema: SourceSchema, dated: str) -> list[tuple[str, Any]]:
    """(source id, newest date) of each source with rows of current batches in the group's fact table, dated by
    `dated`."""
    fact, period = views.facts(views.CURRENT, schema.fact_table), DimPeriod.__table__
    if dated == PERIOD_END:
        newest, rows = func.max(period.c.period_end), fact.join(period, period.c.period == fact.c.period)
    else:
        newest, rows = func.max(fact.c[dated]), fact
    return conn.execute(select(fact.c.source_id, newest).select_from(rows).group_by(fact.c.source_id)).all()


def freshness_frame(conn: Connection, as_of: dt.date) -> pd.DataFrame:
    """Per source with loaded rows of a group that is dated (see dated_by): what it is dated by, its newest date,
    age at `as_of`, allowed age and days overdue (NaN when its update frequency sets no limit), indexed by source id.
    A source none of whose rows carries a date is left out: there is nothing to judge."""
    frequency = dict(conn.execute(select(SourceRecord.id, SourceRecord.update_frequency)).all())
    records = []
    for schema in map(load_schema, GROUPS):
        dated = dated_by(schema)
        for source_id, newest in _newest_dates(conn, schema, dated) if dated else []:
            if newest is None:
                continue
            end = dt.date.fromisoformat(str(newest)[:10])
            allowed = FRESHNESS_DAYS.get(frequency.get(source_id, ""))
            age = (as_of - end).days
            records.append(
                {
                    "source_id": source_id,
                    "update_frequency": frequency.get(source_id),
                    "dated_by": dated,
                    "newest_date": end.isoformat(),
                    "age_days": age,
                    "allowed_days": allowed,
                    "days_overdue": float("nan") if allowed is None else float(age - allowed),
                }
            )
    columns = ["source_id", "update_frequency", "dated_by", "newest_date", "age_days", "allowed_days", "days_overdue"]
    frame = pd.DataFrame(records, columns=columns).astype({"days_overdue": "float64"})
    return frame.set_index("source_id").sort_index()


# --- outcomes ---------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-ready copy (NumPy scalars, dates and nested containers)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def _observed(found: dict[str, Any]) -> Any:
    """What the data showed: the observed value, else how many values missed and distinct examples of them."""
    if not found or "observed_value" in found:
        return found.get("observed_value")
    examples = {
        json.dumps(v, sort_keys=True, default=str): v for v in found.get("partial_unexpected_list", []) if v is not None
    }
    return {
        "unexpected_count": found.get("unexpected_count"),
        **({"examples": list(examples.values())[:EXAMPLES]} if examples else {}),
    }


def outcome(result: ExpectationValidationResult) -> dict[str, Any]:
    """One expectation's outcome: its type, column(s), success, what was observed and the details."""
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "value_set")}
    column = kwargs.pop("column", None) or ",".join(kwargs.pop("column_list", [])) or None
    found = result.result or {}
    details = {
        "expected": kwargs,
        **{k: found[k] for k in ("element_count", "unexpected_percent") if found.get(k) is not None},
    }
    if found.get("partial_unexpected_index_list"):
        details["unexpected_rows"] = found["partial_unexpected_index_list"][:EXAMPLES]
    if result.exception_info and result.exception_info.get("raised_exception"):
        details["exception"] = result.exception_info.get("exception_message")
    if config.meta:
        details["meta"] = config.meta
    return _plain(
        {
            "expectation": config.type,
            "column": column,
            "success": bool(result.success),
            "observed": _observed(found),
            "details": details,
        }
    )


def with_sources(outcomes: list[dict[str, Any]], freshness: pd.DataFrame) -> list[dict[str, Any]]:
    """Freshness outcomes naming every overdue source, most overdue first (GX lists only the first few): days overdue
    by source, and each one's newest date (and what it is dated by), update frequency and age in the details."""
    overdue = freshness[freshness["days_overdue"] > 0].sort_values("days_overdue", ascending=False, kind="stable")
    rows = _plain([{"source_id": source, **row} for source, row in overdue.to_dict("index").items()])
    for found in outcomes:
        if rows and not found["success"]:
            found["details"]["unexpected_rows"] = rows
            found["observed"] = {
                "unexpected_count": found["observed"]["unexpected_count"],
                "days_overdue": {r["source_id"]: r["days_overdue"] for r in rows},
            }
    return outcomes


def row_counts(conn: Connection, table: str) -> list[dict[str, Any]]:
    """The sources whose rows in a fact table differ from what their current batches loaded: source (None for rows of
    no loaded batch), rows found and rows loaded."""
    group = {load_schema(g).fact_table: g for g in GROUPS}[table]
    found = dict(
        conn.execute(text(f"SELECT source_id, COUNT(*) FROM ({rows_query(table)}) r GROUP BY source_id")).all()
    )
    current, source = views.batches(views.CURRENT), SourceRecord.__table__
    loaded = dict(
        conn.execute(
            select(current.c.source_id, func.sum(current.c.rows_loaded))
            .join(source, source.c.id == current.c.source_id)
            .where(source.c.stakeholder_group == group)
            .group_by(current.c.source_id)
        ).all()
    )
    return [
        {"source_id": s, "rows": int(found.get(s) or 0), "rows_loaded": int(loaded.get(s) or 0)}
        for s in sorted(set(found) | set(loaded), key=lambda s: (s is None, s or ""))
        if int(found.get(s) or 0) != int(loaded.get(s) or 0)
    ]


def with_row_counts(conn: Connection, outcomes: dict[str, list[dict[str, Any]]]) -> None:
    """Failed row counts of the fact tables naming the sources whose rows are off (in their details)."""
    for table, found in outcomes.items():
        for o in found:
            if o["expectation"] == "expect_table_row_count_to_equal" and not o["success"]:
                o["details"]["row_counts"] = row_counts(conn, table)


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _rows_in_words(rows: list[dict[str, Any]], count: int | None) -> str:
    """'3 rows: helpline_ke (batch 4 row 7, batch 4 row 9), no loaded batch (batch 99 row 2)' for the listed rows
    (row numbers count the sent file's header as row 1)."""
    by_source: dict[str | None, list[str]] = {}
    for row in rows:
        place = f"batch {row.get('batch_id')} row {row.get('row_number')}"
        by_source.setdefault(row.get("source_id"), []).append(place)
    listed = ", ".join(f"{source or 'no loaded batch'} ({', '.join(places)})" for source, places in by_source.items())
    more = (count or 0) - len(rows)
    return f"{_rows(count or len(rows))}: {listed}" + (f" and {more} more" if more > 0 else "")


def _count_in_words(count: dict[str, Any]) -> str:
    """'helpline_ke has 4 rows, its batches loaded 5', or '1 row of no loaded batch'."""
    if count["source_id"] is None:
        return f"{_rows(count['rows'])} of no loaded batch"
    return f"{count['source_id']} has {_rows(count['rows'])}, its batches loaded {count['rows_loaded']}"


def describe(suite: str, found: dict[str, Any]) -> str | None:
    """Where a failed expectation failed, in words: each overdue source with its newest date and days overdue; the
    sources whose row count is off; or the sources, batches and row numbers in the sent files of the failing rows
    (those GX lists), else the sources of the repeated keys. None when the outcome says nowhere."""
    details, observed = found["details"], found["observed"]
    count = observed.get("unexpected_count") if isinstance(observed, dict) else None
    if suite == FRESHNESS:
        overdue = [
            f"{r['source_id']} (newest {r['newest_date']}, {r['days_overdue']:.0f} days overdue)"
            for r in details.get("unexpected_rows", [])
        ]
        return "overdue: " + ", ".join(overdue) if overdue else None
    if details.get("row_counts"):
        return "; ".join(map(_count_in_words, details["row_counts"]))
    placed = [r for r in details.get("unexpected_rows", []) if isinstance(r, dict) and "row_number" in r]
    if placed:
        return _rows_in_words(placed, count)
    examples = observed.get("examples", []) if isinstance(observed, dict) else []
    sources = sorted({e["source_id"] for e in examples if isinstance(e, dict) and e.get("source_id")})
    return f"{_rows(count or 0)}, in {', '.join(sources)}" if sources else None


def suite_summary(suite: str, outcomes: list[dict[str, Any]], success: bool) -> SuiteOutcome:
    """A suite's line of the result: success, how many expectations ran, and the failed ones with where they failed."""
    failed = tuple(
        FailedExpectation(
            expectation=o["expectation"],
            column=o["column"],
            observed=o["observed"],
            details=o["details"],
            where=describe(suite, o),
        )
        for o in outcomes
        if not o["success"]
    )
    return SuiteOutcome(suite=suite, success=success and not failed, evaluated=len(outcomes), failed=failed)


def store_outcomes(conn: Connection, run_id: str, outcomes: dict[str, list[dict[str, Any]]]) -> None:
    """One quality_results row per expectation outcome."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "run_id": run_id,
            "checked_at": now,
            "suite": suite,
            "expectation": o["expectation"],
            "column": o["column"],
            "success": o["success"],
            "details_json": json.dumps({"observed": o["observed"], **o["details"]}, ensure_ascii=False),
        }
        for suite, found in outcomes.items()
        for o in found
    ]
    if rows:
        conn.execute(QualityResult.__table__.insert(), rows)


def prune_results(context: FileDataContext, keep: int) -> int:
    """Delete all but the newest `keep` validation results of each suite (one per checkpoint run); how many went.
    Their Data Docs pages go when the docs are next built (GX drops pages whose result is gone)."""
    store = context.validation_results_store
    by_suite: dict[str, list[Any]] = {}
    for key in store.list_keys():
        by_suite.setdefault(key.expectation_suite_identifier.name, []).append(key)
    old = [
        key for keys in by_suite.values() for key in sorted(keys, key=lambda k: k.run_id.run_time, reverse=True)[keep:]
    ]
    for key in old:
        store.remove_key(key)
    return len(old)


def _build_docs(context: FileDataContext, results: dict[Any, ExpectationSuiteValidationResult], docs: Path) -> None:
    """Data Docs pages of these results and their suites, and the index: built once for both checkpoints, then made
    to work offline (data_docs.py)."""
    suites = [key.expectation_suite_identifier for key in results]
    context.build_data_docs(site_names=[SITE], resource_identifiers=[*results, *suites])
    make_offline(docs)


def _run_checkpoints(
    database_url: str, outputs_dir: Path, run_id: str, parameters: dict[str, Any], freshness: pd.DataFrame, keep: int
) -> list[ExpectationSuiteValidationResult]:
    """Set up the project, run both checkpoints, keep the newest `keep` results per suite and build the Data Docs,
    with the ${VARIABLES} of this call."""
    outputs = OutputPaths(outputs_dir)
    values = {ENV_URL: database_url, ENV_RESULTS: str(outputs.gx_results), ENV_DOCS: str(outputs.data_docs)}
    with _one_check_at_a_time(), _variables(values):
        from great_expectations.core.run_identifier import RunIdentifier  # imported under the lock: not thread-safe

        setup_project()
        context = project_context()  # loaded afresh: its stores are built from the substituted configuration
        tables, fresh = (context.checkpoints.get(name) for name in (TABLES_CHECKPOINT, FRESHNESS_CHECKPOINT))
        run = RunIdentifier(run_name=run_id, run_time=dt.datetime.now(dt.UTC))
        try:
            results = {
                **tables.run(run_id=run, expectation_parameters=parameters).run_results,
                **fresh.run(run_id=run, batch_parameters={"dataframe": freshness.reset_index()}).run_results,
            }
            prune_results(context, keep)
            _build_docs(context, results, outputs.data_docs)
            return list(results.values())
        finally:
            context.data_sources.get(WAREHOUSE).get_execution_engine().engine.dispose()


def check_warehouse(database_url: str, outputs_dir: Path, run_id: str, as_of: dt.date | None = None) -> QualityOutcome:
    """Run every suite on the warehouse; store each outcome in quality_results and refresh the Data Docs, keeping the
    newest POP_GX_KEEP_RESULTS validation results per suite."""
    engine = get_engine(database_url)
    with engine.connect() as conn:
        parameters = suite_parameters(conn)
        freshness = freshness_frame(conn, as_of or dt.date.today())
    keep = get_settings().gx_keep_results
    validations = _run_checkpoints(database_url, outputs_dir, run_id, parameters, freshness, keep)
    outcomes = {v.suite_name: [outcome(r) for r in v.results] for v in validations}
    outcomes[FRESHNESS] = with_sources(outcomes[FRESHNESS], freshness)
    with writing(database_url) as conn:
        with_row_counts(conn, outcomes)
        store_outcomes(conn, run_id, outcomes)
    suites = tuple(suite_summary(v.suite_name, outcomes[v.suite_name], bool(v.success)) for v in validations)
    return QualityOutcome(
        success=all(s.success for s in suites),
        suites=suites,
        data_docs=OutputPaths(outputs_dir).data_docs / "index.html",
    )


# --- markdown ------------------------------------------------------------------------------------------------------


def _short(value: Any, width: int = 100) -> str:
    """A value as text for a markdown cell, of at most `width` characters."""
    text = (json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value).replace("|", "/")
    return text if len(text) <= width else text[: width - 1] + "…"


def _expected(failure: FailedExpectation) -> Any:
    """What a failed expectation asked for: its arguments, or the vocabulary its values must be in."""
    vocabulary_name = failure.details.get("meta", {}).get("vocabulary")
    return failure.details["expected"] or (f"in {vocabulary_name}" if vocabulary_name else "")


def markdown_report(result: QualityOutcome) -> str:
    """The failed expectations as a markdown report (or a line saying every suite passed)."""
    failed = [(s.suite, f) for s in result.suites for f in s.failed]
    lines = [
        f"# Warehouse quality: {'passed' if result.success else 'FAILED'}",
        "",
        f"Data Docs: `{result.data_docs}`",
        "",
    ]
    if not failed:
        return "\n".join([*lines, "Every expectation of every suite passed."])
    lines += ["| suite | expectation | column | expected | observed | where |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {suite} | {f.expectation} | {f.column or ''} | {_short(_expected(f))} | {_short(f.observed)} "
        f"| {_short(f.where or '', 300)} |"
        for suite, f in failed
    ]
    return "\n".join(lines)
