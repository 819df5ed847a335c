"""Every folder and file the project knows, derived from the repository root. Imports nothing of ours: the one
module every layer may use. Settings keep only what varies per deployment (database URL, inbox, outputs, registry);
the folders inside an outputs folder are `OutputPaths`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CONFIG = ROOT / "config"
SOURCES_FILE = CONFIG / "sources.yaml"
ERRATA_FILE = CONFIG / "errata.yaml"
DISCLOSURE_FILE = CONFIG / "disclosure.yaml"
FINDINGS_FILE = CONFIG / "findings.yaml"
DISCREPANCIES_FILE = CONFIG / "discrepancies.yaml"
REVIEW_FILE = CONFIG / "review.yaml"

SCHEMAS = ROOT / "schemas"
VOCAB = SCHEMAS / "vocab"
LABELS_FILE = VOCAB / "labels.yaml"
COUNTRY_ALIASES_FILE = VOCAB / "country_aliases.yaml"
CHECK_HINTS_FILE = SCHEMAS / "checks.yaml"

SQL = ROOT / "sql"
ALEMBIC_INI = ROOT / "alembic.ini"
MIGRATIONS = SQL / "migrations"
VIEWS = SQL / "views"
DISCREPANCY_CHECKS = SQL / "discrepancies"
INDICATORS = SQL / "indicators"

TEMPLATES = ROOT / "templates"
REPORT_TEMPLATES = TEMPLATES / "report"
SNAPSHOT_TEMPLATES = TEMPLATES / "snapshot"

GX_PROJECT = ROOT / "gx"
DEMO_INBOX = ROOT / "demo" / "inbox"
DEFAULT_OUTPUTS = ROOT / "outputs"


@dataclass(frozen=True)
class OutputPaths:
    """The folders of one outputs folder: everything the pipeline generates (git-ignored)."""

    root: Path

    @property
    def warehouse_file(self) -> Path:
        """The embedded SQLite warehouse used when no database URL is set."""
        return self.root / "warehouse.sqlite"

    @property
    def landing(self) -> Path:
        """Landed files, content-addressed by sha256, read-only."""
        return self.root / "landing"

    @property
    def reports(self) -> Path:
        """Steward reports: the index, one page per run and per batch."""
        return self.root / "reports"

    @property
    def data_docs(self) -> Path:
        """Great Expectations Data Docs, beside the steward reports."""
        return self.reports / "data_docs"

    @property
    def gx_results(self) -> Path:
        """Great Expectations validation results (pruned to the newest few per suite)."""
        return self.reports / "gx_validations"

    @property
    def snapshots(self) -> Path:
        """One folder per snapshot, and the index of every snapshot made."""
        return self.root / "snapshots"

    @property
    def corrections(self) -> Path:
        """Quarantined rows exported for their senders to correct."""
        return self.root / "corrections"

    @property
    def templates(self) -> Path:
        """Submission templates (xlsx) written for senders."""
        return self.root / "templates"

    @property
    def bench(self) -> Path:
        """Benchmark files and databases."""
        return self.root / "bench"
