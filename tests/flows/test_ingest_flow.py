"""The ingest flow end to end on the bundled demo data, on SQLite and PostgreSQL: exact counts per source, the
quarantine holding exactly the seeded defects with their reasons, harmonised values, idempotency, the final state,
and the steward report."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from pop import paths
from pop.contracts import what_it_did
from pop.db import get_engine
from pop.settings import reset_settings
from tests.conftest import BACKENDS, DEMO_INBOX, DEMO_REGISTRY, warehouse

EXPECTED = yaml.safe_load((paths.ROOT / "demo" / "expected_defects.yaml").read_text(encoding="utf-8"))


def _run_flow(url: str, outputs: Path, **parameters):  # type: ignore[no-untyped-def]
    from flows.ingest import ingest

    os.environ.update(
        POP_DATABASE_URL=url,
        POP_OUTPUTS_DIR=str(outputs),
        POP_REGISTRY_PATH=str(DEMO_REGISTRY),
        POP_INBOX_DIR=str(DEMO_INBOX),
    )
    reset_settings()
    try:
        return ingest(return_state=True, **parameters)
    finally:
        for name in ("POP_DATABASE_URL", "POP_OUTPUTS_DIR", "POP_REGISTRY_PATH", "POP_INBOX_DIR"):
            os.environ.pop(name, None)
        reset_settings()


@pytest.fixture(scope="module", params=BACKENDS)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The demo inbox ingested once, then once more, into a fresh warehouse."""
    folder = tmp_path_factory.mktemp(f"demo-{request.param}")
    with warehouse(request.param, folder) as url:
        first = _run_flow(url, folder / "outputs")
        with get_engine(url).connect() as conn:
            before = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}
        second = _run_flow(url, folder / "outputs")
        yield {"url": url, "outputs": folder / "outputs", "first": first, "second": second, "before": before}


TABLES = [
    "batches",
    "quarantine",
    "fact_helpline_contacts",
    "fact_youth_responses",
    "fact_service_provider_reports",
    "fact_tech_metrics",
    "fact_protection_submissions",
    "fact_choices",
]


def rows(url: str, sql: str) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_counts_per_file_are_exactly_the_expected(demo: dict) -> None:
    loaded = {
        (s, f): (n_in, n_loaded, n_held)
        for s, f, n_in, n_loaded, n_held in rows(
            demo["url"],
            "SELECT source_id, original_name, rows_in, rows_loaded, rows_quarantined FROM batches "
            "WHERE status = 'loaded'",
        )
    }
    expected = {
        (s, f): (c["rows_in"], c["rows_loaded"], c["rows_quarantined"])
        for s, files in EXPECTED["counts"].items()
        for f, c in files.items()
    }
    assert loaded == expected


def test_quarantine_holds_exactly_the_seeded_defects(demo: dict) -> None:
    found = {
        (s, f, n): set(fields.split(","))
        for s, f, n, fields in rows(
            demo["url"],
            "SELECT q.source_id, b.original_name, q.row_number, q.fields FROM quarantine q "
            "JOIN batches b ON b.batch_id = q.batch_id",
        )
    }
    expected = {(r["source"], r["file"], r["row"]): set(r["fields"]) for r in EXPECTED["rows"]}
    assert found == expected


def test_each_quarantined_row_keeps_what_was_sent_and_why(demo: dict) -> None:
    [(original, reasons)] = rows(
        demo["url"],
        "SELECT original_json, reasons_json FROM quarantine q JOIN batches b "
        "ON b.batch_id = q.batch_id WHERE b.original_name = '2023_q1.csv' "
        "AND q.row_number = 13",
    )
    assert "Narnia" in json.loads(original).values()
    [reason] = json.loads(reasons)
    assert (reason["field"], reason["check"], reason["value"]) == ("country", "unknown_country", "Narnia")
    assert "ISO 3166" in reason["message"]


def test_file_level_outcomes(demo: dict) -> None:
    outcomes = {
        (s, f): (status, message, dup)
        for s, f, status, message, dup in rows(
            demo["url"],
            "SELECT b.source_id, b.original_name, b.status, b.message, o.original_name FROM batches b "
            "LEFT JOIN batches o ON o.batch_id = b.duplicate_of WHERE b.status <> 'loaded'",
        )
    }
    expected = {(f["source"], f["file"]): f for f in EXPECTED["files"]}
    assert set(outcomes) == set(expected)
    for key, item in expected.items():
        status, message, duplicate_of = outcomes[key]
        assert status == item["status"]
        if status == "duplicate":
            assert duplicate_of == item["duplicate_of"]
        else:
            assert key[1] in message and "missing required column" in message and f"(for {item['column']})" in message


def test_the_run_fails_naming_the_failed_source_and_why(demo: dict) -> None:
    state = demo["first"]
    assert state.is_failed()
    assert "helpline_de" in state.message and "kontakte_2021.csv" in state.message and "Anzahl" in state.message
    run = what_it_did(state.result(raise_on_failure=False)).run
    statuses = {s.source_id: s.status for s in run.sources}
    assert statuses["helpline_de"] == "failed"
    assert {k for k, v in statuses.items() if v == "ok"} >= {
        "helpline_ke",
        "youth_survey",
        "tech_transparency",
        "sp_network",
        "sp_portal",
        "community_submissions",
    }


def test_running_again_changes_nothing(demo: dict) -> None:
    with get_engine(demo["url"]).connect() as conn:
        after = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}
    assert after == demo["before"]
    run = what_it_did(demo["second"].result(raise_on_failure=False)).run
    assert run.totals.batches_new == 0


def test_every_batch_reconciles(demo: dict) -> None:
    for _, n, loaded, held in rows(demo["url"], "SELECT batch_id, rows_in, rows_loaded, rows_quarantined FROM batches"):
        assert n == loaded + held
    fact_total = sum(
        r[0]
        for r in rows(
            demo["url"],
            " UNION ALL ".join(
                f"SELECT COUNT(*) FROM {t}" for t in TABLES if t.startswith("fact_") and t != "fact_choices"
            ),
        )
    )
    [(loaded_total, held_total)] = rows(demo["url"], "SELECT SUM(rows_loaded), SUM(rows_quarantined) FROM batches")
    [(quarantine_total,)] = rows(demo["url"], "SELECT COUNT(*) FROM quarantine")
    assert (fact_total, quarantine_total) == (loaded_total, held_total)


def test_harmonised_values(demo: dict) -> None:
    url = demo["url"]
    countries = {r[0] for r in rows(url, "SELECT DISTINCT country_iso3 FROM fact_helpline_contacts")}
    assert countries == {"KEN", "BRA", "PHL", "DEU"}
    companies = {r[0] for r in rows(url, "SELECT DISTINCT company_code FROM fact_tech_metrics")}
    assert {"meta", "bytedance", "x_corp", "alphabet"} <= companies
    aliases = set(rows(url, "SELECT DISTINCT company_reported, company_code FROM fact_tech_metrics"))
    assert len({reported for reported, _ in aliases}) > len(companies)  # several spellings → one company
    channels = {r[0] for r in rows(url, "SELECT DISTINCT channel FROM fact_helpline_contacts")}
    assert channels <= {c for (c,) in rows(url, "SELECT code FROM dim_channel")}
    bands = rows(
        url,
        "SELECT DISTINCT f.age_band, a.age_min, a.age_max, a.pop_age_band FROM fact_helpline_contacts f "
        "JOIN dim_source_age_band a ON a.age_band = f.age_band ORDER BY a.age_min",
    )
    assert ("13-15", 13, 15, "13-15") in bands and ("unknown", None, None, "unknown") in bands
    assert {b[3] for b in bands} <= {"0-9", "10-12", "13-15", "16-17", "18-24", "25+", "mixed", "unknown"}
    periods = rows(
        url,
        "SELECT DISTINCT f.period, p.period_start, p.period_end, p.granularity "
        "FROM fact_helpline_contacts f JOIN dim_period p ON p.period = f.period "
        "WHERE f.period = '2023-Q2'",
    )
    assert [(p[0], str(p[1])[:10], str(p[2])[:10], p[3]) for p in periods] == [
        ("2023-Q2", "2023-04-01", "2023-06-30", "quarter")
    ]
    [(orphans,)] = rows(
        url,
        "SELECT COUNT(*) FROM fact_helpline_contacts f LEFT JOIN dim_period p "
        "ON p.period = f.period WHERE p.period IS NULL",
    )
    assert orphans == 0
    regions = rows(
        url,
        "SELECT DISTINCT d.region FROM fact_helpline_contacts f JOIN dim_country d "
        "ON d.iso3 = f.country_iso3 ORDER BY 1",
    )
    assert [r[0] for r in regions] == ["Africa", "Americas", "Asia", "Europe"]
    choices = rows(
        url,
        "SELECT COUNT(DISTINCT field) FROM fact_choices c JOIN fact_youth_responses y "
        "ON y.batch_id = c.batch_id AND y.row_number = c.row_number",
    )
    assert choices[0][0] >= 3  # tools used, platforms named, told whom, barriers


def test_steward_report(demo: dict) -> None:
    reports = demo["outputs"] / "reports"
    index = (reports / "index.html").read_text(encoding="utf-8")
    for name in ("2023_q1.csv", "kontakte_2021.csv", "2023_q2_copy.csv", "gko_demo_2023_export.csv"):
        assert name in index
    [batch_id] = rows(demo["url"], "SELECT batch_id FROM batches WHERE original_name = '2023_q1.csv'")[0]
    page = (reports / "batches" / f"{batch_id}.html").read_text(encoding="utf-8")
    assert "Narnia" in page and "ISO 3166" in page and "77 = 74 + 3" in page
    data = json.loads((reports / "batches" / f"{batch_id}.json").read_text(encoding="utf-8"))
    assert {(f["column"], f["check"]) for f in data["failures"]} == {
        ("country", "unknown_country"),
        ("natural_key", "duplicate_key"),
        ("contacts", "not_a_whole_number"),
    }
    runs = list((reports / "runs").glob("*.json"))
    assert len(runs) == 2


def test_the_summary_shows_in_prefect_as_a_table_and_a_markdown_artifact(demo: dict) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    flow_run_id = demo["first"].state_details.flow_run_id
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    by_key = {a.key: a for a in artifacts}
    assert by_key["ingest-batches"].type == "table" and by_key["ingest-report"].type == "markdown"
    table = by_key["ingest-batches"].data
    table = json.loads(table) if isinstance(table, str) else table
    assert len(table) == 15 and {"source", "file", "status", "rows_in", "rows_loaded"} <= set(table[0])
    assert "kontakte_2021.csv" in by_key["ingest-report"].data
