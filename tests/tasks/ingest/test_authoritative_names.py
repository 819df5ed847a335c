"""A source authoritative for the names of a field (a registry of service providers), on SQLite and PostgreSQL: its
unknown names load as new entries with the source as provenance, listed for a steward to review, instead of waiting
in quarantine; an ambiguous name still waits; the warehouse checks accept the new codes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from pop.db import get_engine
from pop.models import DimCompany, VocabularyEntry, VocabularyName
from pop.registry import RegistryError
from tasks.ledger.review import audit_trail
from tasks.quality.expectations import check_warehouse
from tasks.reference.names import entries_to_review
from tests.tasks.steward.test_names import decide, ingest_table, loaded, ncmec_services, waiting

PROVIDERS = [
    "Kik Interactive,all,2023,1000",  # row 2: a provider no vocabulary knows
    "Kik Interactive,all,2022,900",  # row 3: the same, in the next chunk
    "Omegle.com LLC,all,2023,600",  # row 4: another
    "Alphabet,Google,2023,1470958",  # row 5: ambiguous service: the source is authoritative for companies only
]


def test_an_authoritative_sources_new_names_load_and_wait_for_review(tmp_path: Path, database_url: str) -> None:
    source = ncmec_services(tmp_path, authoritative_for=["company"])
    batch = ingest_table(tmp_path, database_url, source, PROVIDERS, chunk_rows=1)
    assert (batch.rows_loaded, batch.rows_quarantined) == (3, 1)
    assert set(waiting(database_url)) == {("platform", "Google")}
    assert loaded(database_url)[:3] == [
        ("omeglecom_llc", "all", "2023", 600.0),
        ("kik_interactive", "all", "2022", 900.0),
        ("kik_interactive", "all", "2023", 1000.0),
    ]
    with get_engine(database_url).connect() as conn:
        review = [(e["code"], e["label"], e["source_id"], e["batch_id"]) for e in entries_to_review(conn)]
        names = conn.execute(select(VocabularyName.name, VocabularyName.code, VocabularyName.decision)).all()
        labels = dict(conn.execute(select(DimCompany.code, DimCompany.label)).all())
        added = [a for a in audit_trail(conn) if a["action"] == "vocab_add"]  # per chunk (of one row) adding one
    assert review == [
        ("kik_interactive", "Kik Interactive", "ncmec_services", batch.batch_id),
        ("omeglecom_llc", "Omegle.com LLC", "ncmec_services", batch.batch_id),
    ]
    assert sorted(names) == [
        ("kik interactive", "kik_interactive", "source"),
        ("omeglecom llc", "omeglecom_llc", "source"),
    ]
    assert labels["kik_interactive"] == "Kik Interactive"
    assert [(a["actor"], a["batch_id"], a["details_json"].count('"name"')) for a in added] == [
        ("pop (automatic)", batch.batch_id, 1)  # Omegle; Kik once, though the next chunk had it too
    ] * 2

    confirmed = decide(tmp_path, database_url, source, "accept", "Kik Interactive", label="Kik Interactive Inc.")
    assert (confirmed.vocabulary, confirmed.code, confirmed.reloaded) == ("company", "kik_interactive", ())
    with get_engine(database_url).connect() as conn:
        assert [e["code"] for e in entries_to_review(conn)] == ["omeglecom_llc"]
        reviewed = conn.execute(
            select(VocabularyEntry.label, VocabularyEntry.reviewed_by).where(VocabularyEntry.code == "kik_interactive")
        ).one()
        assert tuple(reviewed) == ("Kik Interactive Inc.", "amina")
        assert conn.execute(select(DimCompany.label).where(DimCompany.code == "kik_interactive")).scalar_one() == (
            "Kik Interactive Inc."
        )

    outcome = check_warehouse(database_url, tmp_path / "outputs", "after-new-names", dt.date(2024, 3, 1))
    [tech] = [s for s in outcome.suites if s.suite == "fact_tech_metrics"]
    assert tech.success, tech.failed


def test_only_company_platform_and_organisation_fields_take_new_names(tmp_path: Path) -> None:
    named = r"'reporter' is not a company, platform or organisation field .* such fields: company, product"
    with pytest.raises(RegistryError, match=named):
        ncmec_services(tmp_path, authoritative_for=["reporter"])
