"""The warehouse schema comes from Alembic only: head matches the models, and every step goes down and up again."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import text

from pop.db import alembic_config, get_engine, upgrade, utcnow


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
