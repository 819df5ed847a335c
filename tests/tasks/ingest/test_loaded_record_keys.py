"""Every fact row loaded carries its record key (pop.record_keys), on SQLite and PostgreSQL alike: derived from its
batch's sha256 and its row number, whatever chunk it came in; a file loaded again after a rebuild gets the same keys;
the secret is never logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pop.record_keys import key_secret
from pop.settings import get_settings
from tasks.ingest.batch import FileContext
from tasks.ingest.extract import ReadLimits
from tests.conftest import warehouse
from tests.helpers import ingest_demo_sources, record_keys_stored_and_derived

# respondents (with multi-select answers), a helpline's quarterly files, and a JSON export
DEMO_SOURCES = ["youth_survey", "helpline_ke", "sp_portal"]


def test_every_fact_row_loaded_has_the_key_of_its_file_and_row_number(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ingest_demo_sources(database_url, tmp_path / "landing", DEMO_SOURCES, chunk_rows=97)  # rows over many chunks
    stored, derived = record_keys_stored_and_derived(database_url)
    assert stored == derived
    assert {table for table, _, _ in stored} == {
        "fact_youth_responses",
        "fact_helpline_contacts",
        "fact_service_provider_reports",
    }
    assert len(set(stored.values())) == 256  # over a thousand respondents, every key occurs
    assert key_secret(get_settings()).decode() not in caplog.text


def test_a_rebuilt_warehouse_gives_the_same_rows_the_same_keys(tmp_path: Path, database_url: str) -> None:
    ingest_demo_sources(database_url, tmp_path / "landing", DEMO_SOURCES)
    first, _ = record_keys_stored_and_derived(database_url)
    with warehouse("sqlite", tmp_path / "rebuilt") as rebuilt:  # and from PostgreSQL to SQLite
        ingest_demo_sources(rebuilt, tmp_path / "rebuilt" / "landing", DEMO_SOURCES, chunk_rows=500)
        again, _ = record_keys_stored_and_derived(rebuilt)
    assert again == first


def test_the_file_context_does_not_show_its_secret() -> None:
    context = FileContext(limits=ReadLimits(1, 1, 1), sha256="0" * 64, key_secret=b"shown-nowhere-0123456789")
    assert "shown-nowhere" not in repr(context) and "0" * 64 in repr(context)
