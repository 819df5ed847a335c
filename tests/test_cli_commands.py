"""What the `pop` command does for whoever types it, on SQLite and PostgreSQL: one as-of date for every command,
wrong ids answered with the nearest right one, the open quarantined rows listed with their ids, help on every option,
and a registry whose defaults or value mappings are not codes refused before anything runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import typer
import yaml
from typer.testing import CliRunner

from cli.main import app
from pop.settings import reset_settings
from tests.conftest import registry_settings
from tests.helpers import HEADER, helpline_source, write_file
from tests.tasks.ingest.test_ingest_file import GOOD_ROWS
from tests.tasks.steward.test_steward import DEFECTIVE

runner = CliRunner()


def pop(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def helpline_env(tmp_path: Path, database_url: str) -> Iterator[Path]:
    """Settings for a registry of one helpline source (`test_helpline`) whose files arrive in inbox/hl."""
    helpline_source(tmp_path)
    with registry_settings(tmp_path, database_url, tmp_path / "sources.yaml"):
        yield tmp_path


def test_one_as_of_date_for_every_command(helpline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--as-of is POP_AS_OF for the whole command: the periods judged on ingest and the snapshot's date; it ends with
    the command; POP_AS_OF alone dates the snapshot too."""
    monkeypatch.delenv("POP_AS_OF", raising=False)
    write_file(helpline_env, "q.csv", "\n".join([HEADER, GOOD_ROWS[0], GOOD_ROWS[1].replace("2023-Q1", "2024-Q2")]))
    ingested = pop("ingest", "--source", "test_helpline", "--as-of", "2024-03-01")
    assert "Rows in 2 = loaded 1 + quarantined 1" in ingested
    assert "POP_AS_OF" not in os.environ
    shown = pop("batch", "show", "1")
    assert "future_period" in shown and "had not begun by 2024-03-01" in shown

    write_file(helpline_env, "q2.csv", "\n".join([HEADER, GOOD_ROWS[2].replace("2023-Q1", "2024-Q2")]))
    assert "Rows in 1 = loaded 1 + quarantined 0" in pop("ingest", "--as-of", "2024-06-01")

    assert "Snapshot 2024-04-02-" in pop("snapshot", "--as-of", "2024-04-02")
    monkeypatch.setenv("POP_AS_OF", "2024-03-01")
    reset_settings()
    assert "Snapshot 2024-03-01-" in pop("snapshot")
    assert "Snapshot 2024-04-03-" in pop("snapshot", "--as-of", "2024-04-03")
    assert os.environ["POP_AS_OF"] == "2024-03-01"  # as it was before the command
    assert "Invalid value for '--as-of'" in pop("snapshot", "--as-of", "2024-13-01", code=2)


def test_wrong_ids_are_answered_with_the_nearest(helpline_env: Path) -> None:
    assert "there is no batch 1; there is none yet" in pop("batch", "show", "1", code=2)
    nearest = "no source 'test_helpine'; did you mean 'test_helpline'?"
    assert nearest in pop("ingest", "--source", "test_helpine", code=2)
    assert nearest in pop("template", "test_helpine", code=2)
    assert nearest in pop("quarantine", "list", "--source", "test_helpine", code=2)
    assert "no source 'zzz' (`pop sources` lists them)" in pop("ingest", "--source", "zzz", code=2)

    write_file(helpline_env, "q1.csv", "\n".join([HEADER, *DEFECTIVE]) + "\n")
    pop("ingest")
    newest = "there is no batch 999; the newest is 1 (`pop batches` lists them)"
    for command in (["batch", "show"], ["batch", "approve"], ["batch", "export"], ["quarantine", "list", "--batch"]):
        assert newest in " ".join(pop(*command, "999", code=2).split()), command
    assert "there is no quarantined row 999; the newest is 3" in pop(
        "quarantine", "dismiss", "999", "--reason", "x", code=2
    )
    assert "did you mean 'unknown_country'?" in pop("quarantine", "list", "--check", "unknown_cuntry", code=2)


def test_the_open_quarantined_rows_with_their_ids(helpline_env: Path) -> None:
    write_file(helpline_env, "q1.csv", "\n".join([HEADER, *DEFECTIVE]) + "\n")
    pop("ingest")
    every = pop("quarantine", "list")
    for words in ("unknown_country (Narnia)", "not_a_whole_number (twelve)", "duplicate_key", "dismiss ID"):
        assert words in every
    narnia = pop("quarantine", "list", "--check", "unknown_country", "--source", "test_helpline")
    assert "Narnia" in narnia and "twelve" not in narnia
    assert "1 of 3 shown" in pop("quarantine", "list", "--batch", "1", "--limit", "1")
    pop("quarantine", "dismiss", "3", "--reason", "sent twice; the helpline confirmed", "--by", "amina")
    assert "duplicate_key" not in pop("quarantine", "list")
    assert "No open quarantined row matches." in pop("quarantine", "list", "--check", "duplicate_key")

    shown = pop("batch", "show", "1")  # what the steward can do, apart from what the sender is told
    assert "What you can do" in shown and "values: country:" in shown and "decimal: ','" in shown


def options_of(command: click.Command, path: str = "pop") -> Iterator[tuple[str, click.Parameter]]:
    """Every parameter of every command, named by its command line."""
    for param in command.params:
        yield path, param
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from options_of(sub, f"{path} {name}")


def test_every_option_and_argument_has_help() -> None:
    missing = [
        f"{path} {param.name}"
        for path, param in options_of(typer.main.get_command(app))
        if param.name != "help" and not getattr(param, "help", None)
    ]
    assert missing == []


def test_sources_refuses_defaults_and_mappings_that_are_not_codes(tmp_path: Path) -> None:
    """The registry is checked at load, so `pop sources` and `pop run` refuse it alike, before anything runs."""
    helpline_source(tmp_path)
    registry = tmp_path / "sources.yaml"
    [entry] = yaml.safe_load(registry.read_text(encoding="utf-8"))["sources"]
    entry["values"] = {"channel": {"TEL": "phon"}}
    registry.write_text(yaml.safe_dump({"sources": [entry]}), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'never.sqlite'}"
    with registry_settings(tmp_path, url, registry):
        said = "values: channel: 'TEL': 'phon' is not a code of vocabulary channel; did you mean 'phone'?"
        assert said in " ".join(pop("sources", code=2).split())
        assert said in " ".join(pop("run", code=2).split())
    assert not (tmp_path / "never.sqlite").exists()
