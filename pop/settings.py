"""One settings object decides the warehouse URL and every path; environment variables prefixed POP_ override it."""

from __future__ import annotations

import datetime as dt
import getpass
import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Where things are. Local by default: a SQLite file under outputs/; set POP_DATABASE_URL for PostgreSQL."""

    model_config = SettingsConfigDict(env_prefix="POP_", env_file=".env", extra="ignore")

    project_root: Path = PROJECT_ROOT
    outputs_dir: Path = PROJECT_ROOT / "outputs"
    registry_path: Path = PROJECT_ROOT / "config" / "sources.yaml"
    inbox_dir: Path = PROJECT_ROOT / "demo" / "inbox"
    database_url: str | None = None
    chunk_rows: int = 200_000
    errata_path: Path = PROJECT_ROOT / "config" / "errata.yaml"
    as_of: dt.date | None = None  # the date freshness is judged against (default: today)
    auto_approve_clean: bool = True  # a batch with no quarantined row is approved without a steward
    gx_keep_results: int = Field(default=30, ge=1)  # GX validation results (and their Data Docs pages) kept per suite
    steward: str = Field(default_factory=lambda: os.environ.get("USER") or getpass.getuser() or "steward")

    @property
    def warehouse_url(self) -> str:
        """The SQLAlchemy URL of the warehouse: POP_DATABASE_URL, else a SQLite file under outputs/."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.outputs_dir / 'warehouse.sqlite'}"

    @property
    def landing_dir(self) -> Path:
        return self.outputs_dir / "landing"

    @property
    def reports_dir(self) -> Path:
        return self.outputs_dir / "reports"

    @property
    def snapshots_dir(self) -> Path:
        return self.outputs_dir / "snapshots"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests change the environment between runs)."""
    get_settings.cache_clear()
