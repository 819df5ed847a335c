"""Small builders for tests: a one-source registry and sender files written the way senders write them; demo sources
ingested; every fact row's record key; and what published pages load from other hosts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook
from sqlalchemy import text

from pop import paths
from pop.db import get_engine
from pop.models import FACT_TABLES
from pop.record_keys import key_secret, record_keys
from pop.registry import Registry, Source, load_registry
from pop.settings import get_settings
from tasks.ingest.sources import ingest_source
from tasks.reference.dimensions import sync_dimensions

HELPLINE_COLUMNS = {
    "Year": "period",
    "Country": "country",
    "Type": "contact_type",
    "Channel": "channel",
    "Reason": "reason",
    "Age": "age_band",
    "Sex": "gender",
    "Contacts": "contacts",
}
HEADER = ",".join(HELPLINE_COLUMNS)


def helpline_source(tmp_path: Path, **overrides: Any) -> Source:
    """A helpline source whose files arrive in tmp_path/inbox/hl/, read through a real registry file."""
    entry = {
        "id": "test_helpline",
        "group": "helplines_services",
        "schema": "helplines_services",
        "organisation": "Test Helpline",
        "format": "csv",
        "files": "hl/*.csv",
        "columns": HELPLINE_COLUMNS,
        "values": {"channel": {"TEL": "phone"}},
        "licence": "CC-BY-4.0",
        "contact": "data@example.org",
        "update_frequency": "quarterly",
    }
    entry.update(overrides)
    registry = tmp_path / "sources.yaml"
    registry.write_text(yaml.safe_dump({"sources": [entry]}), encoding="utf-8")
    (tmp_path / "inbox" / "hl").mkdir(parents=True, exist_ok=True)
    return load_registry(registry).sources[0]


def write_file(tmp_path: Path, name: str, content: str | bytes, folder: str = "hl") -> Path:
    path = tmp_path / "inbox" / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """A workbook with these sheets and rows, as a sender's spreadsheet program saves it."""
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


# a URL of another host where a page or stylesheet loads something: src/href attributes, CSS url() and @import
REMOTE_REFERENCE = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?|\burl\(\s*["']?|@import\s+(?:url\(\s*)?["']?)((?:https?:)?//[^"')\s>]+)""", re.I
)


def remote_references(folder: Path) -> dict[str, list[str]]:
    """Every .html, .css and .js file under `folder` that references another host, with those URLs."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".html", ".css", ".js"):
            urls = REMOTE_REFERENCE.findall(path.read_text(encoding="utf-8", errors="replace"))
            if urls:
                found[str(path.relative_to(folder))] = urls
    return found


def ingest_demo_sources(url: str, landing: Path, source_ids: list[str], chunk_rows: int = 1000) -> None:
    """The demo inbox's files of these sources ingested (no errata), each file as one batch."""
    registry = load_registry(paths.SOURCES_FILE)
    with get_engine(url).begin() as conn:
        sync_dimensions(conn, registry)
    for source in Registry(sources=[registry.get(s) for s in source_ids]).sources:
        outcome = ingest_source(source, paths.DEMO_INBOX, url, landing, chunk_rows)
        assert outcome.batches, f"{source.id}: nothing ingested ({outcome.message})"


Keyed = dict[tuple[str, int, int], int]  # (fact table, batch_id, row_number) -> record key


def record_keys_stored_and_derived(url: str) -> tuple[Keyed, Keyed]:
    """Every fact row's record key as the warehouse holds it, and as derived from its batch's sha256 and its row
    number with the settings' secret."""
    secret = key_secret(get_settings())
    stored: Keyed = {}
    derived: Keyed = {}
    with get_engine(url).connect() as conn:
        for name in FACT_TABLES:
            rows = conn.execute(
                text(
                    f"SELECT f.batch_id, f.row_number, f.record_key, b.sha256 FROM {name} f "
                    "LEFT JOIN batches b ON b.batch_id = f.batch_id"
                )
            ).all()
            for batch_id, row_number, key, sha256 in rows:
                stored[name, batch_id, row_number] = key
                derived[name, batch_id, row_number] = int(record_keys(secret, sha256, [row_number])[0])
    return stored, derived
