"""The warehouse schema comes from Alembic only: head matches the models, and every step goes down and up again."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from pop import views
from pop.db import alembic_config, get_engine, upgrade, utcnow
from pop.models import FACT_TABLES
from tests.helpers import ingest_demo_sources, record_keys_stored_and_derived


def test_head_matches_the_models_and_migrations_round_trip(database_url: str) -> None:
    config = alembic_config(database_url)
    with get_engine(database_url).begin() as connection:
        config.attributes["connection"] = connection
        command.check(config)  # raises when the models and the migrated schema differ
        command.downgrade(config, "base")
    upgrade(database_url)
    upgrade(database_url)  # idempotent
    with get_engine(database_url).begin() as connection:
        config.attributes["connection"] = connection
        command.check(config)


def test_consistency_findings_become_discrepancies_keeping_their_rows(database_url: str) -> None:
    """0005 renames the table (its rows kept, its key numbering going on) and the count in stored run summaries."""
    config = alembic_config(database_url)
    summary = '{"run_id": "r", "findings": 3}'
    with get_engine(database_url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
        connection.execute(
            text(
                "INSERT INTO consistency_findings (check_id, subject, details_json, status, first_seen_at, "
                "last_seen_at) VALUES ('survey_weights', 'S-1', '{}', 'reviewed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO ingest_runs (run_id, started_at, status, summary_json) VALUES ('r', :t, 'completed', :s)"
            ),
            {"t": utcnow(), "s": summary},
        )
    upgrade(database_url)
    with get_engine(database_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO discrepancies (check_id, subject, details_json, status, first_seen_at, last_seen_at) "
                "VALUES ('survey_weights', 'S-2', '{}', 'open', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        found = connection.execute(text("SELECT discrepancy_id, subject, status FROM discrepancies ORDER BY 1")).all()
        stored = connection.execute(text("SELECT summary_json FROM ingest_runs")).scalar_one()
    assert [tuple(r) for r in found] == [(1, "S-1", "reviewed"), (2, "S-2", "open")]
    assert json.loads(stored) == {"run_id": "r", "discrepancies": 3}


def test_0012_gives_the_rows_loaded_before_the_keys_a_load_gives(tmp_path: Path, database_url: str) -> None:
    """Rows loaded at 0011 get, on upgrade, the record keys a load gives them (their batch's sha256, their row
    number), the column becomes NOT NULL, and every view of the fact tables shows it."""
    ingest_demo_sources(database_url, tmp_path / "landing", ["youth_survey", "helpline_ke", "tech_transparency"])
    loaded, derived = record_keys_stored_and_derived(database_url)
    assert loaded == derived and len(loaded) > 1000
    config = alembic_config(database_url)
    with get_engine(database_url).begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["force"] = True  # the record keys go (sql/migrations/env.py refuses it unforced)
        command.downgrade(config, "0011")
        assert "record_key" not in {c["name"] for c in inspect(connection).get_columns("fact_youth_responses")}
    upgrade(database_url)
    assert record_keys_stored_and_derived(database_url)[0] == loaded
    with get_engine(database_url).connect() as connection:
        found = inspect(connection)
        for table in FACT_TABLES:
            [key] = [c for c in found.get_columns(table) if c["name"] == "record_key"]
            assert not key["nullable"]
            for kind in views.KINDS:
                for view in (views.facts_view(kind, table), views.observed_view(kind, table)):
                    assert "record_key" in {c["name"] for c in found.get_columns(view)}, view
        keys = "SELECT COUNT(*), SUM(record_key) FROM current_observed_fact_helpline_contacts"
        observed = connection.execute(text(keys)).one()
    helpline = [k for (table, _, _), k in loaded.items() if table == "fact_helpline_contacts"]
    assert tuple(observed) == (len(helpline), sum(helpline))  # one source: every row is its own observation
