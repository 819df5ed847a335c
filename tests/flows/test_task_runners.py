"""Scale-out as a setting (issue 12, point 8): the demo ingested with one thread and with a Dask LocalCluster of two
worker processes, sources side by side, gives the same warehouse on SQLite and on PostgreSQL; a source whose task
does not complete is that source's failure only."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner
from sqlalchemy import DateTime, inspect, select

from flows.runners import FromSettings, gathered, task_runner
from pop.contracts import RunResult, SourceStatus, what_it_did
from pop.db import get_engine
from pop.models import Base
from pop.settings import Settings
from tests.conftest import BACKENDS, demo_settings, warehouse

# columns holding a batch id, and the one holding a quarantined row's id
BATCH_REFERENCES = {"batch_id", "duplicate_of", "corrects_batch_id", "resolved_by_batch_id"}
QUARANTINE_REFERENCES = {"quarantine_id", "corrects_quarantine_id"}
# what differs between two runs by nature: when, which run, how long, surrogate ids, the run's own records
RUN_COLUMNS = {"run_id", "flow_run_name", "duration_s", "action_id", "result_id", "discrepancy_id"}
RUN_TABLES = {"ingest_runs", "quality_results", "writer_lease"}
BATCH_IN_TEXT = re.compile(r'(\bbatch |"batch_id": )(\d+)')


def _run(outputs: Path, url: str, **runner: str) -> RunResult:
    from flows.ingest import ingest

    with demo_settings(outputs, url, **runner):
        state = ingest(return_state=True)
    result = what_it_did(state.result(raise_on_failure=False))
    assert isinstance(result, RunResult), result
    return result


def contents(url: str, outputs: Path) -> dict[str, list[tuple]]:
    """Every table's rows, as comparable across two ingests of the same files: batch ids may be assigned in another
    order when sources run side by side, so every batch reference is replaced by its batch's (source_id,
    original_name) and every quarantined row's id by (that key, row number); timestamps, durations, run ids and
    surrogate ids are left out, and landed paths are made relative to the outputs folder."""
    with get_engine(url).connect() as conn:
        batches = Base.metadata.tables["batches"]
        batch_key = {
            b: (s, name)
            for b, s, name in conn.execute(select(batches.c.batch_id, batches.c.source_id, batches.c.original_name))
        }
        quarantine = Base.metadata.tables["quarantine"]
        row_key = {
            q: (batch_key[b], n)
            for q, b, n in conn.execute(
                select(quarantine.c.quarantine_id, quarantine.c.batch_id, quarantine.c.row_number)
            )
        }
        found = {}
        for table in Base.metadata.sorted_tables:
            if table.name in RUN_TABLES:
                continue
            kept = [c for c in table.columns if c.name not in RUN_COLUMNS and not isinstance(c.type, DateTime)]

            def comparable(column: str, value: Any) -> Any:
                if value is None:
                    return None
                if column in BATCH_REFERENCES:
                    return batch_key[value]
                if column in QUARANTINE_REFERENCES:
                    return row_key[value]
                if column == "landed_path":
                    return str(Path(value).relative_to(outputs))
                if isinstance(value, str):  # a message or JSON naming a batch by its id
                    value = BATCH_IN_TEXT.sub(lambda m: f"{m[1]}{batch_key[int(m[2])]}", value)
                return value

            rows = conn.execute(select(table)).mappings().all()
            found[table.name] = sorted(
                (tuple((c.name, comparable(c.name, r[c.name])) for c in kept) for r in rows), key=repr
            )
        assert inspect(conn).get_table_names()  # the warehouse was migrated
    return found


@pytest.fixture(scope="module", params=BACKENDS)
def two_ingests(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The demo ingested into two fresh warehouses: sources one after another on one thread, and side by side on a
    Dask LocalCluster of two worker processes."""
    folder = tmp_path_factory.mktemp(f"runners-{request.param}")
    (folder / "thread").mkdir()
    (folder / "dask").mkdir()
    with warehouse(request.param, folder / "thread") as one, warehouse(request.param, folder / "dask") as other:
        thread = _run(folder / "thread" / "outputs", one, task_runner="thread", task_workers="1")
        dask = _run(folder / "dask" / "outputs", other, task_runner="dask", task_workers="2")
        yield {
            "thread": (thread, contents(one, folder / "thread" / "outputs")),
            "dask": (dask, contents(other, folder / "dask" / "outputs")),
        }


def test_thread_and_dask_runners_give_identical_warehouses(two_ingests: dict) -> None:
    (_, by_thread), (_, by_dask) = two_ingests["thread"], two_ingests["dask"]
    assert by_thread.keys() == by_dask.keys()
    for table in by_thread:
        only_dask = Counter(by_dask[table]) - Counter(by_thread[table])
        only_thread = Counter(by_thread[table]) - Counter(by_dask[table])
        assert (list(only_dask)[:5], list(only_thread)[:5]) == ([], []), table
        assert by_dask[table] == by_thread[table], table
    assert len(by_thread["batches"]) == 15  # every demo file, the re-send and the refused one included
    assert len(by_thread["quarantine"]) == 32
    assert sum(len(by_thread[t]) for t in by_thread if t.startswith("fact_")) > 4_000


def test_both_runs_report_the_same_outcomes_and_totals(two_ingests: dict) -> None:
    (thread, _), (dask, _) = two_ingests["thread"], two_ingests["dask"]

    def outcomes(result: RunResult) -> list[tuple]:
        return [(o.source_id, o.status, o.message, len(o.batches), o.files_seen) for o in result.run.sources]

    assert outcomes(dask) == outcomes(thread)
    assert dask.run.totals == thread.run.totals
    assert dask.run.status == thread.run.status
    assert thread.run.totals.batches_new == 15


def test_the_settings_name_the_runner() -> None:
    threads = task_runner(Settings(task_runner="thread", task_workers=3))
    assert isinstance(threads, ThreadPoolTaskRunner) and threads._max_workers == 3
    local = task_runner(Settings(task_runner="dask", task_workers=4))
    assert isinstance(local, DaskTaskRunner) and local.address is None
    assert local.cluster_kwargs["n_workers"] == 4 and local.cluster_kwargs["processes"] is True
    remote = task_runner(Settings(task_runner="dask", dask_address="tcp://10.0.0.5:8786"))
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://10.0.0.5:8786"
    with pytest.raises(ValueError, match="task_runner"):
        Settings(task_runner="ray")


def test_the_flow_takes_the_runner_of_the_settings_when_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.ingest import ingest
    from pop.settings import reset_settings

    assert isinstance(ingest.task_runner, FromSettings)
    monkeypatch.setenv("POP_TASK_RUNNER", "dask")
    monkeypatch.setenv("POP_TASK_WORKERS", "3")
    reset_settings()
    try:
        runner = ingest.task_runner.duplicate()
    finally:
        monkeypatch.delenv("POP_TASK_RUNNER")
        reset_settings()
    assert isinstance(runner, DaskTaskRunner) and runner.cluster_kwargs["n_workers"] == 3
    assert isinstance(ingest.task_runner.duplicate(), ThreadPoolTaskRunner)


def test_a_task_that_does_not_complete_fails_its_source_only() -> None:
    """A source's task that raises past its own error handling (here: it is given no source at all) becomes that
    source's failed outcome, with the reason; the other sources' outcomes are theirs."""
    from prefect import flow

    from pop.registry import load_registry
    from tasks.ingest.prefect_tasks import ingest_source
    from tests.conftest import DEMO_INBOX, DEMO_REGISTRY

    sources = load_registry(DEMO_REGISTRY).sources[:2]

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def fan_out(url: str, landing: str) -> list:
        futures = [
            ingest_source.submit(None, DEMO_INBOX, url, Path(landing), 1000),  # raises: no source to ingest
            ingest_source.submit(sources[1], Path(landing) / "empty-inbox", url, Path(landing), 1000),
        ]
        return gathered(futures, sources)

    outcomes = fan_out("sqlite:///:memory:", "/nonexistent/landing")
    assert [o.source_id for o in outcomes] == [s.id for s in sources]
    assert outcomes[0].status == SourceStatus.FAILED
    assert "did not complete (AttributeError" in outcomes[0].message
    assert outcomes[1].status == SourceStatus.NO_NEW_FILES
    json.dumps([o.model_dump(mode="json") for o in outcomes])  # plain data, as the run record keeps them


def test_two_files_bringing_the_same_new_period_at_once_neither_wait_nor_fail(tmp_path: Path) -> None:
    """PostgreSQL: two files' long transactions, open at the same time, both refer to a period and an age band the
    warehouse lacks. The second neither waits for the first to commit (a lock timeout here) nor fails on a unique
    violation, and each row is recorded once."""
    import pandas as pd
    from sqlalchemy import text

    from pop.registry import load_registry
    from tasks.reference.dimensions import add_referenced_rows
    from tests.conftest import DEMO_REGISTRY

    schema = load_registry(DEMO_REGISTRY).get("helpline_ke").schema
    frame = pd.DataFrame(
        {
            "period": ["2031-Q1"],
            "period_start": [pd.Timestamp("2031-01-01")],
            "period_end": [pd.Timestamp("2031-03-31")],
            "period_granularity": ["quarter"],
            "age_band": ["13-14"],
            "age_min": pd.array([13], dtype="Int64"),
            "age_max": pd.array([14], dtype="Int64"),
            "pop_age_band": ["13-15"],
        }
    )
    with warehouse("postgresql", tmp_path) as url:
        engine = get_engine(url)
        with engine.connect() as first, engine.connect() as second:
            first.begin()
            second.begin()
            second.execute(text("SET LOCAL lock_timeout = '3s'"))
            add_referenced_rows(first, frame, schema)  # the first file's transaction stays open
            add_referenced_rows(second, frame, schema)
            second.commit()
            first.commit()
        with engine.connect() as conn:
            periods = conn.execute(text("SELECT period, period_end FROM dim_period WHERE period = '2031-Q1'")).all()
            band = "SELECT age_min, age_max FROM dim_source_age_band WHERE age_band = '13-14'"
            bands = conn.execute(text(band)).all()
        assert [(p, str(end)) for p, end in periods] == [("2031-Q1", "2031-03-31")]
        assert [tuple(b) for b in bands] == [(13, 14)]
