"""The README's walkthrough, run on SQLite and PostgreSQL: NCMEC's table of CyberTipline reports by electronic service
provider (tests/data: NCMEC's 2022 and 2023 figures as the demo cites them, a provider renamed within 2023 and one
not yet known), with no reporter, product, metric, unit or country column, registered with a registry entry alone.
Every row loads, the renamed provider's two rows add up, the yearly sums are the file's; added next to the demo,
which already holds those figures, nothing in the snapshot is counted twice."""

from __future__ import annotations

import csv
import re
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sqlalchemy import text
from typer.testing import CliRunner

from cli.main import app
from pop import paths
from pop.db import get_engine
from tests.conftest import BACKENDS, demo_settings, registry_settings, warehouse

DATA = paths.ROOT / "tests" / "data"
TABLE = DATA / "ncmec_cybertipline_by_esp.csv"
ENTRY = DATA / "ncmec_esp.sources.yaml"
AS_OF = "2024-03-01"
runner = CliRunner()


def pop(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())  # the words, however the console wrapped them


def query(url: str, sql: str) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


@pytest.fixture
def walkthrough(tmp_path: Path, database_url: str) -> Iterator[Path]:
    """A registry holding the walkthrough's entry alone, and the table where its files arrive."""
    shutil.copy(ENTRY, tmp_path / "sources.yaml")
    (tmp_path / "inbox" / "ncmec_esp").mkdir(parents=True)
    shutil.copy(TABLE, tmp_path / "inbox" / "ncmec_esp" / "cybertipline_by_esp.csv")
    with registry_settings(tmp_path, database_url, tmp_path / "sources.yaml"):
        yield tmp_path


def test_the_readme_shows_the_entry_the_walkthrough_runs() -> None:
    readme = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    walkthrough = readme.split("### Walkthrough: registering a published table")[1]
    [shown] = re.findall(r"```yaml\n(.*?)```", walkthrough, re.DOTALL)[:1]
    assert yaml.safe_load(textwrap.dedent(shown)) == yaml.safe_load(ENTRY.read_text(encoding="utf-8"))


def test_a_published_table_registered_with_an_entry_alone(walkthrough: Path, database_url: str) -> None:
    listed = pop("sources")
    assert "ncmec_esp" in listed and "The registry holds: 1 source(s)" in listed
    assert "no source 'ncmec_esb'; did you mean 'ncmec_esp'?" in pop("ingest", "--source", "ncmec_esb", code=2)

    # every row loads: the renamed provider's second row is added up into its first, the rest are loaded
    assert "Rows in 17 = loaded 16 + quarantined 1" in pop("ingest", "--source", "ncmec_esp", "--as-of", AS_OF)
    shown = pop("batch", "show", "1")
    assert "combined into another row 1 = 17" in shown and "still open 0" in shown
    [(reasons,)] = query(database_url, "SELECT reasons_json FROM quarantine")
    assert "with the same 'Electronic Service Provider', 'Year', as this source's registration asks" in reasons

    sent = pd.read_csv(TABLE, thousands=",")
    yearly = query(database_url, "SELECT period, SUM(value) FROM fact_tech_metrics GROUP BY period ORDER BY period")
    assert yearly == [(str(year), float(total)) for year, total in sent.groupby("Year")["Reports"].sum().items()]
    loaded = query(
        database_url,
        """SELECT company_code, product_code, value FROM fact_tech_metrics
           WHERE period = '2023' AND reporter = 'ncmec' AND metric = 'cybertipline_reports' AND unit = 'count'
             AND country_iso3 = 'WLD' ORDER BY company_code, product_code""",
    )
    assert loaded == [
        ("alphabet", "all", 1470958.0),  # "Google": the whole company's count, as the entry says
        ("bytedance", "tiktok", 590376.0),
        ("meta", "facebook", 17838422.0),  # a service's name gives the service and its company
        ("meta", "instagram", 11430007.0),
        ("meta", "whatsapp", 1389618.0),
        ("omeglecom_llc", "all", 5000.0),  # a provider not yet known: added, for review
        ("snap", "snapchat", 713055.0),
        ("x_corp", "x", 597087.0),  # Twitter 100,000 + X 497,087: one provider, one count
    ]
    names = pop("vocab", "list")
    assert "Omegle.com LLC" in names and "ncmec_esp" in names


def test_a_name_that_may_be_a_company_or_its_product_waits_for_a_steward(walkthrough: Path, database_url: str) -> None:
    entry = yaml.safe_load(ENTRY.read_text(encoding="utf-8"))
    del entry["sources"][0]["values"]  # without the entry's word on "Google"
    (walkthrough / "sources.yaml").write_text(yaml.safe_dump(entry), encoding="utf-8")
    assert "Rows in 17 = loaded 14 + quarantined 3" in pop("ingest", "--source", "ncmec_esp", "--as-of", AS_OF)
    held = pop("quarantine", "list", "--source", "ncmec_esp")
    assert held.count("ambiguous_name") == 2 and "Google" in held
    mapped = pop("vocab", "map", "Google", "--to", "all", "--kind", "platform", "--reason", "NCMEC counts providers")
    assert "Platform 'Google' stands for 'all'" in mapped and "loaded 2, back in quarantine 0" in mapped
    google = "SELECT period, product_code, value FROM fact_tech_metrics WHERE company_code = 'alphabet'"
    assert sorted(query(database_url, google)) == [("2022", "all", 2174548.0), ("2023", "all", 1470958.0)]


# --- next to the demo ------------------------------------------------------------------------------------------


def run_demo(folder: Path, url: str, **more: str) -> dict[str, list[dict[str, str]]]:
    """`pop run --demo` into `folder`; the snapshot's tables, by indicator."""
    with demo_settings(folder / "outputs", url, **more):
        pop("run", "--demo", "--as-of", AS_OF)
    [snapshot] = [p for p in (folder / "outputs" / "snapshots").iterdir() if p.is_dir()]
    tables = {}
    for path in sorted((snapshot / "indicators").glob("*.csv")):
        with path.open(encoding="utf-8") as handle:
            tables[path.stem] = list(csv.DictReader(handle))
    stated = re.findall(r"^- \*\*(.+?)\*\*", (snapshot / "snapshot.md").read_text(encoding="utf-8"), re.MULTILINE)
    return tables | {"headline findings": [{"finding": finding} for finding in stated]}


@pytest.fixture(scope="module", params=BACKENDS)
def side_by_side(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The demo alone, and the demo with NCMEC's table registered next to it (its entry appended to the registry)."""
    alone, both = tmp_path_factory.mktemp("alone"), tmp_path_factory.mktemp("with-ncmec")
    registry = yaml.safe_load(paths.SOURCES_FILE.read_text(encoding="utf-8"))
    registry["sources"] += yaml.safe_load(ENTRY.read_text(encoding="utf-8"))["sources"]
    (both / "sources.yaml").write_text(yaml.safe_dump(registry, sort_keys=False), encoding="utf-8")
    inbox = both / "inbox"
    shutil.copytree(paths.DEMO_INBOX, inbox)
    (inbox / "ncmec_esp").mkdir()
    shutil.copy(TABLE, inbox / "ncmec_esp" / "cybertipline_by_esp.csv")
    with warehouse(request.param, alone) as url_alone, warehouse(request.param, both) as url_both:
        yield {
            "alone": run_demo(alone, url_alone),
            "both": run_demo(both, url_both, registry_path=str(both / "sources.yaml"), inbox_dir=str(inbox)),
            "url": url_both,
        }


def test_next_to_the_demo_nothing_is_counted_twice(side_by_side: dict) -> None:
    alone, both = side_by_side["alone"], side_by_side["both"]
    # every published table but the tech companies' is what the demo alone publishes, and so are the findings
    assert len(alone["headline findings"]) >= 5
    for name in alone:
        if name != "tech_reports_actions":
            assert both[name] == alone[name], name
    # the tech table: each cell the demo published, with the same value (not twice it); only the provider the demo
    # did not know is new
    key = ("company", "product", "reporter", "metric", "year")
    cells_alone = {tuple(r[k] for k in key): r["value"] for r in alone["tech_reports_actions"]}
    cells_both = {tuple(r[k] for k in key): r["value"] for r in both["tech_reports_actions"]}
    assert {k: cells_both[k] for k in cells_alone} == cells_alone
    assert sorted(set(cells_both) - set(cells_alone)) == [
        ("omeglecom_llc", "all", "ncmec", "cybertipline_reports", "2022"),
        ("omeglecom_llc", "all", "ncmec", "cybertipline_reports", "2023"),
    ]
    # both sources report these observations; NCMEC's table (precedence 10) is the one counted, and they agree
    counted = query(
        side_by_side["url"],
        """SELECT source_id, COUNT(*) FROM approved_observed_fact_tech_metrics WHERE reporter = 'ncmec'
           GROUP BY source_id ORDER BY source_id""",
    )
    assert counted == [("ncmec_esp", 16), ("tech_transparency", 1)]  # the demo's own: Meta's derived total
    assert query(side_by_side["url"], "SELECT COUNT(*) FROM observation_conflicts") == [(0,)]


def test_services_in_a_company_column_point_the_steward_to_provider(walkthrough: Path, database_url: str) -> None:
    """The entry as a new user may first write it, the provider column mapped to `company`: a service's figure is
    neither a new company nor its company's whole figure, so it waits, and the steward is told to map to provider."""
    entry = yaml.safe_load(ENTRY.read_text(encoding="utf-8"))
    source = entry["sources"][0]
    source["columns"]["Electronic Service Provider"] = "company"
    source["defaults"]["product"] = "all"
    (walkthrough / "sources.yaml").write_text(yaml.safe_dump(entry), encoding="utf-8")
    assert "Rows in 17 = loaded 12 + quarantined 5" in pop("ingest", "--source", "ncmec_esp", "--as-of", AS_OF)
    held = query(database_url, "SELECT reasons_json FROM quarantine WHERE reasons_json LIKE '%service_as_company%'")
    assert len(held) == 4  # Instagram and WhatsApp, in 2022 and 2023: not added as companies, though authoritative
    assert query(database_url, "SELECT code FROM vocabulary_entries WHERE code IN ('instagram', 'whatsapp')") == []
    shown = pop("batch", "show", "1")
    assert "service_as_company" in shown and "map it to `provider` in the registry" in shown
