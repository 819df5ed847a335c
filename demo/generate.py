"""Seeded, deterministic demo data: `python -m demo.generate demo --out demo/inbox` writes the bundled inbox and its
ground truth; `python -m demo.generate helpline --rows 1000000 --out PATH.csv` writes a large clean benchmark file."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from demo.bench import write_helpline_bench
from demo.common import GroundTruth
from demo.community import write_community
from demo.helplines import write_helplines
from demo.providers import write_providers
from demo.survey import write_survey
from demo.tech import write_tech

DEMO_SEED = 20240611
SOURCE_FOLDERS = (
    "helpline_ke",
    "helpline_br",
    "helpline_ph",
    "helpline_de",
    "youth_survey",
    "sp_network",
    "sp_portal",
    "tech_transparency",
    "community_submissions",
)

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def write_demo(inbox: Path, expected: Path, seed: int = DEMO_SEED) -> GroundTruth:
    """Write every demo source under `inbox` (replacing earlier demo folders) and the ground truth to `expected`."""
    for folder in SOURCE_FOLDERS:
        shutil.rmtree(inbox / folder, ignore_errors=True)
    truth = GroundTruth()
    write_helplines(inbox, truth, seed)
    write_survey(inbox, truth, seed)
    write_providers(inbox, truth, seed)
    write_tech(inbox, truth, seed)
    write_community(inbox, truth, seed)
    expected.parent.mkdir(parents=True, exist_ok=True)
    expected.write_text(truth.to_yaml(), encoding="utf-8")
    return truth


@app.command()
def demo(
    out: Path = typer.Option(Path("demo/inbox"), "--out", help="Inbox folder to write the demo sources to."),
    expected: Path = typer.Option(
        None, "--expected", help="Where to write the ground truth (default: OUT/../expected_defects.yaml)."
    ),
    seed: int = typer.Option(DEMO_SEED, "--seed", help="Seed (the bundled files use the default)."),
) -> None:
    """Write the bundled demo inbox and expected_defects.yaml."""
    truth = write_demo(out, expected or out.parent / "expected_defects.yaml", seed)
    typer.echo(
        f"wrote {sum(len(f) for f in truth.counts.values()) + len(truth.files)} files to {out}; "
        f"{len(truth.rows)} seeded row defects, {len(truth.files)} file-level outcomes"
    )


@app.command()
def helpline(
    rows: int = typer.Option(..., "--rows", help="Number of data rows."),
    out: Path = typer.Option(..., "--out", help="CSV file to write."),
    seed: int = typer.Option(2024, "--seed", help="Seed for the counts and the key order."),
    chunk_rows: int = typer.Option(100_000, "--chunk-rows", help="Rows generated and written at a time."),
) -> None:
    """Write a large helpline CSV (columns of registry source helpline_bench), clean and with unique keys."""
    write_helpline_bench(out, rows, seed, chunk_rows)
    typer.echo(f"wrote {rows:,} rows to {out}")


if __name__ == "__main__":
    app()
