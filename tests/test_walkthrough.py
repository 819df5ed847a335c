"""The README's walkthrough, run on SQLite and PostgreSQL: a published table shaped like NCMEC's CyberTipline reports
by electronic service provider (tests/data, illustrative figures), with no reporter, product, metric, unit or country
column, registered with a registry entry alone (its `defaults` give what the table leaves out), then listed, ingested
and shown; the provider no vocabulary knows waits for a steward."""

from __future__ import annotations

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
from tests.conftest import registry_settings

DATA = paths.ROOT / "tests" / "data"
TABLE = DATA / "ncmec_cybertipline_by_esp_illustrative.csv"
ENTRY = DATA / "ncmec_esp.sources.yaml"
UNKNOWN = "Omegle.com LLC"
runner = CliRunner()


def pop(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())  # the words, however the console wrapped them


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

    assert "Rows in 12 = loaded 10 + quarantined 2" in pop("ingest", "--source", "ncmec_esp", "--as-of", "2024-03-01")
    shown = pop("batch", "show", "1")
    for words in (
        "Electronic Service Provider",
        "unknown_company",
        UNKNOWN,
        "What you can do",
        "pop vocab accept NAME",
    ):
        assert words in shown
    held = pop("quarantine", "list", "--source", "ncmec_esp")
    assert held.count("unknown_company") == 2 and held.count(UNKNOWN) == 2

    sent = pd.read_csv(TABLE, thousands=",")
    expected = sent[sent["Electronic Service Provider"] != UNKNOWN].groupby("Year")["Reports"].sum()
    query = """SELECT period, SUM(value), COUNT(DISTINCT company_code), MIN(product_code), MIN(reporter), MIN(metric),
                      MIN(unit), MIN(country_iso3), COUNT(*) FROM fact_tech_metrics GROUP BY period ORDER BY period"""
    with get_engine(database_url).connect() as conn:
        loaded = [tuple(row) for row in conn.execute(text(query))]
    assert loaded == [
        (str(year), float(total), 5, "all", "ncmec", "cybertipline_reports", "count", "WLD", 5)
        for year, total in expected.items()
    ]
