"""The contracts that carry logic: a source's outcome from its batches, a run's totals and final status, the
warehouse checks' view and failure message; and that an outcome written as JSON reads back equal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from pop.contracts import (
    BatchStatus,
    BatchSummary,
    FailedExpectation,
    QualityOutcome,
    RunStatus,
    RunSummary,
    RunTotals,
    SourceOutcome,
    SourceStatus,
    SuiteOutcome,
)

AT = dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC)


def batch(
    batch_id: int, status: BatchStatus, rows: tuple[int, int, int] = (0, 0, 0), message: str | None = None
) -> BatchSummary:
    """A batch of `status` with (rows in, loaded, quarantined)."""
    rows_in, loaded, held = rows
    return BatchSummary(
        batch_id=batch_id,
        source_id="helpline_ke",
        run_id="r",
        original_name=f"{batch_id}.csv",
        sha256="a" * 64,
        size_bytes=10,
        landed_path=f"landing/{batch_id}.csv",
        received_at=AT,
        started_at=AT,
        finished_at=AT,
        duration_s=0.1,
        status=status,
        rows_in=rows_in,
        rows_loaded=loaded,
        rows_quarantined=held,
        message=message,
        duplicate_of=None,
        review_status="pending",
        corrects_batch_id=None,
        group="helplines_services",
        organisation="Childline Kenya",
        contact="data@example.org",
        failures=(),
    )


def quality(*failed: tuple[str, str, str | None]) -> QualityOutcome:
    suites = {suite for suite, _, _ in failed} | {"fact_youth_responses"}
    return QualityOutcome(
        success=not failed,
        suites=tuple(
            SuiteOutcome(
                suite=suite,
                success=all(s != suite for s, _, _ in failed),
                evaluated=10,
                failed=tuple(
                    FailedExpectation(expectation=e, column=c, observed=None, details={})
                    for s, e, c in failed
                    if s == suite
                ),
            )
            for suite in sorted(suites)
        ),
        data_docs=Path("reports/data_docs/index.html"),
    )


def test_a_source_is_ok_failed_or_without_new_files_by_its_batches() -> None:
    loaded = batch(1, BatchStatus.LOADED, (10, 9, 1))
    refused = batch(2, BatchStatus.FAILED, message="2.csv: missing column")
    assert SourceOutcome.of("s", "g", [loaded], files_seen=1).status == SourceStatus.OK
    assert SourceOutcome.of("s", "g", [], files_seen=3).status == SourceStatus.NO_NEW_FILES
    failed = SourceOutcome.of("s", "g", [loaded, refused], files_seen=2)
    assert (failed.status, failed.message, failed.files_seen) == (SourceStatus.FAILED, "2.csv: missing column", 2)
    stale = failed.failed_because("erratum E1 matches no row")
    assert stale.message == "2.csv: missing column; erratum E1 matches no row" and failed.message != stale.message


def test_run_totals_add_up_every_source() -> None:
    sources = [
        SourceOutcome.of("a", "g", [batch(1, BatchStatus.LOADED, (10, 9, 1)), batch(2, BatchStatus.DUPLICATE)], 2),
        SourceOutcome.of("b", "g", [batch(3, BatchStatus.FAILED, message="bad")], 1),
        SourceOutcome.of("c", "g", [], 4),
    ]
    assert RunTotals.of(sources) == RunTotals(
        files_seen=7, batches_new=3, rows_in=10, rows_loaded=9, rows_quarantined=1, failed_batches=1
    )


@pytest.mark.parametrize(
    ("failed_source", "failed_check", "status", "message"),
    [
        (False, False, RunStatus.COMPLETED, None),
        (True, False, RunStatus.FAILED, "Failed sources: b: bad"),
        (
            False,
            True,
            RunStatus.FAILED,
            "warehouse checks: 1 expectation(s) failed (fact_helpline_contacts: expect_x (channel)); "
            "see reports/data_docs/index.html",
        ),
    ],
)
def test_a_run_fails_when_a_source_or_a_warehouse_expectation_failed(
    failed_source: bool, failed_check: bool, status: RunStatus, message: str | None
) -> None:
    run = RunSummary(run_id="r", flow_run_name="brave-otter", started_at=AT, database="sqlite:///w.sqlite")
    sources = [
        SourceOutcome.of("a", "g", [batch(1, BatchStatus.LOADED, (10, 10, 0))], 1),
        SourceOutcome.of("b", "g", [batch(2, BatchStatus.FAILED, message="bad")] if failed_source else [], 1),
    ]
    checks = quality(("fact_helpline_contacts", "expect_x", "channel")) if failed_check else quality()
    finished = run.finished(sources, AT + dt.timedelta(minutes=2), checks.view(), discrepancies=3)
    assert (finished.status, finished.message) == (status, message)
    assert finished.totals == RunTotals.of(sources) and finished.discrepancies == 3
    assert (run.status, run.totals) == (RunStatus.RUNNING, RunTotals())  # the started run is unchanged


def test_the_quality_view_names_at_most_five_failed_expectations() -> None:
    failed = [("fact_tech_metrics", f"expect_{n}", None) for n in range(7)]
    view = quality(*failed).view()
    assert (view.success, view.failed, len(view.failed_expectations)) == (False, 7, 7)
    assert view.failed_expectations[0] == "fact_tech_metrics: expect_0"
    assert view.failure_message().count("expect_") == 5 and "; …)" in view.failure_message()
    assert quality().view().failure_message() is None


def test_a_run_written_as_json_reads_back_equal() -> None:
    run = RunSummary(run_id="r", flow_run_name=None, started_at=AT, database="sqlite:///w.sqlite")
    sources = [SourceOutcome.of("a", "g", [batch(1, BatchStatus.LOADED, (10, 9, 1))], 1)]
    finished = run.finished(sources, AT, quality(("fact_helpline_contacts", "expect_x", None)).view(), 2)
    text = finished.model_dump_json()
    assert RunSummary.model_validate_json(text) == finished
    assert '"started_at":"2024-03-01T09:30:00+00:00"' in text  # ISO 8601 with its offset, as before


def test_a_naive_timestamp_is_taken_as_utc_and_outcomes_are_frozen() -> None:
    naive = batch(1, BatchStatus.LOADED).model_copy(update={"received_at": dt.datetime(2024, 3, 1)})
    assert BatchSummary.model_validate(naive.model_dump()).received_at == dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    with pytest.raises(ValidationError):
        naive.status = BatchStatus.FAILED  # type: ignore[misc]
