"""The warehouse schema comes from Alembic only: head matches the models, and every step goes down and up again."""

from __future__ import annotations

from alembic import command

from pop.db import alembic_config, get_engine, upgrade


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
