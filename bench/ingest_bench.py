"""Ingestion benchmark: a generated helpline-style file of N rows, ingested by the pipeline, next to a raw floor
(pandas read + pandera validation + bulk insert, no orchestration) on the same database, in the same run.
Each measurement runs in its own process so its peak RSS is its own. Prints seconds, ratios and peak RSS."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer

from pop import paths

app = typer.Typer(add_completion=False)
BENCH_DIR = paths.DEFAULT_OUTPUTS / "bench"
FLOOR_TABLE = "bench_floor_raw"
SQLITE_PREFIX = "pop-bench-"  # the temporary folder of each SQLite database a benchmark makes and drops


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generated_file(rows: int) -> Path:
    """The benchmark input (made once per size with the seeded generator, then reused)."""
    path = BENCH_DIR / "inbox" / "bench" / f"helplines_{rows}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "demo.generate", "helpline", "--rows", str(rows), "--out", str(path)],
            check=True,
            cwd=paths.ROOT,
        )
    return path


def raw_bulk_insert(conn, table: str, frame) -> None:  # type: ignore[no-untyped-def]
    """The plain way, independent of the pipeline's loader: COPY of to_csv text on PostgreSQL, executemany of
    column lists zipped into tuples on SQLite."""
    import io

    cols = ", ".join(frame.columns)
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
            for start in range(0, len(frame), 100_000):
                buffer = io.StringIO()
                frame.iloc[start : start + 100_000].to_csv(buffer, header=False, index=False)
                copy.write(buffer.getvalue())
        return
    cursor = raw.cursor()
    cursor.executemany(
        f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(frame.columns))})",
        zip(*[frame[c].tolist() for c in frame.columns], strict=True),
    )
    cursor.close()


def measure_floor(path: Path, url: str) -> dict:
    """Raw floor: read the whole CSV, validate it with a pandera schema, bulk insert it in one transaction."""
    import pandas as pd
    import pandera.pandas as pa
    from sqlalchemy import Column, Integer, MetaData, String, Table

    from pop.db import get_engine

    start = time.perf_counter()
    frame = pd.read_csv(path)
    schema = pa.DataFrameSchema(
        {
            "period": pa.Column(str),
            "country": pa.Column(str),
            "contact_type": pa.Column(str),
            "channel": pa.Column(str),
            "reason": pa.Column(str),
            "age_band": pa.Column(str),
            "gender": pa.Column(str),
            "contacts": pa.Column(int, pa.Check.ge(0)),
        }
    )
    schema.validate(frame, lazy=True)
    table = Table(
        FLOOR_TABLE, MetaData(), *[Column(c, String(60)) for c in frame.columns[:-1]], Column("contacts", Integer)
    )
    engine = get_engine(url)
    table.drop(engine, checkfirst=True)
    table.create(engine)
    with engine.begin() as conn:
        raw_bulk_insert(conn, FLOOR_TABLE, frame)
    seconds = time.perf_counter() - start
    table.drop(engine)
    return {"seconds": seconds, "rows": len(frame), "peak_rss_mb": peak_rss_mb()}


def measure_pipeline(path: Path, url: str, chunk_rows: int) -> dict:
    """The pipeline's ingest task for one file: land, read in chunks, convert, harmonise, validate, load."""
    from pop.contracts import BatchStatus, IncomingFile
    from pop.db import get_engine, upgrade
    from pop.registry import load_registry
    from tasks.ingest.batch import ingest_file
    from tasks.ingest.inbox import sha256_of
    from tasks.reference.dimensions import sync_dimensions

    registry = load_registry(paths.SOURCES_FILE)
    source = registry.get("helpline_bench")
    upgrade(url)
    with get_engine(url).begin() as conn:
        sync_dimensions(conn, registry)
    start = time.perf_counter()
    incoming = IncomingFile(path, sha256_of(path), path.stat().st_size)
    with tempfile.TemporaryDirectory() as landing:
        batch = ingest_file(
            source, incoming, database_url=url, landing_dir=Path(landing), chunk_rows=chunk_rows, run_id=None
        )
    seconds = time.perf_counter() - start
    assert batch and batch.status == BatchStatus.LOADED, batch
    return {
        "seconds": seconds,
        "rows": batch.rows_loaded,
        "quarantined": batch.rows_quarantined,
        "peak_rss_mb": peak_rss_mb(),
    }


@app.command()
def one(kind: str, path: Path, url: str, chunk_rows: int = 200_000) -> None:
    """Run one measurement in this process and print it as JSON (used by `main`)."""
    result = measure_floor(path, url) if kind == "floor" else measure_pipeline(path, url, chunk_rows)
    print(json.dumps(result))


def _in_subprocess(kind: str, path: Path, url: str, chunk_rows: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.ingest_bench", "one", kind, str(path), url, "--chunk-rows", str(chunk_rows)],
        check=True,
        capture_output=True,
        text=True,
        cwd=paths.ROOT,
        env={**os.environ, "PREFECT_LOGGING_LEVEL": "ERROR"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure(kind: str, path: Path, fresh, chunk_rows: int) -> dict:  # type: ignore[no-untyped-def]
    """One measurement on a new, empty database, which is dropped afterwards."""
    url = fresh()
    try:
        return _in_subprocess(kind, path, url, chunk_rows)
    finally:
        _drop(url)


def _drop(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        folder = Path(parsed.database).parent
        if folder.name.startswith(SQLITE_PREFIX):  # the whole folder: the file and its -wal and -shm beside it
            shutil.rmtree(folder, ignore_errors=True)
        return
    admin = parsed.set(database="postgres").render_as_string(hide_password=False)
    with create_engine(admin, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))


def _best(runs: list[dict]) -> dict:
    """The fastest run (timing noise on a shared machine only ever adds time), with the highest peak RSS seen."""
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def _fresh_sqlite() -> str:
    folder = Path(tempfile.mkdtemp(prefix=SQLITE_PREFIX))
    return f"sqlite:///{folder / 'bench.sqlite'}"


def _fresh_postgres(server: str) -> str:
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"pop_bench_{uuid.uuid4().hex[:8]}"
    with create_engine(server, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(server).set(database=name).render_as_string(hide_password=False)


@app.command()
def main(
    rows: list[int] = typer.Option([1_000_000, 5_000_000], "--rows"),
    chunk_rows: int = typer.Option(200_000, "--chunk-rows"),
    repeat: int = typer.Option(3, "--repeat", help="Runs of each measurement; the fastest counts."),
    postgres: str | None = typer.Option(os.environ.get("POP_TEST_POSTGRES_URL"), "--postgres"),
) -> None:
    """Floor vs pipeline for each size, on SQLite and (when a server URL is given) PostgreSQL."""
    backends = {"sqlite": _fresh_sqlite}
    if postgres:
        backends["postgresql"] = lambda: _fresh_postgres(postgres)
    print(f"best of {repeat} runs each; ratio = pipeline / floor")
    print(
        f"{'backend':<11} {'rows':>10} {'floor s':>8} {'pipeline s':>10} {'ratio':>6} {'floor MB':>9} "
        f"{'pipeline MB':>11}"
    )
    for n in rows:
        path = generated_file(n)
        for name, fresh in backends.items():
            runs: dict[str, list[dict]] = {"floor": [], "pipeline": []}
            for _ in range(repeat):  # interleaved, so that a slow spell of the machine weighs on both alike
                for kind in runs:
                    runs[kind].append(_measure(kind, path, fresh, chunk_rows))
            floor, pipeline = _best(runs["floor"]), _best(runs["pipeline"])
            ratio = pipeline["seconds"] / floor["seconds"]
            print(
                f"{name:<11} {n:>10,} {floor['seconds']:>8.2f} {pipeline['seconds']:>10.2f} {ratio:>5.2f}x "
                f"{floor['peak_rss_mb']:>9.0f} {pipeline['peak_rss_mb']:>11.0f}",
                flush=True,
            )


if __name__ == "__main__":
    app()
