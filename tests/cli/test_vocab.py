"""`pop vocab` as a steward uses it, on the demo data (SQLite and PostgreSQL): the compilation's unknown company waits
in quarantine; accepting it loads its row without a resend, the audit trail says who and why, and the steward pages
list the names still waiting."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from tests.test_cli import pop


def test_a_steward_accepts_a_name_and_its_row_loads(pop_env: Path) -> None:
    pop("ingest", "--source", "tech_transparency")
    waiting = pop("vocab", "list")
    assert "Acme Social" in waiting and "company" in waiting and "tech_transparency" in waiting

    accepted = pop("vocab", "accept", "Acme Social", "--reason", "a provider in NCMEC's list", "--by", "amina")
    assert "Company 'Acme Social' stands for 'acme_social'." in accepted
    assert "loaded 1, back in quarantine 0" in accepted
    assert "+ loaded by correction 1 + still open" in accepted
    assert "Steward pages updated" in accepted

    assert "No row waits on a name." in pop("vocab", "list")
    trail = pop("audit")
    assert "vocab_accept" in trail and "a provider in NCMEC's list" in trail
    index = (pop_env / "reports" / "index.html").read_text(encoding="utf-8")
    assert "Names waiting for a steward" in index and "Acme Social" not in index.split('id="names"')[1].split("<h2")[0]


def test_a_decision_that_cannot_be_taken_says_why(pop_env: Path) -> None:
    result = CliRunner().invoke(app, ["vocab", "map", "Google", "--to", "nothing", "--kind", "platform"])
    assert result.exit_code == 2 and "'nothing' is not a platform code" in result.output
