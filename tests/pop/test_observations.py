"""One observation, one count, on SQLite and PostgreSQL: when two sources report the same observation (the schema's
`observation` key), the observed views keep the rows of the source believed first (precedence, then id); the same
figures publish once, different figures publish the believed one and raise a discrepancy with both numbers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from pop.db import get_engine
from pop.registry import Registry
from tasks.quality.discrepancies import check_discrepancies
from tasks.reference.dimensions import sync_dimensions
from tasks.snapshot.indicators import compute_indicators, load_indicators
from tests.tasks.quality.test_discrepancies import TECH_HEADER, discrepancies_of, ingest, make_source, tech_source

NCMEC_HEADER = "Electronic Service Provider,Year,Reports"


def ncmec_table(tmp_path: Path, precedence: int = 10):
    """NCMEC's own table of CyberTipline reports by provider: believed before a compilation that copies it."""
    return make_source(
        tmp_path,
        {
            "id": "ncmec_table",
            "group": "tech_companies",
            "schema": "tech_companies",
            "organisation": "NCMEC",
            "format": "csv",
            "files": "ncmec_table/*.csv",
            "columns": {"Electronic Service Provider": "company", "Year": "period", "Reports": "value"},
            "defaults": {
                "product": "all",
                "reporter": "ncmec",
                "metric": "cybertipline_reports",
                "unit": "count",
                "country": "WLD",
            },
            "precedence": precedence,
        },
    )


COMPILATION = [  # a compilation that copies NCMEC's figures for two companies, and has one of its own
    "Snapchat,all,NCMEC,CyberTipline reports,2023,count,713055",
    "Google LLC,all,NCMEC,CyberTipline reports,2023,count,1470958",
    "TikTok,all,NCMEC,CyberTipline reports,2023,count,590376",
]


def rows(url: str, sql: str) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return sorted(tuple(r) for r in conn.execute(text(sql)))


def load_both(tmp_path: Path, url: str, ncmec_lines: list[str]) -> None:
    compilation, ncmec = tech_source(tmp_path), ncmec_table(tmp_path)
    with get_engine(url).begin() as conn:
        sync_dimensions(conn, Registry(sources=[compilation, ncmec]))
    ingest(tmp_path, url, ncmec, "cybertipline_2023.csv", [NCMEC_HEADER, *ncmec_lines])
    ingest(tmp_path, url, compilation, "compiled.csv", [TECH_HEADER, *COMPILATION])


def published(url: str) -> dict[str, float]:
    """The tech indicator's published 2023 NCMEC reports, by company (what the snapshot shows)."""
    [indicator] = [i for i in load_indicators() if i.id == "tech_reports_actions"]
    with get_engine(url).connect() as conn:
        cells = compute_indicators(conn, [indicator])["tech_reports_actions"].cells
    ncmec = cells[(cells["reporter"] == "ncmec") & (cells["year"] == "2023")]
    return dict(zip(ncmec["company"], ncmec["value"], strict=True))


def test_the_same_figures_from_two_sources_publish_once(tmp_path: Path, database_url: str) -> None:
    load_both(tmp_path, database_url, ["Snap Inc.,2023,713055", "Google,2023,1470958"])
    observed = "SELECT company_code, source_id, value FROM approved_observed_fact_tech_metrics"
    assert rows(database_url, observed) == [
        ("alphabet", "ncmec_table", 1470958.0),
        ("bytedance", "tech", 590376.0),  # only the compilation has it: kept
        ("snap", "ncmec_table", 713055.0),
    ]
    assert len(rows(database_url, "SELECT value FROM approved_fact_tech_metrics")) == 5  # nothing is deleted
    assert published(database_url) == {"alphabet": 1470958, "bytedance": 590376, "snap": 713055}
    assert discrepancies_of(check_discrepancies(database_url, "run-1"), "sources_disagree") == {}


def test_different_figures_publish_the_believed_source_and_raise_a_discrepancy(
    tmp_path: Path, database_url: str
) -> None:
    load_both(tmp_path, database_url, ["Snap Inc.,2023,713055", "Google,2023,1470000"])
    assert published(database_url) == {"alphabet": 1470000, "bytedance": 590376, "snap": 713055}
    found = discrepancies_of(check_discrepancies(database_url, "run-1"), "sources_disagree")
    [(subject, discrepancy)] = found.items()
    assert subject == "tech_companies: alphabet x all x ncmec x cybertipline_reports x 2023 x WLD (value, tech)"
    assert {
        k: discrepancy.details[k] for k in ("believed_source", "believed_value", "other_source", "other_value")
    } == {
        "believed_source": "ncmec_table",
        "believed_value": 1470000,
        "other_source": "tech",
        "other_value": 1470958,
    }


def test_precedence_is_data_and_ties_go_by_source_id(tmp_path: Path, database_url: str) -> None:
    load_both(tmp_path, database_url, ["Google,2023,1470000"])
    with get_engine(database_url).begin() as conn:  # the compilation declared first (a registry change)
        sync_dimensions(conn, Registry(sources=[tech_source(tmp_path), ncmec_table(tmp_path, precedence=200)]))
    assert published(database_url)["alphabet"] == 1470958
    with get_engine(database_url).begin() as conn:  # equal precedence: the lower source id ('ncmec_table')
        sync_dimensions(conn, Registry(sources=[tech_source(tmp_path), ncmec_table(tmp_path, precedence=100)]))
    assert published(database_url)["alphabet"] == 1470000


# --- helplines: the helpline is part of the cell ------------------------------------------------------------------

HELPLINE_HEADER = "Quarter,Country,Type,Channel,Reason,Age,Sex,Contacts"
CELL = "2023-Q1,Kenya,counselling,chat,online.grooming,13-15,girl"


def helpline(tmp_path: Path, source_id: str, organisation: str, **entry: object):
    columns = dict(
        zip(HELPLINE_HEADER.split(","), ["period", "country", "contact_type", "channel", "reason"], strict=False)
    )
    columns |= {"Age": "age_band", "Sex": "gender", "Contacts": "contacts"}
    return make_source(
        tmp_path,
        {
            "id": source_id,
            "group": "helplines_services",
            "schema": "helplines_services",
            "organisation": organisation,
            "format": "csv",
            "files": f"{source_id}/*.csv",
            "columns": {**columns, **entry.pop("more_columns", {})},
            **entry,
        },
    )


def test_two_helplines_of_one_country_are_two_observations(tmp_path: Path, database_url: str) -> None:
    """Each helpline sends its own contacts (the helpline is the source's organisation): both count."""
    first = helpline(tmp_path, "childline_ke", "Childline Kenya")
    second = helpline(tmp_path, "other_ke", "Another Kenyan helpline")
    ingest(tmp_path, database_url, first, "q1.csv", [HELPLINE_HEADER, f"{CELL},40"])
    ingest(tmp_path, database_url, second, "q1.csv", [HELPLINE_HEADER, f"{CELL},25"])
    observed = "SELECT helpline_code, helpline_reported, contacts FROM current_observed_fact_helpline_contacts"
    assert rows(database_url, observed) == [
        ("another_kenyan_helpline", "Another Kenyan helpline", 25),
        ("childline_kenya", "Childline Kenya", 40),
    ]
    assert rows(database_url, "SELECT COUNT(*) FROM observation_conflicts") == [(0,)]


def test_a_compilation_naming_the_helpline_repeats_its_cell(tmp_path: Path, database_url: str) -> None:
    """A compilation of helplines (a column names each) and the helpline itself: one observation, counted once,
    and a disagreement with both numbers."""
    own = helpline(tmp_path, "childline_ke", "Childline Kenya", precedence=10)
    compiled = helpline(tmp_path, "chi", "Child Helpline International", more_columns={"Helpline": "helpline"})
    ingest(tmp_path, database_url, own, "q1.csv", [HELPLINE_HEADER, f"{CELL},40"])
    with get_engine(database_url).begin() as conn:
        sync_dimensions(conn, Registry(sources=[own, compiled]))
    header = f"{HELPLINE_HEADER},Helpline"
    ingest(tmp_path, database_url, compiled, "2023.csv", [header, f"{CELL},41,Childline Kenya"])
    observed = "SELECT source_id, helpline_code, contacts FROM current_observed_fact_helpline_contacts"
    assert rows(database_url, observed) == [("childline_ke", "childline_kenya", 40)]
    conflicts = "SELECT believed_source, believed_value, other_source, other_value FROM observation_conflicts"
    assert rows(database_url, conflicts) == [("childline_ke", 40, "chi", 41)]
