"""Small additions do not pass unseen (tasks/ledger/additions.py, issue 11 point 4): after the demo survey, a clean
file of a few children, or one that is the only file of a new country and adds few children there, waits for a
steward, and the audit trail says why; a clean file of many children in known countries is approved as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app
from pop import paths
from pop.contracts import ReviewStatus
from pop.db import get_engine
from pop.models import Batch, StewardAction
from pop.registry import load_registry
from pop.settings import reset_settings
from tasks.ingest.sources import ingest_source
from tasks.ledger.additions import ReviewRulesError, load_review_rules
from tasks.ledger.review import review_batch
from tests.conftest import demo_settings
from tests.helpers import ingest_demo_sources

HEADER = (
    "survey_id,respondent,fieldwork_year,country_code,Q1_age,Q2_gender,Q3_felt_unsafe,Q4_sought_help,"
    "Q5_used_online_help,Q6_online_help_tools,Q7_parent,Q7_sibling,Q7_friend,Q7_teacher,Q7_other_adult,Q7_helpline,"
    "Q7_police,Q7_platform,Q7_nobody,Q8_platforms,Q9_outcome,Q10_barriers,weight,interview_mode"
)


def survey(countries: list[str], start: int) -> str:
    """A clean survey export: one respondent per country code given."""
    rows = [
        f"DEMO-YS-2023-X,X-{start + i:05d},2023,{code},12,1,online,1,yes,,1,0,0,0,0,0,0,0,0,,helped,,1.0,online"
        for i, code in enumerate(countries)
    ]
    return "\n".join([HEADER, *rows]) + "\n"


def ingest(url: str, tmp_path: Path, name: str, content: str) -> tuple[str, str | None]:
    """Ingest one file of the youth survey source; its review status and the reason it was held, if it was."""
    inbox = tmp_path / "inbox"
    folder = inbox / "youth_survey"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    (folder / name).write_text(content, encoding="utf-8")
    source = load_registry(paths.SOURCES_FILE).get("youth_survey")
    outcome = ingest_source(source, inbox, url, tmp_path / "landing", 1000)
    assert len(outcome.batches) == 1, outcome.message
    (batch_id,) = [b.batch_id for b in outcome.batches]
    with get_engine(url).connect() as conn:
        status = conn.execute(select(Batch.review_status).where(Batch.batch_id == batch_id)).scalar_one()
        held = conn.execute(
            select(StewardAction.reason).where(
                StewardAction.batch_id == batch_id, StewardAction.action == "hold for review"
            )
        ).scalar_one_or_none()
    return str(status), held


@pytest.fixture
def review_rules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The project's own review rules (the other tests run with none: tests/conftest.py)."""
    monkeypatch.setenv("POP_REVIEW_PATH", str(paths.REVIEW_FILE))
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


@pytest.mark.usefixtures("review_rules")
def test_small_additions_wait_for_a_steward_who_is_told_why(tmp_path: Path, database_url: str) -> None:
    ingest_demo_sources(database_url, tmp_path / "landing", ["youth_survey"])
    with get_engine(database_url).begin() as conn:  # the demo survey (it has rows in quarantine): a steward approves
        for batch_id in conn.execute(select(Batch.batch_id)).scalars().all():
            review_batch(conn, batch_id, ReviewStatus.APPROVED, "steward", "the demo survey")
    # two children: held, whatever their country
    status, why = ingest(database_url, tmp_path, "two.csv", survey(["KE", "KE"], 1))
    assert status == "pending" and why is not None
    assert "adds 2 children, fewer than 20" in why and "which published cells" in why
    # many children, but only three in a country no approved file has: held, naming the country
    status, why = ingest(database_url, tmp_path, "new_country.csv", survey(["KE"] * 30 + ["UG"] * 3, 100))
    assert status == "pending" and why is not None
    assert "the only file with country_iso3 'UGA' and adds 3 children there" in why
    # many children in known countries: approved as before
    status, why = ingest(database_url, tmp_path, "more.csv", survey(["KE"] * 15 + ["DE"] * 15, 200))
    assert (status, why) == ("approved", None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"small": 0}, "small must be a whole number of at least 1"),
        ({"groups": {"children_youth": {"children": "rows", "new_cells": ["nation"]}}}, "nation not columns of"),
        ({"groups": {"kids": {"children": "rows"}}}, "unknown group 'kids'"),
    ],
)
def test_review_rules_that_cannot_be_used_say_what_to_fix(tmp_path: Path, change: dict, message: str) -> None:
    raw = yaml.safe_load(paths.REVIEW_FILE.read_text()) | change
    path = tmp_path / "review.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ReviewRulesError, match=message):
        load_review_rules(path)


def test_the_operator_and_the_steward_are_told_which_file_waits_and_why(tmp_path: Path, database_url: str) -> None:
    """`pop ingest` names the clean file that waits for a steward; `pop audit` says why."""
    inbox = tmp_path / "inbox" / "youth_survey"
    inbox.mkdir(parents=True)
    (inbox / "two.csv").write_text(survey(["KE", "KE"], 1), encoding="utf-8")
    more = {"inbox_dir": str(tmp_path / "inbox"), "review_path": str(paths.REVIEW_FILE)}
    with demo_settings(tmp_path / "outputs", database_url, **more):
        result = CliRunner().invoke(app, ["ingest", "--source", "youth_survey"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "⏸ 1 clean file(s) wait for a steward (two.csv)" in result.output
        audit = CliRunner().invoke(app, ["audit"], env={"COLUMNS": "300"})
        assert "hold for review" in audit.output and "adds 2 children" in " ".join(audit.output.split())
