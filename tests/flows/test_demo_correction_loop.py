"""Every seeded defect of the bundled demo, settled through the steward's correction loop, on SQLite and PostgreSQL:
the demo inbox is ingested; each batch's quarantined rows are exported in the sender's own format and columns,
fixed as tests/data/demo_fixes.yaml says and sent back as corrections (a few first tries are still wrong and
take a second round); true duplicates are dismissed. Then no row is open, every original batch reconciles, and
the warehouse grew by exactly the corrected rows. The Great Expectations checkpoint passes on the demo warehouse
and names what a seeded bad batch breaks."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook
from sqlalchemy import text

from pop import paths
from pop.contracts import what_it_did
from pop.db import get_engine
from pop.models import FACT_TABLES
from pop.registry import Registry, Source, load_registry
from schemas.spec import load_schema
from tasks.ledger.review import dismiss_quarantined
from tasks.quality.expectations import check_warehouse
from tasks.steward.actions import export_batch
from tasks.steward.corrections import PROBLEMS, ROW_LINK, open_rows, reconcile
from tests.conftest import BACKENDS, DEMO_REGISTRY, demo_settings, warehouse
from tests.helpers import record_keys_stored_and_derived

FIXES = yaml.safe_load((paths.ROOT / "tests" / "data" / "demo_fixes.yaml").read_text(encoding="utf-8"))["rows"]
TRUTH = yaml.safe_load((paths.ROOT / "demo" / "expected_defects.yaml").read_text(encoding="utf-8"))
PLAN = {(r["source"], r["file"], r["row"]): r for r in FIXES}
FIXED = [key for key, plan in PLAN.items() if "fix" in plan]  # the rows a correction loads
AS_OF = "2024-03-01"  # the demo data is from 2022-2024: every source is fresh on this day
STEWARD = "amina"
COUNTED = [*FACT_TABLES, "batches", "quarantine", "fact_choices", "steward_actions"]
HELPLINE = "fact_helpline_contacts"

Key = tuple[str, str, int]  # (source, file, row as the sender numbers it)


def rows(url: str, sql: str, **params: Any) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def table_counts(url: str) -> dict[str, int]:
    """Rows per table that the loop may change."""
    return {table: rows(url, f"SELECT COUNT(*) FROM {table}")[0][0] for table in COUNTED}


def origin(url: str, quarantine_id: int) -> Key:
    """The sender's first row that a quarantined row stands for, following its correction links back."""
    link: int | None = quarantine_id
    while link is not None:
        [(quarantine_id, link)] = rows(
            url, "SELECT quarantine_id, corrects_quarantine_id FROM quarantine WHERE quarantine_id = :q", q=link
        )
    [(source, name, row)] = rows(
        url,
        "SELECT b.source_id, b.original_name, q.row_number FROM quarantine q "
        "JOIN batches b ON b.batch_id = q.batch_id WHERE q.quarantine_id = :q",
        q=quarantine_id,
    )
    return source, name, int(row)


def quarantined(url: str, batch_id: int) -> dict[int, tuple[Key, int]]:
    """The batch's open quarantined rows: row number → (the sender's first row it stands for, its id)."""
    found = rows(
        url, "SELECT row_number, quarantine_id FROM quarantine WHERE batch_id = :b AND status = 'open'", b=batch_id
    )
    return {int(number): (origin(url, quarantine_id), int(quarantine_id)) for number, quarantine_id in found}


# --- the sender's side: edit the exported file in its own format -------------------------------------------------


def edit_csv(path: Path, source: Source, cells: dict[int, dict[str, str]]) -> None:
    """Change cells of an exported CSV, row by row (rows found by their pop_row), keeping every other cell as sent."""
    frame = pd.read_csv(path, sep=source.delimiter, encoding=source.encoding, dtype=str, keep_default_na=False)
    for link, changes in cells.items():
        for column, value in changes.items():
            assert column in frame.columns, f"{path.name} has no column {column}"
            frame.loc[frame[ROW_LINK] == str(link), column] = value
    frame.to_csv(path, sep=source.delimiter, encoding=source.encoding, index=False)


def edit_json(path: Path, source: Source, cells: dict[int, dict[str, str]]) -> None:
    """Change fields of an exported JSON document's records (found by their pop_row)."""
    document = json.loads(path.read_text(encoding=source.encoding))
    records = document[source.records_path] if source.records_path else document
    for record in records:
        record.update(cells.get(int(record[ROW_LINK]), {}))
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding=source.encoding)


def edit_xlsx(path: Path, source: Source, cells: dict[int, dict[str, str]]) -> None:
    """Change cells of an exported workbook's data sheet (rows found by their pop_row), as a person would in Excel."""
    book = load_workbook(path)
    sheet = book[source.sheet] if source.sheet else book.active
    header = [cell.value for cell in sheet[source.header_row]]
    for row in sheet.iter_rows(min_row=source.header_row + 1):
        for column, value in cells.get(int(row[header.index(ROW_LINK)].value), {}).items():
            row[header.index(column)].value = value
    book.save(path)


EDITORS = {"csv": edit_csv, "json": edit_json, "xlsx": edit_xlsx}


# --- the steward's side ----------------------------------------------------------------------------------------


def dismiss_planned(url: str, batch_id: int) -> None:
    """Dismiss the batch's open rows that the plan says to dismiss (true duplicates, out of scope), with its reason."""
    planned = [(q, PLAN[key]["dismiss"]) for key, q in quarantined(url, batch_id).values() if "dismiss" in PLAN[key]]
    with get_engine(url).begin() as conn:
        for quarantine_id, reason in planned:
            dismiss_quarantined(conn, quarantine_id, STEWARD, reason)


def correct_batch(url: str, registry: Registry, batch_id: int, folder: Path, first_round: bool) -> dict[str, Any]:
    """Export a batch's open rows as the CLI does, fix them (the first try where the plan has one, in the first
    round), and send the file back through the correction flow. Returns the file and the flow's outcome."""
    from flows.correct import correct

    [(source_id,)] = rows(url, "SELECT source_id FROM batches WHERE batch_id = :b", b=batch_id)
    source = registry.get(source_id)
    path = export_batch(url, registry, batch_id, folder / f"batch-{batch_id}-quarantined.{source.format}", STEWARD)
    cells = {}
    for link, (key, _) in quarantined(url, batch_id).items():
        plan = PLAN[key]
        cells[link] = plan["first_try"]["cells"] if first_round and "first_try" in plan else plan["fix"]
    EDITORS[source.format](path, source, cells)
    state = correct(batch_id=batch_id, file=str(path), steward=STEWARD, return_state=True)
    assert state.is_completed(), state.message
    return {"batch_id": batch_id, "file": path, "outcome": state.result().outcome}


def correction_round(url: str, registry: Registry, folder: Path, first_round: bool) -> list[dict[str, Any]]:
    """Settle every batch with open rows: dismiss the duplicates, correct the rest."""
    held = [b for (b,) in rows(url, "SELECT DISTINCT batch_id FROM quarantine WHERE status = 'open' ORDER BY 1")]
    done = []
    for batch_id in held:
        dismiss_planned(url, batch_id)
        if quarantined(url, batch_id):
            done.append(correct_batch(url, registry, batch_id, folder, first_round))
    return done


@pytest.fixture(scope="module", params=BACKENDS)
def loop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo ingested once, then every quarantined row settled in two rounds of corrections, then the last file
    of each round sent once more."""
    from flows.correct import correct
    from flows.ingest import ingest

    folder = tmp_path_factory.mktemp(f"loop-{request.param}")
    registry = load_registry(DEMO_REGISTRY)
    with warehouse(request.param, folder) as url:
        with demo_settings(folder / "outputs", url, as_of=AS_OF, steward=STEWARD):
            ingested = ingest(return_state=True)
            before = table_counts(url)
            held = {b: quarantined(url, b) for (b,) in rows(url, "SELECT DISTINCT batch_id FROM quarantine")}
            first = correction_round(url, registry, folder / "round-1", first_round=True)
            second = correction_round(url, registry, folder / "round-2", first_round=False)
            after = table_counts(url)
            again = [
                correct(batch_id=done[-1]["batch_id"], file=str(done[-1]["file"]), return_state=True)
                for done in (first, second)
            ]
        yield {
            "url": url,
            "outputs": folder / "outputs",
            "ingested": ingested,
            "before": before,
            "held": held,
            "rounds": (first, second),
            "after": after,
            "again": again,
        }


def test_the_plan_covers_every_seeded_defect() -> None:
    truth = {(r["source"], r["file"], r["row"]): r["fields"] for r in TRUTH["rows"]}
    assert set(PLAN) == set(truth)
    assert all(("fix" in plan) != ("dismiss" in plan) for plan in FIXES)
    assert all("dismiss" in PLAN[key] for key, fields in truth.items() if fields == ["natural_key"])
    assert (len(FIXED), sum("first_try" in plan for plan in FIXES)) == (27, 3)


def test_the_demo_ingest_quarantines_the_seeded_rows_and_passes_its_checks(loop: dict[str, Any]) -> None:
    run = what_it_did(loop["ingested"].result(raise_on_failure=False)).run
    assert run.totals.rows_in == 4308 and run.totals.rows_quarantined == 32
    assert {key for held in loop["held"].values() for key, _ in held.values()} == set(PLAN)
    assert run.quality.success is True and run.quality.failed == 0


def test_exports_keep_the_senders_format_columns_and_cells(loop: dict[str, Any]) -> None:
    registry = load_registry(DEMO_REGISTRY)
    files = {done["outcome"].correction.source_id: done["file"] for done in loop["rounds"][0]}
    assert all(path.suffix == f".{registry.get(source).format}" for source, path in files.items())
    brazil = pd.read_csv(files["helpline_br"], sep=";", encoding="latin-1", dtype=str)  # the sender's own encoding
    assert list(brazil.columns) == [ROW_LINK, *registry.get("helpline_br").columns, PROBLEMS]
    [problems] = brazil.loc[brazil[ROW_LINK] == "41", PROBLEMS]
    assert problems.startswith("'motivo' must be one of: violence,") and "(sent: outros assuntos)" in problems
    survey = pd.read_csv(files["youth_survey"], dtype=str).set_index(ROW_LINK)
    assert survey.loc["310", ["Q4_sought_help", "Q7_nobody", "Q2_gender"]].tolist() == ["1", "1", "2"]  # as sent


def test_a_correction_still_wrong_goes_back_with_new_reasons(loop: dict[str, Any]) -> None:
    first, second = loop["rounds"]
    retried = {key: plan for key, plan in PLAN.items() if "first_try" in plan}
    back = {}
    for done in first:
        correction = done["outcome"].correction
        assert correction.status == "loaded" and correction.corrects_batch_id == done["batch_id"]
        for quarantine_id, reasons in rows(
            loop["url"],
            "SELECT quarantine_id, reasons_json FROM quarantine WHERE batch_id = :b",
            b=correction.batch_id,
        ):
            back[origin(loop["url"], quarantine_id)] = [r["check"] for r in json.loads(reasons)]
    assert back == {key: [plan["first_try"]["fails"]] for key, plan in retried.items()}
    assert len(second) == len({(s, f) for s, f, _ in retried})  # one second-round file per batch with a retry
    assert all(done["outcome"].correction.rows_quarantined == 0 for done in second)
    statuses = {
        (s, f, n): status
        for s, f, n, status in rows(
            loop["url"],
            "SELECT q.source_id, b.original_name, q.row_number, q.status FROM quarantine q "
            "JOIN batches b ON b.batch_id = q.batch_id WHERE b.corrects_batch_id IS NULL",
        )
    }
    assert {statuses[key] for key in retried} == {"resubmitted"}


def test_the_quarantine_has_no_open_row(loop: dict[str, Any]) -> None:
    with get_engine(loop["url"]).connect() as conn:
        assert open_rows(conn) == 0
    states = Counter(s for (s,) in rows(loop["url"], "SELECT status FROM quarantine"))
    retries, dismissals = (sum(key in plan for plan in FIXES) for key in ("first_try", "dismiss"))
    assert states == {"resolved": len(FIXED), "resubmitted": retries, "dismissed": dismissals}


def test_every_original_batch_reconciles(loop: dict[str, Any]) -> None:
    for batch_id, held in loop["held"].items():
        plans = [PLAN[key] for key, _ in held.values()]
        with get_engine(loop["url"]).connect() as conn:
            numbers = reconcile(conn, batch_id)
        [(rows_in, loaded)] = rows(
            loop["url"], "SELECT rows_in, rows_loaded FROM batches WHERE batch_id = :b", b=batch_id
        )
        assert numbers.model_dump() == {
            "rows_in": rows_in,
            "loaded_first_time": loaded,
            "loaded_by_correction": sum("fix" in p for p in plans),
            "open": 0,
            "dismissed": sum("dismiss" in p for p in plans),
            "combined": 0,
            "accounted": rows_in,
        }


def test_the_warehouse_grew_by_exactly_the_corrected_rows(loop: dict[str, Any]) -> None:
    groups = {source.id: source.group for source in load_registry(DEMO_REGISTRY).sources}
    fixed = Counter(load_schema(groups[source]).fact_table for source, _, _ in FIXED)
    grown = {table: loop["after"][table] - loop["before"][table] for table in FACT_TABLES}
    assert grown == {table: fixed[table] for table in FACT_TABLES}
    corrections = rows(loop["url"], "SELECT SUM(rows_loaded) FROM batches WHERE corrects_batch_id IS NOT NULL")
    assert corrections == [(sum(grown.values()),)] == [(len(FIXED),)]


def test_every_row_loaded_first_or_by_a_correction_has_the_record_key_of_its_file(loop: dict[str, Any]) -> None:
    stored, derived = record_keys_stored_and_derived(loop["url"])
    assert stored == derived and len(stored) == sum(loop["after"][table] for table in FACT_TABLES)


def test_sending_a_correction_again_changes_nothing(loop: dict[str, Any]) -> None:
    for state in loop["again"]:
        assert state.is_completed() and state.result().outcome.correction is None
    assert table_counts(loop["url"]) == loop["after"]


def test_every_dismissal_is_in_the_audit_with_its_reason(loop: dict[str, Any]) -> None:
    reasons = sorted(r for (r,) in rows(loop["url"], "SELECT reason FROM steward_actions WHERE action = 'dismiss'"))
    assert reasons == sorted(p["dismiss"] for p in PLAN.values() if "dismiss" in p)
    exports, corrections = (
        rows(loop["url"], "SELECT COUNT(*) FROM steward_actions WHERE action = :a AND actor = :s", a=a, s=STEWARD)[0][0]
        for a in ("export", "correction")
    )
    assert exports == corrections == sum(len(r) for r in loop["rounds"])


def test_the_checkpoint_passes_on_the_corrected_demo_warehouse(loop: dict[str, Any]) -> None:
    result = check_warehouse(loop["url"], loop["outputs"], "after-corrections", dt.date.fromisoformat(AS_OF))
    assert result.success, [s for s in result.suites if s.failed]
    assert all(s.evaluated > 0 for s in result.suites)


def seed_bad_batch(url: str) -> int:
    """Write a bad batch straight into the warehouse: a helpline_ke batch record claiming 2 rows, holding 1 fact row
    (a copy of a loaded row with a negative count and a channel outside the vocabulary). Its batch id."""
    columns = [c.name for c in FACT_TABLES[HELPLINE].columns]
    changed = {"batch_id": ":b", "row_number": "2", "contacts": "-5", "channel": "'pigeon'"}
    q4 = "(SELECT batch_id FROM batches WHERE original_name = '2023_q4.csv')"
    with get_engine(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO batches (source_id, run_id, original_name, sha256, size_bytes, landed_path, received_at, "
                "status, rows_in, rows_loaded, rows_quarantined, review_status) SELECT source_id, run_id, 'bad.csv', "
                f"sha256, size_bytes, landed_path, received_at, 'loaded', 2, 2, 0, 'pending' FROM batches "
                f"WHERE batch_id = {q4}"
            )
        )
        batch_id = conn.execute(text("SELECT batch_id FROM batches WHERE original_name = 'bad.csv'")).scalar_one()
        conn.execute(
            text(
                f"INSERT INTO {HELPLINE} ({', '.join(columns)}) SELECT {', '.join(changed.get(c, c) for c in columns)} "
                f"FROM {HELPLINE} WHERE batch_id = {q4} AND row_number = 2"
            ),
            {"b": batch_id},
        )
    return batch_id


def test_the_checkpoint_names_what_a_seeded_bad_batch_breaks(loop: dict[str, Any]) -> None:
    url = loop["url"]
    batch_id = seed_bad_batch(url)
    try:
        result = check_warehouse(url, loop["outputs"], "seeded-bad-batch", dt.date.fromisoformat(AS_OF))
    finally:
        with get_engine(url).begin() as conn:
            conn.execute(text(f"DELETE FROM {HELPLINE} WHERE batch_id = :b"), {"b": batch_id})
            conn.execute(text("DELETE FROM batches WHERE batch_id = :b"), {"b": batch_id})
    assert result.success is False
    failed = {(s.suite, f.expectation, f.column): f for s in result.suites for f in s.failed}
    assert set(failed) == {
        (HELPLINE, "expect_column_values_to_be_between", "contacts"),
        (HELPLINE, "expect_column_values_to_be_in_set", "channel"),
        (HELPLINE, "expect_table_row_count_to_equal", None),
    }
    assert failed[(HELPLINE, "expect_column_values_to_be_in_set", "channel")].observed == {
        "unexpected_count": 1,
        "examples": ["pigeon"],
    }
    row_count = failed[(HELPLINE, "expect_table_row_count_to_equal", None)]
    assert row_count.details["expected"]["value"] == row_count.observed + 1  # the batch claims one row more
