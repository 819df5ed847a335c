"""Snapshot benchmark: a warehouse holding the demo evidence plus N generated helpline fact rows (all approved),
and the time to compute every indicator and make the whole snapshot, next to two baselines measured in the same
run on the same database: one scan of the fact table in the database (the least any in-database indicator must
do) and pulling the rows into pandas to compute one indicator there (what computing in the database avoids)."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import typer

from bench.ingest_bench import _drop, _fresh_postgres, _fresh_sqlite, generated_file
from pop import paths

app = typer.Typer(add_completion=False)
SCAN_SQL = "SELECT COUNT(*), SUM(contacts) FROM approved_fact_helpline_contacts"
PULL_SQL = (
    "SELECT f.country_iso3, f.period, f.channel, f.contacts FROM approved_fact_helpline_contacts f "
    "WHERE f.channel NOT IN ('all', 'unknown')"
)


def fill_warehouse(url: str, bench_file: Path) -> int:
    """The demo inbox and the generated file ingested by the pipeline's task, every batch approved; fact rows."""
    from sqlalchemy import text

    from pop.contracts import IncomingFile
    from pop.db import get_engine, upgrade
    from pop.registry import load_registry
    from tasks.ingest.batch import ingest_file
    from tasks.ingest.inbox import discover_files, sha256_of
    from tasks.reference.dimensions import sync_dimensions

    registry = load_registry(paths.SOURCES_FILE)
    upgrade(url)
    with get_engine(url).begin() as conn:
        sync_dimensions(conn, registry)
    with tempfile.TemporaryDirectory() as landing:
        for source in registry.sources:
            if source.id == "helpline_bench":  # this size's file only, not every generated file beside it
                files = [IncomingFile(bench_file, sha256_of(bench_file), bench_file.stat().st_size)]
            else:
                files = discover_files(source, paths.DEMO_INBOX)
            for incoming in files:
                ingest_file(
                    source, incoming, database_url=url, landing_dir=Path(landing), chunk_rows=200_000, run_id=None
                )
    with get_engine(url).begin() as conn:
        conn.execute(text("UPDATE batches SET review_status = 'approved' WHERE status = 'loaded'"))
        return sum(
            conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in (
                "fact_helpline_contacts",
                "fact_youth_responses",
                "fact_service_provider_reports",
                "fact_tech_metrics",
                "fact_protection_submissions",
            )
        )


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """The fastest of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(url: str, repeat: int) -> dict[str, float]:
    """Seconds for the scan floor, the pandas pull, every indicator, and the whole snapshot."""
    import pandas as pd
    from sqlalchemy import text

    from pop.db import get_engine
    from tasks.snapshot.build import build_snapshot
    from tasks.snapshot.indicators import compute_indicators, load_indicators
    from tasks.snapshot.render import write_snapshot

    engine = get_engine(url)
    indicators = load_indicators()

    def scan() -> None:
        with engine.connect() as conn:
            conn.execute(text(SCAN_SQL)).one()

    def pull() -> None:
        with engine.connect() as conn:
            frame = pd.read_sql(text(PULL_SQL), conn)
        frame.groupby(["country_iso3", "channel"])["contacts"].sum()

    def indicators_only() -> None:
        with engine.connect() as conn:
            compute_indicators(conn, indicators)

    def whole() -> None:
        with tempfile.TemporaryDirectory() as out:
            doc = build_snapshot(url, dt.date(2024, 3, 1), Path(out))
            write_snapshot(doc, Path(out), paths.INDICATORS)

    return {
        "scan": best_of(repeat, scan),
        "pull": best_of(repeat, pull),
        "indicators": best_of(repeat, indicators_only),
        "snapshot": best_of(repeat, whole),
    }


@app.command()
def main(
    rows: list[int] = typer.Option([1_000_000, 5_000_000], "--rows"),
    repeat: int = typer.Option(3, "--repeat", help="Runs of each measurement; the fastest counts."),
    postgres: str | None = typer.Option(None, "--postgres", envvar="POP_TEST_POSTGRES_URL"),
) -> None:
    """Snapshot time against warehouse size, on SQLite and (when a server URL is given) PostgreSQL."""
    backends: dict[str, Callable[[], str]] = {"sqlite": _fresh_sqlite}
    if postgres:
        backends["postgresql"] = lambda: _fresh_postgres(postgres)
    print(
        f"best of {repeat} runs each; scan = one in-database scan of the helpline facts; pull = the same rows "
        "into pandas for one indicator"
    )
    print(
        f"{'backend':<11} {'fact rows':>10} {'scan s':>7} {'pull s':>7} {'indicators s':>12} {'snapshot s':>10} "
        f"{'snapshot/scan':>13} {'pull/snapshot':>13}"
    )
    for n in rows:
        path = generated_file(n)
        for name, fresh in backends.items():
            url = fresh()
            try:
                facts = fill_warehouse(url, path)
                t = measure(url, repeat)
            finally:
                _drop(url)
            print(
                f"{name:<11} {facts:>10,} {t['scan']:>7.2f} {t['pull']:>7.2f} {t['indicators']:>12.2f} "
                f"{t['snapshot']:>10.2f} {t['snapshot'] / t['scan']:>12.1f}x {t['pull'] / t['snapshot']:>12.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    app()
