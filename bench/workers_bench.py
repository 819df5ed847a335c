"""Scale-out benchmark: `pop ingest` as a process over an inbox of S sources, each sending one generated
helpline-style file of R rows, with the sources ingested side by side by 1, 2 and 4 workers (POP_TASK_WORKERS) of a
task runner (POP_TASK_RUNNER: thread, or dask), on SQLite and (given a server URL) PostgreSQL. Each measurement is a
new process on a new, empty warehouse. Prints the process's wall time, the run's own time (the ingest run's start
to finish in the warehouse: without the process's start and Prefect's), and both as ratios to the 1-worker run.

    python -m bench.workers_bench [--sources 8] [--rows 100000] [--runner thread --runner dask] [--postgres URL]
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer
import yaml

from bench.ingest_bench import BENCH_DIR, _drop, _fresh_postgres, _fresh_sqlite, generated_file
from pop import paths

app = typer.Typer(add_completion=False)
POP = Path(sys.executable).with_name("pop")


def multi_source_inbox(sources: int, rows: int) -> tuple[Path, Path]:
    """A registry of `sources` copies of the helpline_bench source and their inbox: each source's folder holds the
    generated file under a name of its own (a file is taken by one source only). Made once per shape, then reused."""
    folder = BENCH_DIR / f"workers_{sources}x{rows}"
    registry, inbox = folder / "sources.yaml", folder / "inbox"
    if registry.exists():
        return registry, inbox
    registered = yaml.safe_load(paths.SOURCES_FILE.read_text(encoding="utf-8"))["sources"]
    [template] = [s for s in registered if s["id"] == "helpline_bench"]
    data = generated_file(rows)
    entries = []
    for i in range(1, sources + 1):
        (inbox / f"s{i}").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data, inbox / f"s{i}" / f"helplines_s{i}.csv")
        entries.append({**template, "id": f"bench_s{i}", "files": f"s{i}/*.csv", "organisation": f"Bench network {i}"})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "no_errata.yaml").write_text("errata: []\n", encoding="utf-8")
    registry.write_text(yaml.safe_dump({"sources": entries}, sort_keys=False), encoding="utf-8")
    return registry, inbox


def run_ingest(registry: Path, inbox: Path, url: str, runner: str, workers: int) -> dict:
    """`pop ingest` in a new process on the warehouse at `url`: its wall time, the run's own time and its totals."""
    from sqlalchemy import text

    from pop.db import get_engine

    with tempfile.TemporaryDirectory(prefix="pop-bench-out-") as outputs:
        env = {
            **os.environ,
            "POP_REGISTRY_PATH": str(registry),
            "POP_INBOX_DIR": str(inbox),
            "POP_ERRATA_PATH": str(registry.parent / "no_errata.yaml"),
            "POP_OUTPUTS_DIR": outputs,
            "POP_DATABASE_URL": url,
            "POP_TASK_RUNNER": runner,
            "POP_TASK_WORKERS": str(workers),
            "POP_INBOX_SETTLE_SECONDS": "0",  # the inbox is made before the runs: its files are complete
            "PREFECT_LOGGING_LEVEL": "ERROR",
        }
        start = time.perf_counter()
        done = subprocess.run([str(POP), "ingest"], env=env, cwd=paths.ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"pop ingest exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    engine = get_engine(url)
    with engine.connect() as conn:
        started, finished = conn.execute(text("SELECT started_at, finished_at FROM ingest_runs")).one()
        rows_in, loaded, failed = conn.execute(
            text(
                "SELECT SUM(rows_in), SUM(rows_loaded), SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) FROM batches"
            )
        ).one()
    engine.dispose()
    run = dt.datetime.fromisoformat(str(finished)) - dt.datetime.fromisoformat(str(started))  # text on SQLite
    return {"wall": wall, "run": run.total_seconds(), "rows_in": rows_in, "rows_loaded": loaded, "failed": failed}


@app.command()
def main(
    sources: int = typer.Option(8, "--sources", help="Sources in the inbox, one file each."),
    rows: int = typer.Option(100_000, "--rows", help="Rows of each source's file."),
    workers: list[int] = typer.Option([1, 2, 4], "--workers"),
    runners: list[str] = typer.Option(["thread"], "--runner", help="thread and/or dask"),
    postgres: str | None = typer.Option(os.environ.get("POP_TEST_POSTGRES_URL"), "--postgres"),
) -> None:
    """Wall and run seconds of `pop ingest` for each backend, runner and number of workers; ratios to 1 worker."""
    registry, inbox = multi_source_inbox(sources, rows)
    backends = {"sqlite": _fresh_sqlite}
    if postgres:
        backends["postgresql"] = lambda: _fresh_postgres(postgres)
    print(f"{sources} sources x {rows:,} rows; {os.cpu_count()} cores; ratio = time / time with 1 worker")
    print(f"{'backend':<11} {'runner':<7} {'workers':>7} {'wall s':>7} {'ratio':>6} {'run s':>7} {'ratio':>6}")
    for backend, fresh in backends.items():
        for runner in runners:
            first: dict | None = None
            for n in workers:
                url = fresh()
                try:
                    result = run_ingest(registry, inbox, url, runner, n)
                finally:
                    _drop(url)
                assert result["rows_in"] == sources * rows and not result["failed"], result
                first = first or result
                assert result["rows_loaded"] == first["rows_loaded"], result  # the same warehouse, however many workers
                print(
                    f"{backend:<11} {runner:<7} {n:>7} {result['wall']:>7.1f} {result['wall'] / first['wall']:>5.2f}x "
                    f"{result['run']:>7.1f} {result['run'] / first['run']:>5.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    app()
