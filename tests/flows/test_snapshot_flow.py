"""The snapshot flow end to end on the approved demo warehouse, on SQLite and PostgreSQL: the files it writes, no
published count below the threshold, every figure near its truth, findings that read true on the protected figures,
no microdata, deterministic output, unchanged cells unchanged, what changed, and that only approved batches count."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from uuid import UUID

import pandas as pd
import pytest
from sqlalchemy import text

from pop.db import get_engine
from tasks.ledger.review import pending_loaded_batches, review_batch
from tasks.snapshot.build import finding_rows, labeller
from tasks.snapshot.disclosure import load_rules, unprotected
from tasks.snapshot.document import SnapshotSummary
from tasks.snapshot.findings import build_findings
from tasks.snapshot.findings import load_rules as load_finding_rules
from tasks.snapshot.indicators import compute_indicators, load_indicators
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
    assert package["resources"][0]["schema"]["missingValues"] == ["", "[c]"]  # the one code of a withheld value
    share = next(r for r in package["resources"] if r["path"] == "indicators/helpline_online_share.csv")
    assert share["pop_coverage"]["sources"] == ["helpline_br", "helpline_de", "helpline_ke", "helpline_ph"]
    assert share["pop_metadata"]["stakeholder_groups"] == ["helplines_services"]
    disclosure = package["pop_disclosure"]
    assert disclosure["parameters"] == {
        "threshold": 10,
        "unstable_base": 20,
        "max_noise": 4,
        "variance": 2.0,
        "smallest_published": 5,
    }
    assert disclosure["method"] == "cell-key perturbation" and disclosure["perturbation"]["transition"]
    assert disclosure["audit"]["counts_attacked"] > 500 and disclosure["audit"]["narrowed_before_audit"] == 0


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


def visible_counts(folder: Path) -> Iterator[tuple[str, str, int]]:
    """(indicator, column, value) of every published count of a protected indicator."""
    for ind in INDICATORS.values():
        if not ind.counts:
            continue
        with (folder / "indicators" / f"{ind.id}.csv").open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            for column in ind.counts:
                if row[column] not in (RULES.code, ""):
                    yield ind.id, column, int(float(row[column]))


def test_no_published_count_of_children_is_below_the_threshold(demo: dict) -> None:
    counts = list(visible_counts(demo["dir"]))
    assert len(counts) > 500
    assert [c for c in counts if c[2] < RULES.threshold] == []
    hidden = sum(t["hidden_cells"] for t in read_json(demo["dir"] / "snapshot.json")["indicators"])
    assert hidden == demo["summary"].hidden_cells > 0


def true_cells(url: str) -> dict[str, pd.DataFrame]:
    """Every indicator's cells before disclosure control, by id."""
    with get_engine(url).connect() as conn:
        return {k: r.cells for k, r in compute_indicators(conn, list(INDICATORS.values())).items()}


def test_every_published_figure_is_near_its_truth(demo: dict) -> None:
    """A published count is its true count moved by at most the largest noise, a share by at most what that noise
    can do to it; the largest changes are printed (pytest -s) for the release notes."""
    truth = true_cells(demo["url"])
    doc = read_json(demo["dir"] / "snapshot.json")
    noise = RULES.perturbation.max_noise
    worst: dict[str, tuple[float, str]] = dict.fromkeys(
        ("count", "relative", "share points", "share points, not flagged"), (0, "")
    )
    compared = 0
    for table in doc["indicators"]:
        ind = INDICATORS[table["id"]]
        if not ind.counts:
            continue
        dims = list(ind.dimensions)
        true_rows = {tuple(str(v) for v in row[dims]): row for _, row in truth[ind.id].iterrows()}
        for row in table["rows"]:
            real = true_rows[tuple(str(row[d]) for d in dims)]
            where = f"{ind.id} {[row[d] for d in dims]}"
            for column in ind.counts:
                if row[column] in (RULES.code, None):
                    continue
                change = abs(row[column] - real[column])
                assert change <= noise, (where, column)
                worst["count"] = max(worst["count"], (change, f"{where} {column}"))
                worst["relative"] = max(worst["relative"], (change / real[column], f"{where} {column}"))
                compared += 1
            if ind.unit == "share" and row["value"] not in (RULES.code, None):
                points = abs(row["value"] - real["value"])
                if "weighted_cases" in ind.kept:  # the weighted share times (published / true) cases over base
                    n, b = real["cases"], real["base"]
                    bound = real["value"] * ((1 + noise / n) / (1 - noise / b) - 1)
                else:
                    bound = noise * (1 + real["value"]) / (row["base"] - noise)
                assert points <= bound + 1e-9, where
                worst["share points"] = max(worst["share points"], (100 * points, where))
                if not row["flag"]:
                    worst["share points, not flagged"] = max(worst["share points, not flagged"], (100 * points, where))
    assert compared > 500
    print("\nlargest changes protection made:", {k: (round(v, 4), w) for k, (v, w) in worst.items()})


def test_the_headline_findings_read_true_on_the_protected_figures(demo: dict) -> None:
    """The findings built from the unprotected cells say the same: the same findings, the same corroboration, the
    same words but for a figure moved by the noise (a percentage by at most a point, a count by at most 1%)."""
    doc = read_json(demo["dir"] / "snapshot.json")
    truth = true_cells(demo["url"])
    with get_engine(demo["url"]).connect() as conn:
        label = labeller(conn)
    rows = {
        ind.id: {
            "rows": finding_rows(ind, unprotected(truth[ind.id]), RULES),
            "coverage": [],
            "value": ind.values[0],
            "unit": ind.unit,
            "dimensions": list(ind.dimensions),
        }
        for ind in INDICATORS.values()
    }
    true_findings = build_findings(load_finding_rules(set(INDICATORS)), rows, label)
    published = {f["id"]: f for f in doc["findings"]}
    stated = {f.id: f for f in true_findings if hasattr(f, "statement")}
    assert set(stated) == {i for i, f in published.items() if "statement" in f} and len(stated) >= 5
    number = re.compile(r"\d[\d,]*(?:\.\d+)?%?")
    for fid, finding in stated.items():
        mine = published[fid]
        assert finding.corroboration == mine["corroboration"], fid
        # the same words, but for a figure moved by the noise, or a clause left out when its figure is withheld
        true_numbers = number.findall(finding.statement)
        for shown in number.findall(mine["statement"]):
            b = float(shown.rstrip("%").replace(",", ""))
            while true_numbers:
                true = true_numbers.pop(0)
                a = float(true.rstrip("%").replace(",", ""))
                if true.endswith("%") == shown.endswith("%") and abs(a - b) <= (1 if true.endswith("%") else 0.01 * a):
                    break
            else:
                raise AssertionError(f"{fid}: {shown} is not near a figure of the true statement {finding.statement}")
        assert set(number.sub("#", mine["statement"]).split()) <= set(number.sub("#", finding.statement).split()), fid


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


def test_a_later_snapshot_keeps_the_figures_of_unchanged_cells_and_says_what_changed(demo: dict) -> None:
    """Rejecting a batch changes the evidence: the next snapshot compares with the first and leaves the rejected
    batch's rows out; a cell whose records did not change keeps its published figures exactly (the same records,
    the same noise), so comparing the two says nothing of cells the batch did not touch; approving it again restores
    the evidence."""
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
    untouched = 0
    for table in first["indicators"]:
        for row in table["rows"]:
            key = (table["id"], tuple(str(row[d]) for d in table["metadata"]["dimensions"]))
            if table["id"].startswith("youth") or (table["id"] == "helpline_online_share" and "BRA" not in key[1]):
                if "all" in key[1] and table["id"] == "helpline_online_share":
                    continue  # totals over every country include Brazil's
                assert cells[key] == row, f"{key}: its records did not change, yet its figures did"
                untouched += 1
    assert untouched > 400
    history = read_json(demo["outputs"] / "snapshots" / "index.json")
    assert [s["id"] for s in history["snapshots"]] == [first["snapshot"]["id"], doc["snapshot"]["id"]]
    assert "value(s) changed" in doc["changes"]["summary"]
    assert later.paths.changes.read_text(encoding="utf-8").count("removed:") >= 1


def test_a_warehouse_without_approved_evidence_gives_a_snapshot_that_says_so(database_url: str, tmp_path: Path) -> None:
    summary, _ = run_snapshot(database_url, tmp_path / "outputs")
    assert summary.findings == 0 and summary.approved_batches == 0 and summary.hidden_cells == 0
    doc = read_json(summary.paths.snapshot_json)
    assert all(not t["rows"] for t in doc["indicators"]) and len(doc["indicators"]) == len(INDICATORS)
    assert all("primary evidence is unavailable" in f["reason"] for f in doc["findings"])
    assert "No finding can be stated yet" in summary.paths.html.read_text(encoding="utf-8")
