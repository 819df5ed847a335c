"""Names that grow with the evidence, on SQLite and PostgreSQL: a public table of CyberTipline reports by provider
names companies and services no vocabulary knows (and 'Google' as a service, which could be the company's whole
figure); its rows wait in quarantine on those names until a steward maps or accepts each, and are then taken again
as corrections of their batch: no resend, the audit trail says who decided what, and every original row is
accounted for."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from pop.db import get_engine
from pop.models import DimAlias, DimCompany, DimPlatform
from pop.registry import Registry, Source
from tasks.ledger.review import ReviewError, audit_trail
from tasks.steward.corrections import reconcile
from tasks.steward.names import NameDecision, NameOutcome, Reload, decide_name, waiting_names
from tests.helpers import write_file
from tests.tasks.ingest.test_ingest_file import run_ingest
from tests.tasks.quality.test_discrepancies import make_source
from tests.tasks.steward.test_steward import scalar

NCMEC_HEADER = "Electronic Service Provider,Service,Year,Reports"
NCMEC_ROWS = [
    "Meta Platforms Inc.,Instagram,2023,11430007",  # row 2: known
    "Kik Interactive,Kik,2023,1000",  # row 3: an unknown company and an unknown service
    "Kik Interactive,all,2022,900",  # row 4: the unknown company only
    "Google,Google,2023,1470958",  # row 5: a known company; the service could be Google Search or all of Alphabet
]


def ncmec_services(tmp_path: Path, **entry: object) -> Source:
    """A public table of CyberTipline reports by provider and service, registered with the registry alone."""
    return make_source(
        tmp_path,
        {
            "id": "ncmec_services",
            "group": "tech_companies",
            "schema": "tech_companies",
            "organisation": "NCMEC",
            "format": "csv",
            "files": "ncmec_services/*.csv",
            "columns": {
                "Electronic Service Provider": "company",
                "Service": "product",
                "Year": "period",
                "Reports": "value",
            },
            "defaults": {"reporter": "ncmec", "metric": "cybertipline_reports", "unit": "count", "country": "WLD"},
            **entry,
        },
    )


def ingest_table(tmp_path: Path, url: str, source: Source, rows: list[str], chunk_rows: int = 1000):  # type: ignore[no-untyped-def]
    write_file(tmp_path, "cybertipline_2023.csv", "\n".join([NCMEC_HEADER, *rows]) + "\n", folder=source.id)
    [batch] = [b for b in run_ingest(tmp_path, url, source, chunk_rows) if b]
    return batch


def decide(tmp_path: Path, url: str, source: Source, action: str, name: str, **given: str) -> NameOutcome:
    reload = Reload(corrections_dir=tmp_path / "corrections", landing_dir=tmp_path / "landing", chunk_rows=1000)
    decision = NameDecision(action=action, name=name, actor="amina", reason="checked NCMEC's list", **given)
    return decide_name(url, Registry(sources=[source]), decision, reload)


def waiting(url: str) -> dict[tuple[str, str], tuple[int, tuple[str, ...], tuple[str, ...]]]:
    with get_engine(url).connect() as conn:
        return {(n.vocabulary, n.name): (n.rows, n.sources, n.ambiguous) for n in waiting_names(conn)}


def loaded(url: str) -> list[tuple]:
    with get_engine(url).connect() as conn:
        query = "SELECT company_code, product_code, period, value FROM fact_tech_metrics ORDER BY value"
        return [tuple(r) for r in conn.execute(text(query))]


def test_unknown_names_wait_and_a_stewards_decisions_load_their_rows(tmp_path: Path, database_url: str) -> None:
    source = ncmec_services(tmp_path)
    batch = ingest_table(tmp_path, database_url, source, NCMEC_ROWS)
    assert (batch.rows_loaded, batch.rows_quarantined) == (1, 3)
    assert waiting(database_url) == {
        ("company", "Kik Interactive"): (2, ("ncmec_services",), ()),
        ("platform", "Kik"): (1, ("ncmec_services",), ()),
        ("platform", "Google"): (1, ("ncmec_services",), ("platform google_search", "company alphabet")),
    }

    accepted = decide(tmp_path, database_url, source, "accept", "Kik Interactive", code="kik")
    assert (accepted.vocabulary, accepted.code) == ("company", "kik")
    [reloaded] = accepted.reloaded
    assert reloaded.batch_id == batch.batch_id  # both rows went in again; the one with an unknown service is back
    assert (reloaded.outcome.correction.rows_loaded, reloaded.outcome.correction.rows_quarantined) == (1, 1)
    assert set(waiting(database_url)) == {("platform", "Kik"), ("platform", "Google")}

    service = decide(tmp_path, database_url, source, "accept", "Kik", company="kik", label="Kik Messenger")
    [again] = service.reloaded
    assert again.batch_id == reloaded.outcome.correction.batch_id  # the row now waits in the first correction
    decide(tmp_path, database_url, source, "map", "Google", code="all")  # the company's whole figure
    assert waiting(database_url) == {}
    assert loaded(database_url) == [
        ("kik", "all", "2022", 900.0),
        ("kik", "kik", "2023", 1000.0),
        ("alphabet", "all", "2023", 1470958.0),
        ("meta", "instagram", "2023", 11430007.0),
    ]

    with get_engine(database_url).connect() as conn:
        numbers = reconcile(conn, batch.batch_id)
        trail = [(a["actor"], a["action"], a["reason"]) for a in audit_trail(conn)]
        platforms = dict(conn.execute(select(DimPlatform.code, DimPlatform.company_code)).all())
        companies = dict(conn.execute(select(DimCompany.code, DimCompany.label)).all())
        aliases = set(conn.execute(select(DimAlias.kind, DimAlias.alias, DimAlias.code)).all())
    assert (numbers.rows_in, numbers.loaded_first_time, numbers.loaded_by_correction, numbers.open) == (4, 1, 3, 0)
    assert numbers.accounted == numbers.rows_in
    decisions = [t for t in trail if t[1].startswith("vocab_")]
    assert decisions == [
        ("amina", "vocab_map", "checked NCMEC's list"),
        ("amina", "vocab_accept", "checked NCMEC's list"),
        ("amina", "vocab_accept", "checked NCMEC's list"),
    ]
    assert [t[:2] for t in trail].count(("amina", "correction")) == 3
    assert (platforms["kik"], companies["kik"]) == ("kik", "Kik Interactive")
    assert {
        ("company", "kik interactive", "kik"),
        ("platform", "kik messenger", "kik"),
        ("platform", "google", "all"),
    } <= aliases
    assert scalar(database_url, "SELECT COUNT(*) FROM vocabulary_names WHERE decision = 'map'") == 1


def test_a_decision_that_cannot_be_taken_is_refused(tmp_path: Path, database_url: str) -> None:
    source = ncmec_services(tmp_path)
    ingest_table(tmp_path, database_url, source, NCMEC_ROWS)
    refused = {
        ("map", "Kik", "code", "kik"): "not a platform code",
        ("accept", "Snapchat", "vocabulary", "platform"): "already stands for the platform 'snapchat'",
        ("accept", "Kik", "code", "instagram"): "already a platform: `pop vocab map 'Kik' --to instagram`",
        ("accept", "Kik", "company", "nobody"): "'nobody' is not a company code",
        ("accept", "Acme", "label", "Acme"): "say which vocabulary 'Acme' is for .no row waits on it.",
        ("accept", "Kik", "vocabulary", "channel"): (
            "names are added to company, organisation and platform, not to 'channel'"
        ),
    }
    for (action, name, option, value), message in refused.items():
        with pytest.raises(ReviewError, match=message):
            decide(tmp_path, database_url, source, action, name, **{option: value})
    assert scalar(database_url, "SELECT COUNT(*) FROM vocabulary_names") == 0
