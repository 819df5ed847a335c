"""One settings object holds what varies per deployment (warehouse URL, inbox, outputs, registry, limits);
environment variables prefixed POP_ (or a .env file) override it. Fixed paths are in pop.paths."""

from __future__ import annotations

import datetime as dt
import getpass
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

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
    # how the ingest flow runs its sources side by side (flows/runners.py): "thread", a pool of task_workers threads
    # in the flow's process; "dask", prefect-dask's DaskTaskRunner on a LocalCluster of task_workers processes, or
    # on the cluster at dask_address (its workers need the same POP_* settings and the project installed). One
    # worker by default: on SQLite writers take turns, so more only wait (README, "Scaling out")
    task_runner: Literal["thread", "dask"] = "thread"
    task_workers: int = Field(default=1, ge=1)
    dask_address: str | None = None
    # what one file may hold: more fails its batch with a message, never a silent cut nor a machine out of memory
    max_file_mb: int = Field(default=1_024, ge=1)
    max_rows: int = Field(default=10_000_000, ge=1)
    max_cell_chars: int = Field(default=32_767, ge=1)  # the most an Excel cell holds; a longer cell is quarantined
    # what is held in memory at once: one line of a text file, or one record of a JSON document (a 5 MB cell fits)
    max_line_kb: int = Field(default=16_384, ge=1)
    # an xlsx workbook unpacked (its XML parts), and its shared strings (which openpyxl holds whole), checked from
    # the zip's directory before it is opened; a part packed tighter than max_zip_ratio to 1 is a zip bomb
    max_xlsx_expanded_mb: int = Field(default=1_024, ge=1)
    max_xlsx_strings_mb: int = Field(default=256, ge=1)
    max_zip_ratio: int = Field(default=200, ge=1)
    # a file in the inbox is taken once it has not changed for this long (a sender's upload may still be writing it);
    # a source whose registry entry names a complete_marker is taken when the marker is there instead
    inbox_settle_seconds: float = Field(default=10, ge=0)
    errata_path: Path = paths.ERRATA_FILE
    review_path: Path = paths.REVIEW_FILE  # when a clean batch waits for a steward (small additions)
    as_of: dt.date | None = None  # the date freshness is judged against (default: today)
    auto_approve_clean: bool = True  # a batch with no quarantined row is approved without a steward
    # how long a run that writes (ingest, correction) waits for another one to finish before it stops, saying which
    writer_wait_seconds: float = Field(default=0.0, ge=0)
    gx_keep_results: int = Field(default=30, ge=1)  # GX validation results (and their Data Docs pages) kept per suite
    # the secret record keys are derived with (pop.record_keys); unset: a file in the outputs folder, made once
    record_key_secret: SecretStr | None = None
    # where a failed or crashed flow run is reported (a JSON POST: tasks/ops/alerts.py); secret: such URLs carry tokens
    alert_webhook_url: SecretStr | None = None
    # the folder of pg_dump and pg_restore for `pop backup`/`pop restore` (default: PATH, then /usr/lib/postgresql)
    pg_bin_dir: Path | None = None
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
