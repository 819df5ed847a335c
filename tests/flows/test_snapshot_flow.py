"""The snapshot flow end to end on the approved demo warehouse, on SQLite and PostgreSQL: the files it writes, no
published cell below the threshold, no microdata, deterministic output, carried suppression, what changed, and
that only approved batches count."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import text

from pop.db import get_engine
from tasks.ledger.review import pending_loaded_batches, review_batch
from tasks.snapshot.disclosure import load_rules
from tasks.snapshot.document import SnapshotDocument, SnapshotSummary
from tasks.snapshot.indicators import load_indicators
from tests.conftest import BACKENDS, demo_settings, warehouse

AS_OF = "2024-03-01"
FIRST_SNAPSHOTS: dict[str, Path] = {}  # backend -> its first snapshot, to compare warehouses built alike
RULES = load_rules()
INDICATORS = {i.id: i for i in load_indicators()}


def run_snapshot(url: str, outputs: Path, as_of: str = AS_OF) -> tuple[SnapshotSummary, UUID]:
    """The snapshot flow's summary, and the id of its flow run."""
    from flows.snapshot import snapshot

    with demo_settings(outputs, url):
        state = snapshot(as_of=as_of, return_state=True)
    assert state.is_completed(), state.message
    return state.result(), state.state_details.flow_run_id


def approve_all(url: str) -> None:
    with get_engine(url).begin() as conn:
        for batch_id in pending_loaded_batches(conn):
            review_batch(conn, batch_id, "approved", "tester", "snapshot tests")


@pytest.fixture(scope="module", params=BACKENDS)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The demo inbox ingested into a fresh warehouse, every batch approved, and one snapshot made."""
    from flows.ingest import ingest

    folder = tmp_path_factory.mktemp(f"snapshot-{request.param}")
    with warehouse(request.param, folder) as url:
        with demo_settings(folder / "outputs", url):
            ingest(return_state=True)
        approve_all(url)
        summary, flow_run_id = run_snapshot(url, folder / "outputs")
        FIRST_SNAPSHOTS[request.param] = summary.paths.html.parent
        yield {
            "url": url,
            "outputs": folder / "outputs",
            "summary": summary,
            "flow_run_id": flow_run_id,
            "dir": summary.paths.html.parent,
        }


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_snapshot_writes_every_output(demo: dict) -> None:
    folder = demo["dir"]
    assert folder.parent == demo["outputs"] / "snapshots" and folder.name == demo["summary"].id
    assert folder.name.startswith(AS_OF + "-")
    for name in ("index.html", "snapshot.md", "snapshot.json", "changes.md", "changes.json", "datapackage.json"):
        assert (folder / name).stat().st_size > 0, name
    for ind in INDICATORS:
        assert (folder / "indicators" / f"{ind}.csv").exists() and (folder / "indicators" / f"{ind}.json").exists()
    index = read_json(demo["outputs"] / "snapshots" / "index.json")
    assert index["latest"] == folder.name and [s["id"] for s in index["snapshots"]] == [folder.name]
    package = read_json(folder / "datapackage.json")
    assert len(package["resources"]) == len(INDICATORS)
    assert set(package["resources"][0]["schema"]["missingValues"]) == {"", "[c]", "[s]", "[k]"}
    share = next(r for r in package["resources"] if r["path"] == "indicators/helpline_online_share.csv")
    assert share["pop_coverage"]["sources"] == ["helpline_br", "helpline_de", "helpline_ke", "helpline_ph"]
    assert share["pop_metadata"]["stakeholder_groups"] == ["helplines_services"]
    assert package["pop_disclosure"]["parameters"] == {
        "min_count": 5,
        "min_count_detailed": 10,
        "detailed_dimensions": 3,
        "unstable_base": 20,
    }


def test_the_snapshot_shows_in_prefect_as_a_markdown_and_a_table_artifact(demo: dict) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[demo["flow_run_id"]]))
        )
    by_key = {a.key: a for a in artifacts}
    assert by_key["snapshot-report"].type == "markdown" and by_key["snapshot-indicators"].type == "table"
    assert demo["summary"].statements[0].statement in by_key["snapshot-report"].data
    table = by_key["snapshot-indicators"].data
    table = json.loads(table) if isinstance(table, str) else table
    assert {row["indicator"] for row in table} == set(INDICATORS)
    assert sum(row["hidden"] for row in table) == demo["summary"].hidden_cells


def test_findings_come_first_with_corroboration_and_charts_have_data_tables(demo: dict) -> None:
    html = unescape((demo["dir"] / "index.html").read_text(encoding="utf-8"))
    assert html.index('id="findings"') < html.index('id="helplines_services"') < html.index('id="methods"')
    doc = read_json(demo["dir"] / "snapshot.json")
    stated = [f for f in doc["findings"] if f["stated"]]
    assert len(stated) >= 5
    for finding in stated:
        assert finding["statement"] in html
        assert finding["corroboration"] in ("single group", "two groups", "three or more groups", "contested")
        assert len(finding["supporting_groups"]) == {"single group": 1, "two groups": 2}.get(
            finding["corroboration"], len(finding["supporting_groups"])
        )
        assert all(e["sources"] for e in finding["evidence"] if e["status"] != "unavailable")
    online = next(f for f in stated if f["id"] == "online_channels_carry_help")
    assert online["corroboration"] == "three or more groups"
    assert online["supporting_groups"] == ["children_youth", "helplines_services", "service_providers"]
    assert html.count("<svg") >= 10 and html.count("<caption>Data of the chart above") == html.count("<svg")
    assert "Coverage: sources, countries, periods" in html and "[c]" in html


def visible_counts(folder: Path) -> Iterator[tuple[str, str, int, int]]:
    """(indicator, column, value, threshold) of every published count of a protected indicator."""
    for ind in INDICATORS.values():
        if not ind.counts:
            continue
        with (folder / "indicators" / f"{ind.id}.csv").open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        dims = [d for d in ind.dimensions if d not in ind.nested]
        detail = max((sum(r[d] != "all" for d in dims) for r in rows), default=0)
        for row in rows:
            for column in ind.counts:
                if row[column] not in RULES.codes.values():
                    yield ind.id, column, int(float(row[column])), RULES.threshold(detail)
            if "cases" in ind.counts and row["cases"] not in RULES.codes.values():
                yield (
                    ind.id,
                    "base - cases",
                    int(float(row["base"])) - int(float(row["cases"])),
                    RULES.threshold(detail),
                )


def test_no_published_count_of_children_is_below_the_threshold(demo: dict) -> None:
    counts = list(visible_counts(demo["dir"]))
    assert len(counts) > 500
    small = [c for c in counts if 0 < c[2] < c[3]]
    assert small == []
    hidden = sum(t["hidden_cells"] for t in read_json(demo["dir"] / "snapshot.json")["indicators"])
    assert hidden == demo["summary"].hidden_cells > 0


def test_no_survey_microdata_leaves_the_warehouse(demo: dict) -> None:
    with get_engine(demo["url"]).connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT response_id FROM fact_youth_responses LIMIT 50"))]
    published = "".join(p.read_text(encoding="utf-8") for p in demo["dir"].rglob("*") if p.is_file())
    assert ids and not any(i in published for i in ids)
    for path in (demo["dir"] / "indicators").glob("*.csv"):
        header = set(path.read_text(encoding="utf-8").splitlines()[0].split(","))
        assert not header & {"response_id", "survey_id", "weight", "age", "row_number", "batch_id"}, path.name


def test_the_same_warehouse_gives_the_same_snapshot_byte_for_byte(demo: dict, tmp_path: Path) -> None:
    again, _ = run_snapshot(demo["url"], tmp_path / "outputs")
    assert again.id == demo["summary"].id
    assert same_files(demo["dir"], again.paths.html.parent) == []


def same_files(first: Path, second: Path) -> list[str]:
    """The files of two snapshot folders that differ (or exist in one only)."""
    names = {p.relative_to(first) for p in first.rglob("*") if p.is_file()}
    names |= {p.relative_to(second) for p in second.rglob("*") if p.is_file()}
    return sorted(
        str(n)
        for n in names
        if not (
            (first / n).is_file() and (second / n).is_file() and (first / n).read_bytes() == (second / n).read_bytes()
        )
    )


def test_identical_warehouses_give_identical_snapshots(demo: dict, tmp_path: Path) -> None:
    """On SQLite: a copy of the warehouse file gives the same snapshot byte for byte. On PostgreSQL: the same demo
    ingested there gives the same snapshot as on SQLite."""
    if demo["url"].startswith("sqlite"):
        copy = tmp_path / "copy.sqlite"
        with sqlite3.connect(demo["url"].removeprefix("sqlite:///")) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        other = run_snapshot(f"sqlite:///{copy}", tmp_path / "outputs")[0].paths.html.parent
    elif "sqlite" in FIRST_SNAPSHOTS:
        other = FIRST_SNAPSHOTS["sqlite"]
    else:
        pytest.skip("the PostgreSQL snapshot is compared with the SQLite one: run both backends")
    assert other.name == demo["dir"].name
    assert same_files(demo["dir"], other) == []


def test_making_the_same_snapshot_twice_changes_nothing(demo: dict) -> None:
    folder = demo["dir"]
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    again, _ = run_snapshot(demo["url"], demo["outputs"])
    assert again.id == demo["summary"].id
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert len(read_json(demo["outputs"] / "snapshots" / "index.json")["snapshots"]) == 1


def test_a_later_snapshot_keeps_hidden_cells_hidden_and_says_what_changed(demo: dict) -> None:
    """Rejecting a batch changes the evidence: the next snapshot compares with the first, keeps its hidden cells
    hidden, and leaves the rejected batch's rows out; approving it again restores the evidence."""
    with get_engine(demo["url"]).begin() as conn:
        batch_id = conn.execute(text("SELECT batch_id FROM batches WHERE source_id = 'helpline_br'")).scalar_one()
        review_batch(conn, batch_id, "rejected", "tester", "test: a batch withdrawn by its sender")
    try:
        later, _ = run_snapshot(demo["url"], demo["outputs"], as_of="2024-03-08")
    finally:
        with get_engine(demo["url"]).begin() as conn:
            review_batch(conn, batch_id, "approved", "tester", "test: restored")
    first = read_json(demo["dir"] / "snapshot.json")
    doc = read_json(later.paths.snapshot_json)
    assert doc["changes"]["previous"] == first["snapshot"]["id"]
    assert {b["batch_id"] for b in doc["snapshot"]["pending_batches"]} == {batch_id}
    removed = [c for c in doc["changes"]["cells_removed"] if c["indicator"] == "helpline_online_share"]
    assert ["Americas", "BRA", "2023"] in [c["cell"] for c in removed]
    assert all("helpline_br" not in t["coverage"]["sources"] for t in doc["indicators"])
    cells = {
        (t["id"], tuple(str(r[d]) for d in t["metadata"]["dimensions"])): r
        for t in doc["indicators"]
        for r in t["rows"]
    }
    for table in first["indicators"]:
        for row in table["rows"]:
            key = (table["id"], tuple(str(row[d]) for d in table["metadata"]["dimensions"]))
            if row["disclosure"] and key in cells and row["disclosure"] != "[c]":
                assert cells[key]["disclosure"], f"{key} was hidden ({row['disclosure']}) and is shown now"
    history = read_json(demo["outputs"] / "snapshots" / "index.json")
    assert [s["id"] for s in history["snapshots"]] == [first["snapshot"]["id"], doc["snapshot"]["id"]]
    assert "value(s) changed" in doc["changes"]["summary"]
    assert later.paths.changes.read_text(encoding="utf-8").count("removed:") >= 1


def test_an_indicator_redefined_since_the_previous_snapshot_carries_nothing_over(demo: dict) -> None:
    from tasks.snapshot.build import hidden_before

    ind = INDICATORS["youth_choices"]
    previous = read_json(demo["dir"] / "snapshot.json")
    hidden = hidden_before(SnapshotDocument.model_validate(previous), ind, RULES.codes)
    assert hidden and all(len(key) == len(ind.dimensions) for key in hidden)
    table = next(t for t in previous["indicators"] if t["id"] == ind.id)
    table["metadata"]["dimensions"] = ["question", "answer", "country_iso3"]  # as it was defined before
    for row in table["rows"]:
        del row["age_band"], row["gender"]
    assert hidden_before(SnapshotDocument.model_validate(previous), ind, RULES.codes) == {}


def test_a_warehouse_without_approved_evidence_gives_a_snapshot_that_says_so(database_url: str, tmp_path: Path) -> None:
    summary, _ = run_snapshot(database_url, tmp_path / "outputs")
    assert summary.findings == 0 and summary.approved_batches == 0 and summary.hidden_cells == 0
    doc = read_json(summary.paths.snapshot_json)
    assert all(not t["rows"] for t in doc["indicators"]) and len(doc["indicators"]) == len(INDICATORS)
    assert all("primary evidence is unavailable" in f["reason"] for f in doc["findings"])
    assert "No finding can be stated yet" in summary.paths.html.read_text(encoding="utf-8")
