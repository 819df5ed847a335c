"""Organisations grow with the evidence, on SQLite and PostgreSQL: a network listing its members is authoritative for
their names (added, for review); a provider reporting itself under another spelling waits until a steward maps the
name, and its report is then the same observation as the network's, counted once. Migration 0010 makes the names
loaded before organisation entries, keeping every row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from pop.db import alembic_config, get_engine, upgrade
from pop.registry import Registry, Source
from tasks.ingest.batch import ingest_file
from tasks.ingest.inbox import discover_files
from tasks.ledger.review import ReviewError, audit_trail
from tasks.reference.dimensions import sync_dimensions
from tasks.reference.names import entries_to_review
from tests.helpers import write_file
from tests.tasks.quality.test_discrepancies import make_source
from tests.tasks.steward.test_names import decide

HEADER = "Organisation,Type,Country,Year,Total contacts"


def provider_source(tmp_path: Path, source_id: str, **entry: object) -> Source:
    columns = {"Organisation": "org_name", "Type": "org_type", "Country": "country", "Year": "period"}
    return make_source(
        tmp_path,
        {
            "id": source_id,
            "group": "service_providers",
            "schema": "service_providers",
            "organisation": source_id,
            "format": "csv",
            "files": f"{source_id}/*.csv",
            "columns": {**columns, "Total contacts": "contacts_total"},
            **entry,
        },
    )


def send(tmp_path: Path, url: str, source: Source, lines: list[str], name: str = "2023.csv") -> tuple[int, int]:
    """One file of the source, ingested: (rows loaded, rows quarantined)."""
    write_file(tmp_path, name, "\n".join([HEADER, *lines]) + "\n", folder=source.id)
    with get_engine(url).begin() as conn:
        sync_dimensions(conn, Registry(sources=[source]))
    [batch] = [
        ingest_file(source, incoming, url, tmp_path / "landing", 1000, None)
        for incoming in discover_files(source, tmp_path / "inbox")
        if incoming.path.name == name
    ]
    return batch.rows_loaded, batch.rows_quarantined


def query(url: str, sql: str) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return sorted(tuple(r) for r in conn.execute(text(sql)))


def test_one_organisation_under_two_names_is_counted_once(tmp_path: Path, database_url: str) -> None:
    network = provider_source(tmp_path, "network", authoritative_for=["org_name"], precedence=50)
    own = provider_source(tmp_path, "own_report")
    assert send(tmp_path, database_url, network, ["Childline Kenya,helpline,Kenya,2023,1000"]) == (1, 0)
    with get_engine(database_url).connect() as conn:
        assert [(e["code"], e["source_id"]) for e in entries_to_review(conn)] == [("childline_kenya", "network")]

    # the provider's own report, under its full name: no list has it, so it waits for a steward
    assert send(tmp_path, database_url, own, ["Childline Kenya (CLK),helpline,Kenya,2023,1000"]) == (0, 1)
    outcome = decide(tmp_path, database_url, own, "map", "Childline Kenya (CLK)", code="childline_kenya")
    [reloaded] = outcome.reloaded
    assert (reloaded.outcome.correction.rows_loaded, reloaded.outcome.correction.rows_quarantined) == (1, 0)

    columns = "source_id, org_name_code, org_name_reported, contacts_total"
    assert query(database_url, f"SELECT {columns} FROM current_fact_service_provider_reports") == [
        ("network", "childline_kenya", "Childline Kenya", 1000),
        ("own_report", "childline_kenya", "Childline Kenya (CLK)", 1000),
    ]
    observed = "SELECT source_id, org_name_code, contacts_total FROM current_observed_fact_service_provider_reports"
    assert query(database_url, observed) == [("network", "childline_kenya", 1000)]  # one observation, one count
    assert query(database_url, "SELECT COUNT(*) FROM observation_conflicts") == [(0,)]


def test_migration_0010_makes_loaded_names_organisations(tmp_path: Path, database_url: str) -> None:
    network = provider_source(tmp_path, "network", authoritative_for=["org_name"])
    lines = ["Childline Kenya,helpline,Kenya,2023,1000", "Sauti 116,helpline,Tanzania,2023,700"]
    assert send(tmp_path, database_url, network, lines) == (2, 0)
    config = alembic_config(database_url)
    with get_engine(database_url).begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["force"] = True  # the loaded names' columns go (sql/migrations/env.py refuses it unforced)
        command.downgrade(config, "0009")
        connection.execute(text("DELETE FROM vocabulary_names"))
        connection.execute(text("DELETE FROM vocabulary_entries"))  # as before organisations were a vocabulary
        assert sorted(connection.execute(text("SELECT scope_1 FROM observation_scopes")).scalars()) == [
            "Childline Kenya",
            "Sauti 116",
        ]
    upgrade(database_url)
    codes = "SELECT org_name_code, org_name_reported FROM fact_service_provider_reports"
    assert query(database_url, codes) == [("childline_kenya", "Childline Kenya"), ("sauti_116", "Sauti 116")]
    entries = "SELECT vocabulary, code, label, source_id FROM vocabulary_entries"
    assert query(database_url, entries) == [
        ("organisation", "childline_kenya", "Childline Kenya", "network"),
        ("organisation", "sauti_116", "Sauti 116", "network"),
    ]
    assert query(database_url, "SELECT scope_1 FROM observation_scopes") == [("childline_kenya",), ("sauti_116",)]
    assert query(database_url, "SELECT code FROM dim_organisation") == [("childline_kenya",), ("sauti_116",)]


def test_an_organisation_a_source_added_twice_is_merged_by_a_steward(tmp_path: Path, database_url: str) -> None:
    """Two lists each add an organisation under their own spelling, so its report counts twice; the steward maps the
    second spelling to the first entry: the rows move, the second entry goes, and it counts once."""
    network = provider_source(tmp_path, "network", authoritative_for=["org_name"], precedence=50)
    portal = provider_source(tmp_path, "portal", authoritative_for=["org_name"])
    assert send(tmp_path, database_url, network, ["Childline Kenya,helpline,Kenya,2023,1000"]) == (1, 0)
    assert send(tmp_path, database_url, portal, ["Childline Kenya (CLK),helpline,Kenya,2023,1000"]) == (1, 0)
    observed = "SELECT source_id, org_name_code FROM current_observed_fact_service_provider_reports"
    assert query(database_url, observed) == [("network", "childline_kenya"), ("portal", "childline_kenya_clk")]

    outcome = decide(tmp_path, database_url, portal, "map", "Childline Kenya (CLK)", code="childline_kenya")
    assert (outcome.code, outcome.reloaded, outcome.merged, outcome.rows_moved) == (
        "childline_kenya",
        (),
        "childline_kenya_clk",
        1,
    )
    assert query(database_url, observed) == [("network", "childline_kenya")]  # one organisation, one count
    assert query(database_url, "SELECT code FROM vocabulary_entries") == [("childline_kenya",)]
    assert query(database_url, "SELECT code FROM dim_organisation") == [("childline_kenya",)]
    assert query(database_url, "SELECT scope_1 FROM observation_scopes") == [("childline_kenya",), ("childline_kenya",)]
    with get_engine(database_url).connect() as conn:
        [trail] = [a for a in audit_trail(conn) if a["action"] == "vocab_map"]
    assert json.loads(trail["details_json"]) == {
        "vocabulary": "organisation",
        "name": "Childline Kenya (CLK)",
        "code": "childline_kenya",
        "merged": "childline_kenya_clk",
        "rows_moved": 1,
    }

    # the portal's next report under that spelling is the same organisation from the start
    assert send(tmp_path, database_url, portal, ["Childline Kenya (CLK),helpline,Kenya,2024,1100"], "2024.csv") == (
        1,
        0,
    )
    codes = "SELECT DISTINCT org_name_code FROM fact_service_provider_reports"
    assert query(database_url, codes) == [("childline_kenya",)]


def test_a_merge_that_would_count_a_row_twice_is_refused(tmp_path: Path, database_url: str) -> None:
    portal = provider_source(tmp_path, "portal", authoritative_for=["org_name"])
    lines = ["Childline Kenya,helpline,Kenya,2023,1000", "Childline Kenya (CLK),helpline,Kenya,2023,1000"]
    assert send(tmp_path, database_url, portal, lines) == (2, 0)
    with pytest.raises(ReviewError, match=r"batch\(es\) 1 of service_providers hold rows under both"):
        decide(tmp_path, database_url, portal, "map", "Childline Kenya (CLK)", code="childline_kenya")
    assert len(query(database_url, "SELECT code FROM vocabulary_entries")) == 2  # nothing changed
