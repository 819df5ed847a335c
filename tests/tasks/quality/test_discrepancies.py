"""Cross-source comparisons on tiny warehouses built from sender files, on SQLite and PostgreSQL: each check fires
on a seeded discrepancy with the numbers side by side and stays quiet on consistent data; discrepancies are upserted
(one per subject), keep their status, and resolve when they vanish; the demo's X Corp gap is found."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select, update

from pop import paths
from pop.contracts import BatchStatus, BatchSummary, Discrepancy, ReviewStatus
from pop.db import get_engine
from pop.models import DiscrepancyRecord
from pop.registry import Registry, Source, load_registry
from tasks.ingest.batch import ingest_file
from tasks.ingest.inbox import discover_files
from tasks.ledger.review import review_batch
from tasks.quality import prefect_tasks
from tasks.quality.discrepancies import (
    DiscrepancyError,
    check_discrepancies,
    load_checks,
    load_discrepancy_config,
)
from tasks.reference.dimensions import sync_dimensions
from tests.conftest import DEMO_INBOX, DEMO_REGISTRY
from tests.helpers import HEADER, helpline_source, write_file

DISCREPANCIES = DiscrepancyRecord.__table__
COMMON = {"licence": "CC-BY-4.0", "contact": "data@example.org", "update_frequency": "yearly"}


# --- builders ---------------------------------------------------------------------------------------------


def make_source(tmp_path: Path, entry: dict[str, Any]) -> Source:
    """A source read through a real registry file; its files arrive in tmp_path/inbox/<id>/."""
    registry = tmp_path / f"{entry['id']}.yaml"
    registry.write_text(yaml.safe_dump({"sources": [{**COMMON, **entry}]}), encoding="utf-8")
    (tmp_path / "inbox" / entry["id"]).mkdir(parents=True, exist_ok=True)
    return load_registry(registry).sources[0]


def tech_source(tmp_path: Path) -> Source:
    """A long-format tech metrics source (country defaults to WLD)."""
    columns = {
        "Company": "company",
        "Service": "product",
        "Reported by": "reporter",
        "Metric": "metric",
        "Period": "period",
        "Unit": "unit",
        "Value": "value",
    }
    return make_source(
        tmp_path,
        {
            "id": "tech",
            "group": "tech_companies",
            "schema": "tech_companies",
            "organisation": "Test compilers",
            "format": "csv",
            "files": "tech/*.csv",
            "columns": columns,
            "defaults": {"country": "WLD"},
        },
    )


def survey_source(tmp_path: Path) -> Source:
    """A youth survey microdata source."""
    columns = {
        "survey": "survey_id",
        "respondent": "response_id",
        "year": "period",
        "country": "country",
        "age": "age",
        "gender": "gender",
        "unsafe": "felt_unsafe_context",
        "online_help": "used_online_help",
        "weight": "weight",
    }
    return make_source(
        tmp_path,
        {
            "id": "survey",
            "group": "children_youth",
            "schema": "children_youth",
            "organisation": "Test survey team",
            "format": "csv",
            "files": "survey/*.csv",
            "columns": columns,
        },
    )


def provider_source(tmp_path: Path) -> Source:
    """A service provider reports source."""
    columns = {
        "Organisation": "org_name",
        "Type": "org_type",
        "Country": "country",
        "Period": "period",
        "Total contacts": "contacts_total",
        "Online contacts": "contacts_online",
    }
    return make_source(
        tmp_path,
        {
            "id": "providers",
            "group": "service_providers",
            "schema": "service_providers",
            "organisation": "Test network",
            "format": "csv",
            "files": "providers/*.csv",
            "columns": columns,
            "authoritative_for": ["org_name"],  # the network lists its members
        },
    )


def ingest(
    tmp_path: Path, database_url: str, source: Source, name: str, lines: list[str], folder: str | None = None
) -> BatchSummary:
    """Write one sender file and ingest it; the batch must load every row."""
    write_file(tmp_path, name, "\n".join(lines) + "\n", folder=folder or source.id)
    with get_engine(database_url).begin() as conn:
        sync_dimensions(conn, Registry(sources=[source]))
    [batch] = [
        b
        for b in (
            ingest_file(source, incoming, database_url, tmp_path / "landing", 1000, None)
            for incoming in discover_files(source, tmp_path / "inbox")
        )
        if b
    ]
    assert (batch.status, batch.rows_quarantined) == (BatchStatus.LOADED, 0), batch
    return batch


def write_config(tmp_path: Path, **overrides: Any) -> Path:
    """The bundled discrepancies config with some entries replaced."""
    config = {**yaml.safe_load(paths.DISCREPANCIES_FILE.read_text(encoding="utf-8")), **overrides}
    path = tmp_path / "discrepancies.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def discrepancies_of(found: list[Discrepancy], check_id: str) -> dict[str, Discrepancy]:
    """One check's discrepancies by subject."""
    return {d.subject: d for d in found if d.check_id == check_id}


def stored(database_url: str) -> list[dict]:
    """Every row of the discrepancies table."""
    table = DISCREPANCIES
    with get_engine(database_url).connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(table.c.check_id, table.c.subject)).mappings()]


# --- the check files and the config -------------------------------------------------------------------------


def test_every_check_file_has_its_header_and_binds_only_its_tolerance() -> None:
    checks = {c.id: c for c in load_checks()}
    assert set(checks) == {
        "reporter_agreement",
        "helpline_total_vs_breakdown",
        "survey_weights",
        "provider_online_exceeds_total",
        "sources_disagree",
    }
    config = load_discrepancy_config(paths.DISCREPANCIES_FILE, list(checks.values()))
    for check in checks.values():
        assert check.title and check.description and check.compares
        assert set(re.findall(r"(?<![:\w]):(\w+)", check.sql)) == {check.tolerance}
        assert check.tolerance in config.tolerances
    assert checks["survey_weights"].declared == ("declared_weight_totals",)
    assert config.tolerances["reporter_tolerance"] == 0.05
    assert checks["reporter_agreement"].default == 0.05 and checks["survey_weights"].default == 0.01


def test_a_config_entry_no_check_uses_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, tolerances={"reporter_tolerence": 0.1})
    with pytest.raises(DiscrepancyError, match="reporter_tolerence not used by any check"):
        check_discrepancies(f"sqlite:///{tmp_path / 'unused.sqlite'}", "run", path)


# --- 1. reporter agreement ----------------------------------------------------------------------------------

TECH_HEADER = "Company,Service,Reported by,Metric,Period,Unit,Value"
TECH_ROWS = [
    'X Corp.,X,self-reported,Reports to NCMEC,2023,count,"870,000"',  # X: 870,000 vs 300,000 + 297,087
    'X Corp.,X,NCMEC,CyberTipline reports,2023-H1,count,"300,000"',
    'X Corp.,X,NCMEC,CyberTipline reports,2023-H2,count,"297,087"',
    'Snapchat,Snapchat,self-reported,Reports to NCMEC,2023,count,"690,000"',  # 3.2 % apart: within 5 %
    'Snapchat,Snapchat,NCMEC,CyberTipline reports,2023,count,"713,055"',
    'Google LLC,all,self-reported,Reports to NCMEC,2023,count,"1,000,000"',  # yearly figure and its quarters:
    *[f'Google LLC,all,self-reported,Reports to NCMEC,2023-Q{q},count,"250,000"' for q in (1, 2, 3, 4)],
    'Google LLC,all,NCMEC,CyberTipline reports,2023,count,"1,010,000"',  # the yearly one is compared
    'TikTok,TikTok,self-reported,Content removed,2023,count,"7,500,000"',  # one reporter only
]
X_CORP_2023 = {
    "company": "x_corp",
    "product": "x",
    "metric": "cybertipline_reports",
    "year": "2023",
    "company_value": 870000,
    "ncmec_value": 597087,
    "difference": 272913,
    "relative_difference": 0.457074,
    "company_periods": 1,
    "ncmec_periods": 2,
}


def test_reporter_agreement_finds_the_company_and_ncmec_apart(tmp_path: Path, database_url: str) -> None:
    ingest(tmp_path, database_url, tech_source(tmp_path), "metrics.csv", [TECH_HEADER, *TECH_ROWS])
    found = discrepancies_of(check_discrepancies(database_url, "run-1"), "reporter_agreement")
    assert list(found) == ["x_corp x cybertipline_reports 2023"]
    discrepancy = found["x_corp x cybertipline_reports 2023"]
    assert discrepancy.details == X_CORP_2023
    assert discrepancy.status == "open" and discrepancy.title.startswith("A company and NCMEC disagree")


def test_reporter_agreement_tolerance_is_data(tmp_path: Path, database_url: str) -> None:
    ingest(tmp_path, database_url, tech_source(tmp_path), "metrics.csv", [TECH_HEADER, *TECH_ROWS])
    strict = write_config(tmp_path, tolerances={"reporter_tolerance": 0.01})
    found = discrepancies_of(check_discrepancies(database_url, "run-1", strict), "reporter_agreement")
    assert set(found) == {"x_corp x cybertipline_reports 2023", "snap snapchat cybertipline_reports 2023"}
    snap = found["snap snapchat cybertipline_reports 2023"].details
    assert (snap["company_value"], snap["ncmec_value"], snap["difference"]) == (690000, 713055, -23055)
    lenient = write_config(tmp_path, tolerances={"reporter_tolerance": 0.5})
    assert discrepancies_of(check_discrepancies(database_url, "run-2", lenient), "reporter_agreement") == {}
    assert {r["subject"]: r["status"] for r in stored(database_url)} == {
        "x_corp x cybertipline_reports 2023": "resolved",
        "snap snapchat cybertipline_reports 2023": "resolved",
    }


# --- discrepancies over runs: upsert, status kept, resolved, reopened ---------------------------------------------


def test_rerunning_keeps_one_discrepancy_per_subject_and_resolves_what_vanished(
    tmp_path: Path, database_url: str
) -> None:
    batch = ingest(tmp_path, database_url, tech_source(tmp_path), "metrics.csv", [TECH_HEADER, *TECH_ROWS])
    check_discrepancies(database_url, "run-1")
    [first] = stored(database_url)
    with get_engine(database_url).begin() as conn:  # a steward has looked at it
        conn.execute(update(DISCREPANCIES).values(status="reviewed"))

    again = check_discrepancies(database_url, "run-2")
    [second] = stored(database_url)
    assert [d.status for d in again] == ["reviewed"]
    assert (second["discrepancy_id"], second["first_seen_at"], second["status"], second["run_id"]) == (
        first["discrepancy_id"],
        first["first_seen_at"],
        "reviewed",
        "run-2",
    )
    assert second["last_seen_at"] >= first["last_seen_at"]
    assert json.loads(second["details_json"]) == X_CORP_2023

    with get_engine(database_url).begin() as conn:  # the batch is rejected: its rows no longer count
        review_batch(conn, batch.batch_id, ReviewStatus.REJECTED, "steward", "wrong file")
    assert check_discrepancies(database_url, "run-3") == []
    [resolved] = stored(database_url)
    assert (resolved["discrepancy_id"], resolved["status"], resolved["run_id"]) == (
        first["discrepancy_id"],
        "resolved",
        "run-2",
    )

    with get_engine(database_url).begin() as conn:  # approved after all: the same discrepancy opens again
        review_batch(conn, batch.batch_id, ReviewStatus.APPROVED, "steward", None)
    [reopened] = check_discrepancies(database_url, "run-4")
    assert (reopened.status, reopened.details) == ("open", X_CORP_2023)
    [row] = stored(database_url)
    assert (row["discrepancy_id"], row["first_seen_at"]) == (first["discrepancy_id"], first["first_seen_at"])


# --- 2. helpline total vs breakdown ---------------------------------------------------------------------------

HELPLINE_ROWS = [
    "2023-Q1,Kenya,counselling,all,all,13-15,all,100",  # total 100, channels 60 + 45 = 105
    "2023-Q1,Kenya,counselling,TEL,all,13-15,all,60",
    "2023-Q1,Kenya,counselling,chat,all,13-15,all,45",
    "2023-Q2,Kenya,counselling,all,all,13-15,all,100",  # total 100 = channels 60 + 40
    "2023-Q2,Kenya,counselling,TEL,all,13-15,all,60",
    "2023-Q2,Kenya,counselling,chat,all,13-15,all,40",
    "2023-Q2,Kenya,counselling,all,violence,13-15,all,30",  # a parent next to its sub-codes ...
    "2023-Q2,Kenya,counselling,all,bullying,13-15,all,20",
    "2023-Q2,Kenya,counselling,all,sexual abuse,13-15,all,10",
    "2023-Q2,Kenya,counselling,all,mental_health,13-15,all,70",  # ... reasons 20 + 10 + 70 = 100
    "2023-Q3,Kenya,total,all,all,16-17,all,50",  # all contact types 50 = 30 + 20
    "2023-Q3,Kenya,counselling,all,all,16-17,all,30",
    "2023-Q3,Kenya,non_counselling,all,all,16-17,all,20",
    "2023-Q3,Kenya,counselling,all,all,13-15,girl,12",  # gender breakdown without a total: nothing to compare
    "2023-Q4,Kenya,counselling,all,all,13-15,all,80",  # a total without a breakdown: nothing to compare
]
HELPLINE_Q1 = (
    "test_helpline 2023-Q1 KEN contact_type=counselling channel=all reason=all age_band=13-15 gender=all, by channel"
)


def test_helpline_total_differing_from_its_breakdown(tmp_path: Path, database_url: str) -> None:
    ingest(tmp_path, database_url, helpline_source(tmp_path), "2023.csv", [HEADER, *HELPLINE_ROWS], folder="hl")
    found = discrepancies_of(check_discrepancies(database_url, "run-1"), "helpline_total_vs_breakdown")
    assert list(found) == [HELPLINE_Q1]
    assert found[HELPLINE_Q1].details == {
        "source": "test_helpline",
        "period": "2023-Q1",
        "country": "KEN",
        "contact_type": "counselling",
        "channel": "all",
        "reason": "all",
        "age_band": "13-15",
        "gender": "all",
        "breakdown": "channel",
        "total_contacts": 100,
        "breakdown_sum": 105,
        "difference": 5,
        "relative_difference": 0.05,
        "breakdown_cells": 2,
    }


def test_helpline_within_tolerance_is_quiet(tmp_path: Path, database_url: str) -> None:
    ingest(tmp_path, database_url, helpline_source(tmp_path), "2023.csv", [HEADER, *HELPLINE_ROWS], folder="hl")
    lenient = write_config(tmp_path, tolerances={"helpline_total_tolerance": 0.05})
    assert discrepancies_of(check_discrepancies(database_url, "run-1", lenient), "helpline_total_vs_breakdown") == {}


# --- 3. survey weights ------------------------------------------------------------------------------------------

SURVEY_HEADER = "survey,respondent,year,country,age,gender,unsafe,online_help,weight"


def survey_rows(survey_id: str, weights: list[float]) -> list[str]:
    """One respondent row per weight."""
    return [f"{survey_id},R{i},2023,Kenya,14,girl,online,yes,{w}" for i, w in enumerate(weights, start=1)]


def test_survey_weights_not_summing_as_declared(tmp_path: Path, database_url: str) -> None:
    rows = [
        *survey_rows("S-NORMALISED", [0.5, 1.5, 1.0, 1.0]),  # 4.0 = 4 respondents
        *survey_rows("S-OFF", [1.2, 1.2, 1.1, 1.0]),  # 4.5 against 4 respondents
        *survey_rows("S-DECLARED", [50, 20, 30]),  # 100 = declared 100
        *survey_rows("S-SHORT", [10, 20]),
    ]  # 30 against declared 40
    ingest(tmp_path, database_url, survey_source(tmp_path), "export.csv", [SURVEY_HEADER, *rows])
    config = write_config(tmp_path, declared_weight_totals={"S-DECLARED": 100, "S-SHORT": 40})
    found = discrepancies_of(check_discrepancies(database_url, "run-1", config), "survey_weights")
    assert {s: d.details for s, d in found.items()} == {
        "S-OFF": {
            "survey_id": "S-OFF",
            "respondents": 4,
            "weight_sum": 4.5,
            "declared_total": 4,
            "declared_from": "respondents",
            "difference": 0.5,
            "relative_difference": 0.125,
        },
        "S-SHORT": {
            "survey_id": "S-SHORT",
            "respondents": 2,
            "weight_sum": 30,
            "declared_total": 40,
            "declared_from": "config",
            "difference": -10,
            "relative_difference": -0.25,
        },
    }
    # without the declarations, S-DECLARED's weights (sum 100 over 3 respondents) are not normalised either
    plain = write_config(tmp_path, declared_weight_totals={})
    found = discrepancies_of(check_discrepancies(database_url, "run-2", plain), "survey_weights")
    assert set(found) == {"S-OFF", "S-DECLARED", "S-SHORT"}
    assert found["S-DECLARED"].details["declared_total"] == 3


# --- 4. provider online vs total across reports ----------------------------------------------------------------

PROVIDER_HEADER = "Organisation,Type,Country,Period,Total contacts,Online contacts"
PROVIDER_ROWS = [
    "Org A,helpline,Kenya,2023,1000,",  # yearly total 1000 ...
    "Org A,helpline,Kenya,2023-H1,400,380",  # ... but online in the half-years: 380 + 690 = 1070
    "Org A,helpline,Kenya,2023-H2,700,690",
    "Org B,ngo,Uganda,2023,900,",  # yearly total 900, online 400 + 450 = 850
    "Org B,ngo,Uganda,2023-H1,500,400",
    "Org B,ngo,Uganda,2023-H2,500,450",
    "Org C,ngo,Ghana,2023-H1,300,290",  # every report within its own total
    "Org C,ngo,Ghana,2023-H2,300,290",
]


def test_provider_online_exceeding_total_across_reports(tmp_path: Path, database_url: str) -> None:
    ingest(tmp_path, database_url, provider_source(tmp_path), "reports.csv", [PROVIDER_HEADER, *PROVIDER_ROWS])
    found = discrepancies_of(check_discrepancies(database_url, "run-1"), "provider_online_exceeds_total")
    assert {s: d.details for s, d in found.items()} == {
        "Org A 2023": {
            "org_name": "Org A",
            "year": "2023",
            "contacts_online": 1070,
            "contacts_total": 1000,
            "difference": 70,
            "relative_difference": 0.07,
            "online_periods": 2,
            "total_periods": 1,
            "countries": 1,
        }
    }


def test_checks_are_quiet_on_an_empty_warehouse(database_url: str) -> None:
    assert check_discrepancies(database_url, "run-1") == []
    assert stored(database_url) == []


# --- the bundled demo ----------------------------------------------------------------------------------------------


def ingest_demo(database_url: str, landing: Path) -> None:
    """Every demo file through the ingest task, with the real registry (as the ingest flow does)."""
    registry = load_registry(DEMO_REGISTRY)
    with get_engine(database_url).begin() as conn:
        sync_dimensions(conn, registry)
    for source in registry.sources:
        for incoming in discover_files(source, DEMO_INBOX):
            ingest_file(
                source, incoming, database_url=database_url, landing_dir=landing, chunk_rows=100_000, run_id=None
            )


def test_the_demo_x_corp_discrepancy_is_found_and_shown_in_prefect(tmp_path: Path, database_url: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    ingest_demo(database_url, tmp_path / "landing")
    found = prefect_tasks.check_discrepancies(database_url, "demo-run")
    reporters = discrepancies_of(found, "reporter_agreement")
    assert set(reporters) == {"x_corp x cybertipline_reports 2022", "x_corp x cybertipline_reports 2023"}
    assert reporters["x_corp x cybertipline_reports 2023"].details == {**X_CORP_2023, "ncmec_periods": 1}
    details_2022 = reporters["x_corp x cybertipline_reports 2022"].details
    assert (details_2022["company_value"], details_2022["ncmec_value"]) == (120000, 98050)
    # BR and PH declare their weighted totals in config/discrepancies.yaml; KE declares none and is 3% off
    assert set(discrepancies_of(found, "survey_weights")) == {"DEMO-YS-2023-KE"}
    assert not discrepancies_of(found, "provider_online_exceeds_total")
    assert not discrepancies_of(found, "helpline_total_vs_breakdown")  # the demo helplines send no totals
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["discrepancies"])))
    artifact = max(artifacts, key=lambda a: a.created)
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert artifact.type == "table" and len(table) == len(found)
    assert any(
        row["subject"] == "x_corp x cybertipline_reports 2023" and "ncmec_value=597087" in row["numbers"]
        for row in table
    )
