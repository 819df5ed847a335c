"""One settings object holds what varies per deployment (warehouse URL, inbox, outputs, registry, limits);
environment variables prefixed POP_ (or a .env file) override it. Fixed paths are in pop.paths."""

from __future__ import annotations

import datetime as dt
import getpass
import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pop import paths
from pop.paths import OutputPaths


class Settings(BaseSettings):
    """Where things are. Local by default: a SQLite file under outputs/; set POP_DATABASE_URL for PostgreSQL."""

    model_config = SettingsConfigDict(env_prefix="POP_", env_file=".env", extra="ignore")

    outputs_dir: Path = paths.DEFAULT_OUTPUTS
    registry_path: Path = paths.SOURCES_FILE
    inbox_dir: Path = paths.DEMO_INBOX
    database_url: str | None = None
    chunk_rows: int = 200_000
    # what one file may hold: more fails its batch with a message, never a silent cut nor a machine out of memory
    max_file_mb: int = Field(default=1_024, ge=1)
    max_rows: int = Field(default=10_000_000, ge=1)
    max_cell_chars: int = Field(default=32_767, ge=1)  # the most an Excel cell holds; a longer cell is quarantined
    errata_path: Path = paths.ERRATA_FILE
    review_path: Path = paths.REVIEW_FILE  # when a clean batch waits for a steward (small additions)
    as_of: dt.date | None = None  # the date freshness is judged against (default: today)
    auto_approve_clean: bool = True  # a batch with no quarantined row is approved without a steward
    gx_keep_results: int = Field(default=30, ge=1)  # GX validation results (and their Data Docs pages) kept per suite
    # the secret record keys are derived with (pop.record_keys); unset: a file in the outputs folder, made once
    record_key_secret: SecretStr | None = None
    steward: str = Field(default_factory=lambda: os.environ.get("USER") or getpass.getuser() or "steward")

    @property
    def outputs(self) -> OutputPaths:
        """The folders inside the outputs folder (landing, reports, snapshots, ...)."""
        return OutputPaths(self.outputs_dir)

    @property
    def warehouse_url(self) -> str:
        """The SQLAlchemy URL of the warehouse: POP_DATABASE_URL, else a SQLite file under outputs/."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.outputs.warehouse_file}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests change the environment between runs)."""
    get_settings.cache_clear()
