"""The steward loop on real files, on SQLite and PostgreSQL: review and audit, approval gating what later stages
read, the correction loop (export → fix → resubmit → reconciled), and errata."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sqlalchemy import select, text

from pop.db import get_engine
from pop.models import QuarantineRow
from pop.registry import Registry, RegistryError
from tasks.ingest.errata import load_errata, stale_errata
from tasks.ledger.review import ReviewError, audit_trail, dismiss_quarantined, review_batch
from tasks.reference.dimensions import sync_dimensions
from tasks.steward.actions import batch_details, export_batch, submit_correction
from tasks.steward.corrections import reconcile
from tests.helpers import HEADER, helpline_source, write_file
from tests.tasks.ingest.test_ingest_file import GOOD_ROWS, run_ingest

DEFECTIVE = [
    *GOOD_ROWS,
    "2023-Q1,Narnia,counselling,chat,grooming,13-15,girl,3",  # row 5: unknown country
    "2023-Q1,Kenya,counselling,chat,grooming,16-17,boy,twelve",  # row 6: not a number
    "2023-Q1,KEN,counselling,chat,cyberbullying,13-15,girl,41",
]  # row 7: repeats row 3's key


def scalar(url: str, sql: str):  # type: ignore[no-untyped-def]
    with get_engine(url).connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def ingest_defective(tmp_path: Path, url: str):  # type: ignore[no-untyped-def]
    source = helpline_source(tmp_path)
    write_file(tmp_path, "q1.csv", "\n".join([HEADER, *DEFECTIVE]) + "\n")
    [batch] = [b for b in run_ingest(tmp_path, url, source) if b]  # files seen before change nothing
    return source, batch


def test_clean_batches_are_approved_automatically_others_wait(tmp_path: Path, database_url: str) -> None:
    source = helpline_source(tmp_path)
    write_file(tmp_path, "clean.csv", "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    write_file(
        tmp_path,
        "dirty.csv",
        "\n".join([HEADER, "2023-Q2,Narnia,all,all,all,all,all,1", "2023-Q2,Kenya,all,all,all,all,all,9"]) + "\n",
    )
    clean, dirty = run_ingest(tmp_path, database_url, source)
    assert (clean.review_status, dirty.review_status) == ("approved", "pending")
    with get_engine(database_url).connect() as conn:
        [action] = [a for a in audit_trail(conn) if a["action"] != "vocab_add"]  # the helpline's own name added
    assert (action["action"], action["batch_id"], action["actor"]) == ("approve", clean.batch_id, "pop (automatic)")


def test_approval_gates_what_later_stages_see(tmp_path: Path, database_url: str) -> None:
    _, batch = ingest_defective(tmp_path, database_url)
    approved = "SELECT COUNT(*) FROM approved_fact_helpline_contacts"
    assert scalar(database_url, approved) == 0  # pending: loaded, but not yet for snapshots
    with get_engine(database_url).begin() as conn:
        review_batch(conn, batch.batch_id, "approved", "amina", "checked against the helpline's annual report")
    assert scalar(database_url, approved) == 3
    with get_engine(database_url).begin() as conn:
        review_batch(conn, batch.batch_id, "rejected", "amina", "the helpline withdrew the file")
    assert scalar(database_url, approved) == 0
    assert scalar(database_url, "SELECT COUNT(*) FROM fact_helpline_contacts") == 3  # rejected rows are kept
    with get_engine(database_url).connect() as conn:
        actions = [(a["actor"], a["action"], a["reason"]) for a in audit_trail(conn) if a["action"] != "vocab_add"]
    assert actions == [
        ("amina", "reject", "the helpline withdrew the file"),
        ("amina", "approve", "checked against the helpline's annual report"),
    ]


def test_review_refuses_what_cannot_be_done(tmp_path: Path, database_url: str) -> None:
    source = helpline_source(tmp_path)
    write_file(tmp_path, "empty.csv", b"")
    [failed] = run_ingest(tmp_path, database_url, source)
    with get_engine(database_url).begin() as conn:
        with pytest.raises(ReviewError, match="is failed: only loaded batches are reviewed"):
            review_batch(conn, failed.batch_id, "approved", "amina", None)
        with pytest.raises(ReviewError, match="no batch 999"):
            review_batch(conn, 999, "approved", "amina", None)
    _, batch = ingest_defective(tmp_path, database_url)
    with get_engine(database_url).begin() as conn, pytest.raises(ReviewError, match="rejection needs a reason"):
        review_batch(conn, batch.batch_id, "rejected", "amina", "  ")


def test_the_correction_loop_loses_nothing(tmp_path: Path, database_url: str) -> None:
    source, batch = ingest_defective(tmp_path, database_url)
    original = batch.batch_id
    registry = Registry(sources=[source])
    exported = export_batch(database_url, registry, original, tmp_path / "out" / "fix.csv", "amina")
    sent_back = pd.read_csv(exported, dtype=str)
    assert list(sent_back.columns) == ["pop_row", *HEADER.split(","), "pop_problems"]
    assert sent_back["pop_row"].tolist() == ["5", "6", "7"]
    assert "ISO 3166" in sent_back.loc[0, "pop_problems"] and "Narnia" in sent_back.loc[0, "pop_problems"]

    # the sender fixes the country, but sends "twelve" again and the repeated row unchanged
    sent_back.loc[0, "Country"] = "Kenya"
    sent_back.to_csv(tmp_path / "fixed_1.csv", index=False)
    first = submit_correction(
        database_url,
        registry,
        original,
        tmp_path / "fixed_1.csv",
        landing_dir=tmp_path / "landing",
        chunk_rows=1000,
        actor="amina",
    )
    correction = first.correction
    assert (correction.corrects_batch_id, correction.rows_loaded, correction.rows_quarantined) == (
        original,
        1,
        2,
    )
    assert first.reconciliation.model_dump() == {
        "rows_in": 6,
        "loaded_first_time": 3,
        "loaded_by_correction": 1,
        "open": 2,
        "dismissed": 0,
        "combined": 0,
        "accounted": 6,
    }
    with get_engine(database_url).connect() as conn:
        statuses = dict(
            conn.execute(
                select(QuarantineRow.row_number, QuarantineRow.status).where(QuarantineRow.batch_id == original)
            ).all()
        )
        again = conn.execute(
            select(QuarantineRow.reasons_json, QuarantineRow.corrects_quarantine_id).where(
                QuarantineRow.batch_id == correction.batch_id
            )
        ).all()
    assert statuses == {5: "resolved", 6: "resubmitted", 7: "resubmitted"}  # rows 2-4 loaded the first time
    checks = sorted(json.loads(r.reasons_json)[0]["check"] for r in again)
    assert checks == ["already_loaded", "not_a_whole_number"] and all(r.corrects_quarantine_id for r in again)

    # second round: the number is fixed; the repeated row is a true duplicate, which the steward dismisses
    details = batch_details(database_url, correction.batch_id)
    duplicate = next(q for q in details.quarantined if q.reasons[0].check == "already_loaded")
    with get_engine(database_url).begin() as conn:
        dismiss_quarantined(conn, duplicate.quarantine_id, "amina", "the helpline confirmed it was sent twice")
    export_batch(database_url, registry, correction.batch_id, tmp_path / "fix2.csv", "amina")
    second_file = pd.read_csv(tmp_path / "fix2.csv", dtype=str)
    second_file.loc[0, "Contacts"] = "12"
    second_file.to_csv(tmp_path / "fixed_2.csv", index=False)
    second = submit_correction(
        database_url,
        registry,
        correction.batch_id,
        tmp_path / "fixed_2.csv",
        landing_dir=tmp_path / "landing",
        chunk_rows=1000,
        actor="amina",
    )
    assert second.correction.rows_loaded == 1 and second.correction.review_status == "approved"
    with get_engine(database_url).connect() as conn:
        assert reconcile(conn, original).model_dump() == {
            "rows_in": 6,
            "loaded_first_time": 3,
            "loaded_by_correction": 2,
            "open": 0,
            "dismissed": 1,
            "combined": 0,
            "accounted": 6,
        }
    assert scalar(database_url, "SELECT COUNT(*) FROM quarantine WHERE status = 'open'") == 0
    assert scalar(database_url, "SELECT COUNT(*) FROM fact_helpline_contacts") == 5
    with get_engine(database_url).connect() as conn:
        kinds = [a["action"] for a in audit_trail(conn)]
    assert kinds.count("correction") == 2 and kinds.count("export") == 2 and "dismiss" in kinds


def test_a_correction_needs_a_loaded_batch(tmp_path: Path, database_url: str) -> None:
    source = helpline_source(tmp_path)
    write_file(tmp_path, "empty.csv", b"")
    [failed] = run_ingest(tmp_path, database_url, source)
    with pytest.raises(ReviewError, match="only a loaded batch"):
        submit_correction(
            database_url,
            Registry(sources=[source]),
            failed.batch_id,
            tmp_path / "x.csv",
            landing_dir=tmp_path / "landing",
            chunk_rows=10,
            actor="amina",
        )


def write_errata(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "errata.yaml"
    path.write_text(yaml.safe_dump({"errata": list(entries)}), encoding="utf-8")
    return path


def test_errata_override_drop_and_flag(tmp_path: Path, database_url: str) -> None:
    """Errata see our field names with the registry's code mapping applied (TEL is already phone)."""
    from tasks.ingest.batch import ingest_file
    from tasks.ingest.inbox import discover_files

    source = helpline_source(tmp_path)
    registry = Registry(sources=[source])
    errata = load_errata(
        write_errata(
            tmp_path,
            {
                "id": "E1",
                "source": source.id,
                "where": {"country": "Narnia"},
                "action": "override",
                "set": {"country": "Kenya"},
                "reason": "the helpline's export writes its own country as Narnia",
            },
            {
                "id": "E2",
                "source": source.id,
                "where": {"contacts": "twelve"},
                "action": "drop",
                "reason": "a test row the sender left in",
            },
            {
                "id": "E3",
                "source": source.id,
                "file": "q*.csv",
                "where": {"channel": "phone"},
                "action": "flag",
                "reason": "phone counts include missed calls",
            },
        ),
        registry,
    )
    write_file(tmp_path, "q1.csv", "\n".join([HEADER, *DEFECTIVE]) + "\n")
    with get_engine(database_url).begin() as conn:
        sync_dimensions(conn, registry)
    [incoming] = discover_files(source, tmp_path / "inbox")
    batch = ingest_file(source, incoming, database_url, tmp_path / "landing", 1000, None, errata=errata)
    assert (batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (6, 4, 2)
    with get_engine(database_url).connect() as conn:
        applied = sorted(
            tuple(r) for r in conn.execute(text("SELECT erratum_id, row_number, action FROM errata_applications"))
        )
        held = dict(conn.execute(text("SELECT row_number, status FROM quarantine")).all())
        assert stale_errata(conn, errata) == []
    assert applied == [("E1", 5, "override"), ("E2", 6, "drop"), ("E3", 2, "flag")]
    assert held == {6: "dismissed", 7: "open"}  # dropped by the erratum on purpose; the duplicate waits
    assert scalar(database_url, "SELECT country_iso3 FROM fact_helpline_contacts WHERE row_number = 5") == "KEN"


def test_an_erratum_that_matches_nothing_any_more_is_named(tmp_path: Path, database_url: str) -> None:
    source = helpline_source(tmp_path)
    registry = Registry(sources=[source])
    errata = load_errata(
        write_errata(
            tmp_path,
            {
                "id": "OLD",
                "source": source.id,
                "where": {"country": "Narnia"},
                "action": "drop",
                "reason": "fixed upstream since",
            },
        ),
        registry,
    )
    write_file(tmp_path, "q1.csv", "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    run_ingest(tmp_path, database_url, source)
    with get_engine(database_url).connect() as conn:
        [(erratum, problem)] = stale_errata(conn, errata)
    assert erratum.id == "OLD" and "matches no row" in problem and "fixed_upstream" in problem
    retired = load_errata(
        write_errata(
            tmp_path,
            {
                "id": "OLD",
                "source": source.id,
                "where": {"country": "Narnia"},
                "action": "drop",
                "reason": "r",
                "status": "fixed_upstream",
            },
        ),
        registry,
    )
    with get_engine(database_url).connect() as conn:
        assert stale_errata(conn, retired) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"id": "X", "source": "test_helpline", "where": {"region": "x"}, "action": "drop", "reason": "r"},
            "names region, not fields of source test_helpline",
        ),
        (
            {"id": "X", "source": "test_helpline", "where": {"country": "x"}, "action": "override", "reason": "r"},
            "an override needs 'set'",
        ),
        (
            {"id": "X", "source": "nobody", "where": {"country": "x"}, "action": "drop", "reason": "r"},
            "no source 'nobody'",
        ),
    ],
)
def test_a_wrong_erratum_is_refused(tmp_path: Path, entry: dict, message: str) -> None:
    registry = Registry(sources=[helpline_source(tmp_path)])
    with pytest.raises(RegistryError, match=message):
        load_errata(write_errata(tmp_path, entry), registry)
