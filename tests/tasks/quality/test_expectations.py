"""Great Expectations on the warehouse: suites derived from the schemas; every suite passing on clean data; a
seeded defect failing exactly the expectation and column it breaks; freshness against the update frequency;
outcomes stored, Data Docs under outputs, artifacts in Prefect, and a committed GX project that running leaves
unchanged — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, text

from pop import paths
from pop.contracts import QualityOutcome
from pop.db import get_engine
from pop.models import FACT_TABLES, QualityResult
from pop.registry import Registry
from schemas.spec import GROUPS, load_schema
from schemas.vocabulary import vocabulary
from tasks.ingest.batch import ingest_file
from tasks.ingest.inbox import discover_files
from tasks.quality import prefect_tasks
from tasks.quality.expectations import check_warehouse, table_suite
from tasks.reference.dimensions import sync_dimensions
from tests.conftest import demo_settings
from tests.helpers import HEADER, helpline_source, remote_references, write_file

Q1_ROWS = [
    '2023-Q1,Kenya,counselling,TEL,bullying,13-15,girl,"1,200"',
    "2023-Q1,KEN,counselling,chat,cyberbullying,13-15,girl,40",
    "2023-Q1,Kenya,counselling,WhatsApp,sextortion,16-17,boy,7",
]
Q2_ROWS = [
    "2023-Q2,Kenya,counselling,TEL,bullying,13-15,girl,900",
    "2023-Q2,KEN,counselling,chat,cyberbullying,13-15,girl,35",
]
AS_OF = dt.date(2023, 8, 1)  # a month after 2023-Q2 ends
HELPLINE = "fact_helpline_contacts"
COLUMNS = ", ".join(c.name for c in FACT_TABLES[HELPLINE].columns)
SUITES = [load_schema(g).fact_table for g in GROUPS] + ["source_freshness"]  # in the order they run


def ingest(tmp_path: Path, database_url: str, files: dict[str, list[str]]) -> list[int]:
    """The test helpline's files ingested in order; their batch ids."""
    source = helpline_source(tmp_path)
    with get_engine(database_url).begin() as conn:
        sync_dimensions(conn, Registry(sources=[source]))
    for name, rows in files.items():
        write_file(tmp_path, name, "\n".join([HEADER, *rows]) + "\n")
    batches = [
        ingest_file(source, incoming, database_url, tmp_path / "landing", 1000, None)
        for incoming in discover_files(source, tmp_path / "inbox")
    ]
    assert [b.status for b in batches] == ["loaded"] * len(files)
    return [b.batch_id for b in batches]


def execute(database_url: str, *statements: str) -> None:
    with get_engine(database_url).begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def check(tmp_path: Path, database_url: str, as_of: dt.date = AS_OF, run_id: str = "test-run") -> QualityOutcome:
    return check_warehouse(database_url, tmp_path / "outputs", run_id, as_of)


def failures(result: QualityOutcome) -> set[tuple[str, str, str | None]]:
    return {(s.suite, f.expectation, f.column) for s in result.suites for f in s.failed}


@pytest.mark.parametrize("group", GROUPS)
def test_suites_derive_from_the_schemas(group: str) -> None:
    schema = load_schema(group)
    suite = table_suite(schema)
    found = {(e.expectation_type, getattr(e, "column", None)): e for e in suite.expectations}
    stored = {spec.name: spec for spec in schema.fields.values() if not spec.field_kind.multi}
    for spec in stored.values():
        column = spec.stored_column
        assert column in FACT_TABLES[schema.fact_table].c, f"{group}.{spec.name}: no column {column}"
        assert (("expect_column_values_to_not_be_null", column) in found) == spec.required
        if spec.kind == "vocab":
            assert found[("expect_column_values_to_be_in_set", column)].value_set == list(vocabulary(spec.vocab).codes)
        if spec.kind == "country":
            assert found[("expect_column_values_to_be_in_set", column)].value_set == {"$PARAMETER": "country_codes"}
        if spec.kind in ("company", "platform"):  # their dimensions hold the names added in the warehouse too
            assert found[("expect_column_values_to_be_in_set", column)].value_set == {
                "$PARAMETER": f"{spec.kind}_codes"
            }
        if {spec.min, spec.max, spec.min_exclusive} != {None}:
            between = found[("expect_column_values_to_be_between", column)]
            assert (between.min_value, between.max_value, between.strict_min) == (
                spec.min if spec.min is not None else spec.min_exclusive,
                spec.max,
                spec.min_exclusive is not None,
            )
    [unique] = [e for e in suite.expectations if e.expectation_type == "expect_compound_columns_to_be_unique"]
    assert unique.column_list == ["source_id", *schema.natural_key_columns]


def test_clean_warehouse_passes_stores_outcomes_and_writes_data_docs(tmp_path: Path, database_url: str) -> None:
    ingest(tmp_path, database_url, {"q1.csv": Q1_ROWS, "q2.csv": Q2_ROWS})
    result = check(tmp_path, database_url)
    assert result.success and not failures(result)
    assert [s.suite for s in result.suites] == SUITES
    assert all(s.evaluated > 0 for s in result.suites)
    assert result.data_docs == tmp_path / "outputs" / "reports" / "data_docs" / "index.html"
    assert result.data_docs.exists()
    assert list((tmp_path / "outputs" / "reports" / "data_docs" / "validations").glob("*/test-run/*/*.html"))
    with get_engine(database_url).connect() as conn:
        stored = conn.execute(select(QualityResult.suite, QualityResult.success, QualityResult.run_id)).all()
    assert len(stored) == sum(s.evaluated for s in result.suites)
    assert {(r.success, r.run_id) for r in stored} == {(True, "test-run")}


def copy_of_row_2(batch: str, row_number: str) -> str:
    """SQL: batch {q1}'s row 2 once more, as row `row_number` of `batch` (a row the pipeline would never load)."""
    columns = COLUMNS.replace("batch_id", f"{batch} AS batch_id").replace("row_number", f"{row_number} AS row_number")
    return (
        f"INSERT INTO {HELPLINE} ({COLUMNS}) SELECT {columns} FROM {HELPLINE} "
        f"WHERE batch_id = {{q1}} AND row_number = 2"
    )


DEFECTS = {
    "negative contacts": (
        [f"UPDATE {HELPLINE} SET contacts = -4 WHERE batch_id = {{q1}} AND row_number = 2"],
        {(HELPLINE, "expect_column_values_to_be_between", "contacts")},
    ),
    "channel outside the vocabulary": (
        [f"UPDATE {HELPLINE} SET channel = 'pigeon' WHERE row_number = 3"],
        {(HELPLINE, "expect_column_values_to_be_in_set", "channel")},
    ),
    "country not in dim_country": (
        [f"UPDATE {HELPLINE} SET country_iso3 = 'XXX' WHERE batch_id = {{q2}}"],
        {(HELPLINE, "expect_column_values_to_be_in_set", "country_iso3")},
    ),
    "duplicate key from another batch of the source": (
        [copy_of_row_2("{q2}", "99"), "UPDATE batches SET rows_loaded = rows_loaded + 1 WHERE batch_id = {q2}"],
        {
            (
                HELPLINE,
                "expect_compound_columns_to_be_unique",
                "source_id,helpline_code,period,country_iso3,contact_type,channel,reason,age_band,gender",
            )
        },
    ),
    "fact row deleted": (
        [f"DELETE FROM {HELPLINE} WHERE batch_id = {{q1}} AND row_number = 4"],
        {(HELPLINE, "expect_table_row_count_to_equal", None)},
    ),
    "row of no loaded batch": (
        [copy_of_row_2("999", "row_number")],
        {
            (HELPLINE, "expect_column_values_to_not_be_null", "source_id"),
            (HELPLINE, "expect_table_row_count_to_equal", None),
        },
    ),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_seeded_defect_fails_its_expectation(tmp_path: Path, database_url: str, defect: str) -> None:
    q1, q2 = ingest(tmp_path, database_url, {"q1.csv": Q1_ROWS, "q2.csv": Q2_ROWS})
    statements, expected = DEFECTS[defect]
    execute(database_url, *(s.format(q1=q1, q2=q2) for s in statements))
    result = check(tmp_path, database_url)
    assert result.success is False
    assert failures(result) == expected
    with get_engine(database_url).connect() as conn:
        failed = conn.execute(
            select(QualityResult.suite, QualityResult.expectation, QualityResult.column).where(
                QualityResult.success.is_(False)
            )
        ).all()
    assert {tuple(r) for r in failed} == expected


def test_failures_say_what_was_observed(tmp_path: Path, database_url: str) -> None:
    q1, _ = ingest(tmp_path, database_url, {"q1.csv": Q1_ROWS, "q2.csv": Q2_ROWS})
    execute(
        database_url,
        f"UPDATE {HELPLINE} SET channel = 'pigeon' WHERE batch_id = {q1} AND row_number = 3",
        f"DELETE FROM {HELPLINE} WHERE batch_id = {q1} AND row_number = 4",
    )
    [suite] = [s for s in check(tmp_path, database_url).suites if not s.success]
    by_expectation = {f.expectation: f for f in suite.failed}
    assert by_expectation["expect_column_values_to_be_in_set"].observed == {
        "unexpected_count": 1,
        "examples": ["pigeon"],
    }
    assert by_expectation["expect_table_row_count_to_equal"].observed == 4
    assert by_expectation["expect_table_row_count_to_equal"].details["expected"] == {"value": 5}


def test_failures_name_their_sources_and_rows(tmp_path: Path, database_url: str) -> None:
    """Each failed expectation says where: the source, batch and row in the sent file (header = row 1) of the rows
    GX lists, the sources of repeated keys, the sources whose row count is off; and the steward's view names them."""
    q1, q2 = ingest(tmp_path, database_url, {"q1.csv": Q1_ROWS, "q2.csv": Q2_ROWS})
    execute(
        database_url,
        f"UPDATE {HELPLINE} SET channel = 'pigeon' WHERE row_number = 3",
        f"UPDATE {HELPLINE} SET contacts = -4 WHERE batch_id = {q2} AND row_number = 2",
        copy_of_row_2(str(q2), "99").format(q1=q1),
        copy_of_row_2("999", "row_number").format(q1=q1),
    )
    result = check(tmp_path, database_url)
    where = {f.expectation: f.where for s in result.suites for f in s.failed}
    assert where == {
        "expect_column_values_to_be_in_set": f"2 rows: test_helpline (batch {q1} row 3, batch {q2} row 3)",
        "expect_column_values_to_be_between": f"1 row: test_helpline (batch {q2} row 2)",
        "expect_column_values_to_not_be_null": "1 row: no loaded batch (batch 999 row 2)",
        "expect_compound_columns_to_be_unique": "2 rows, in test_helpline",
        "expect_table_row_count_to_equal": "test_helpline has 6 rows, its batches loaded 5; 1 row of no loaded batch",
    }
    named = result.view().failed_expectations
    assert (
        f"{HELPLINE}: expect_column_values_to_be_in_set (channel) — {where['expect_column_values_to_be_in_set']}"
        in named
    )


def test_rows_of_rejected_batches_are_left_out(tmp_path: Path, database_url: str) -> None:
    _, q2 = ingest(tmp_path, database_url, {"q1.csv": Q1_ROWS, "q2.csv": Q2_ROWS})
    execute(
        database_url,
        f"UPDATE {HELPLINE} SET contacts = -4, channel = 'pigeon' WHERE batch_id = {q2}",
        f"UPDATE batches SET review_status = 'rejected' WHERE batch_id = {q2}",
    )
    result = check(tmp_path, database_url, as_of=dt.date(2023, 5, 1))  # Q2 rejected: Q1 must be recent enough
    assert result.success and not failures(result)


@pytest.mark.parametrize(
    ("as_of", "fresh"),
    [(dt.date(2023, 7, 9), True), (dt.date(2023, 7, 10), False), (dt.date(2025, 1, 1), False)],
    ids=["100-days", "101-days", "years"],
)
def test_freshness_follows_the_update_frequency(tmp_path: Path, database_url: str, as_of: dt.date, fresh: bool) -> None:
    """The quarterly test source's newest period ends 2023-03-31: it may be 100 days old, no more."""
    ingest(tmp_path, database_url, {"q1.csv": Q1_ROWS})
    result = check(tmp_path, database_url, as_of=as_of)
    assert result.success is fresh
    assert failures(result) == (
        set() if fresh else {("source_freshness", "expect_column_values_to_be_between", "days_overdue")}
    )
    if not fresh:
        [failure] = result.suites[-1].failed
        assert failure.observed == {
            "unexpected_count": 1,
            "days_overdue": {"test_helpline": (as_of - dt.date(2023, 3, 31)).days - 100},
        }
        overdue = (as_of - dt.date(2023, 3, 31)).days - 100
        assert failure.where == f"overdue: test_helpline (newest 2023-03-31, {overdue} days overdue)"
        [row] = failure.details["unexpected_rows"]
        assert row == {
            "source_id": "test_helpline",
            "update_frequency": "quarterly",
            "dated_by": "period_end",
            "newest_date": "2023-03-31",
            "age_days": (as_of - dt.date(2023, 3, 31)).days,
            "allowed_days": 100,
            "days_overdue": (as_of - dt.date(2023, 3, 31)).days - 100,
        }


SUBMISSION_FIELDS = [
    "submission_id",
    "submitter_org",
    "org_type",
    "countries",
    "evidence_type",
    "intervention_type",
    "title",
    "summary",
    "consent",
    "submitted_on",
]


def ingest_submissions(tmp_path: Path, database_url: str, submitted_on: list[str]) -> None:
    """One protection-community file (a quarterly test source, our own column names), a submission per date."""
    source = helpline_source(
        tmp_path,
        id="test_submissions",
        group="protection_community",
        schema="protection_community",
        files="pc/*.csv",
        values={},
        columns={name: name for name in SUBMISSION_FIELDS},
    )
    with get_engine(database_url).begin() as conn:
        sync_dimensions(conn, Registry(sources=[source]))
    rows = [
        f"PC-{n},Youth Voices,youth_led,Kenya,case_study,peer_support,Peer chat,What we learnt,yes,{day}"
        for n, day in enumerate(submitted_on)
    ]
    write_file(tmp_path, "round1.csv", "\n".join([",".join(SUBMISSION_FIELDS), *rows]) + "\n", folder="pc")
    [incoming] = discover_files(source, tmp_path / "inbox")
    assert ingest_file(source, incoming, database_url, tmp_path / "landing", 1000, None).rows_loaded == len(
        submitted_on
    )


@pytest.mark.parametrize(
    ("as_of", "fresh"), [(dt.date(2024, 1, 9), True), (dt.date(2024, 1, 10), False)], ids=["100-days", "101-days"]
)
def test_submissions_are_fresh_by_their_newest_submission_date(
    tmp_path: Path, database_url: str, as_of: dt.date, fresh: bool
) -> None:
    """Submissions have no period: the quarterly source is judged by its newest submitted_on, 2023-10-01."""
    ingest_submissions(tmp_path, database_url, ["2023-09-14", "2023-10-01", ""])
    result = check(tmp_path, database_url, as_of=as_of)
    assert result.success is fresh
    if not fresh:
        [failure] = [f for s in result.suites for f in s.failed]
        assert (failure.expectation, failure.column) == ("expect_column_values_to_be_between", "days_overdue")
        assert failure.details["unexpected_rows"] == [
            {
                "source_id": "test_submissions",
                "update_frequency": "quarterly",
                "dated_by": "submitted_on",
                "newest_date": "2023-10-01",
                "age_days": 101,
                "allowed_days": 100,
                "days_overdue": 1,
            }
        ]


def test_only_the_newest_validation_results_are_kept(tmp_path: Path, database_url: str) -> None:
    """POP_GX_KEEP_RESULTS=2: after three runs, each suite keeps the results and Data Docs pages of the last two."""
    ingest(tmp_path, database_url, {"q1.csv": Q1_ROWS})
    with demo_settings(tmp_path / "outputs", database_url, gx_keep_results="2"):
        for run_id in ("first", "second", "third"):
            check(tmp_path, database_url, run_id=run_id)
    reports = tmp_path / "outputs" / "reports"
    for folder, suffix in ((reports / "gx_validations", "json"), (reports / "data_docs" / "validations", "html")):
        kept = {p.relative_to(folder).parts[:2] for p in folder.glob(f"*/*/*/*.{suffix}")}  # (suite, run)
        assert kept == {(suite, run) for suite in SUITES for run in ("second", "third")}, folder
    index = (reports / "data_docs" / "index.html").read_text(encoding="utf-8")
    assert "third" in index and "first" not in index


def test_data_docs_work_offline(tmp_path: Path, database_url: str) -> None:
    """No page or stylesheet of the Data Docs loads anything from another host (no CDN, no S3 logo with the data
    context id) and none links out; the index's results table is filled from data in the page by scripts that are
    served from the docs' own folder."""
    q1, _ = ingest(tmp_path, database_url, {"q1.csv": Q1_ROWS, "q2.csv": Q2_ROWS})
    execute(database_url, f"UPDATE {HELPLINE} SET channel = 'pigeon' WHERE batch_id = {q1} AND row_number = 3")
    docs = check(tmp_path, database_url, dt.date(2025, 1, 1)).data_docs.parent  # freshness fails too
    assert remote_references(tmp_path / "outputs") == {}
    index = (docs / "index.html").read_text(encoding="utf-8")
    loaded = re.findall(r'<script src="([^"]+)"', index) + re.findall(r'<link rel="stylesheet" href="([^"]+)"', index)
    assert all((docs / href).is_file() for href in loaded), loaded
    assert {Path(href).name for href in loaded} >= {
        "jquery.min.js",
        "bootstrap.bundle.min.js",
        "bootstrap-table.min.js",
        "bootstrap-table-filter-control.min.js",
        "bootstrap-datepicker.js",
        "bootstrap.min.css",
        "all.min.css",
    }
    assert list((docs / "static" / "vendor" / "font-awesome" / "webfonts").glob("fa-solid-900.*"))
    # the table's rows are data in the page, one per validation result, each linking to its page
    assert "bootstrapTable(" in index and f"validations/{HELPLINE}/test-run/" in index
    assert "dataContextId" not in index and "greatexpectations.io" not in index
    if shutil.which("chromium"):
        assert rendered_rows(docs / "index.html") == len(SUITES)
    elif os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is not installed: .ci/run installs Debian's package for the browser checks")


def rendered_rows(page: Path) -> int:
    """The rows of the first table a headless Chromium shows on a page, with every host name unresolvable."""
    dom = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    body = dom.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in dom else ""
    return body.count("<tr")


def _project() -> dict[str, str]:
    gx = paths.GX_PROJECT
    return {
        str(p.relative_to(gx)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(gx.rglob("*"))
        if p.is_file() and "uncommitted" not in p.relative_to(gx).parts
    }


def test_running_again_leaves_the_project_unchanged(tmp_path: Path, database_url: str) -> None:
    """The suites are generated from the schemas at every check: a second check (to other outputs) rewrites nothing,
    and no run-time value (a path, the warehouse URL) is written into the project."""
    ingest(tmp_path, database_url, {"q1.csv": Q1_ROWS})
    check(tmp_path, database_url, run_id="first")
    before = _project()
    check(tmp_path / "elsewhere", database_url, run_id="second")
    assert _project() == before
    assert {
        "great_expectations.yml",
        "checkpoints/warehouse_tables.json",
        "expectations/fact_helpline_contacts.json",
    } <= set(before)
    config = (paths.GX_PROJECT / "great_expectations.yml").read_text(encoding="utf-8")
    assert str(tmp_path) not in config and "${POP_GX_WAREHOUSE_URL}" in config


def test_check_warehouse_shows_failures_as_prefect_artifacts(tmp_path: Path, database_url: str) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    @flow
    def checks() -> QualityOutcome:
        return prefect_tasks.check_warehouse(database_url, tmp_path / "outputs", "artifact-run", AS_OF)

    q1, _ = ingest(tmp_path, database_url, {"q1.csv": Q1_ROWS, "q2.csv": Q2_ROWS})
    execute(database_url, f"UPDATE {HELPLINE} SET channel = 'pigeon' WHERE batch_id = {q1} AND row_number = 3")
    state = checks(return_state=True)
    assert state.result().success is False
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        )
    by_key = {a.key: a for a in artifacts}
    assert by_key["warehouse-quality"].type == "table" and by_key["warehouse-quality-report"].type == "markdown"
    table = by_key["warehouse-quality"].data
    table = json.loads(table) if isinstance(table, str) else table
    assert [(row["suite"], row["success"], row["failed"]) for row in table] == [
        (suite, suite != HELPLINE, int(suite == HELPLINE)) for suite in SUITES
    ]
    report = by_key["warehouse-quality-report"].data
    assert "FAILED" in report and "expect_column_values_to_be_in_set" in report and "pigeon" in report
