"""What the stages hand each other: statuses as StrEnums and outcomes as frozen models, serialised once where they
leave the program (JSON reports, Prefect results, stored summaries). A StrEnum equals the word stored in the
warehouse, so SQL and stored data read the same."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer


@dataclass(frozen=True)
class IncomingFile:
    """A file found in a source's inbox folder: where it is, its checksum and its size, and (when found by the inbox)
    what it was on disk as it was hashed: (device, inode, size, mtime_ns), for landing to check it has not changed."""

    path: Path
    sha256: str
    size_bytes: int
    fingerprint: tuple[int, int, int, int] | None = None


# --- statuses -----------------------------------------------------------------------------------------------------


class BatchStatus(StrEnum):
    """Where a file's batch stands: being read, loaded (all or nothing), refused, or a re-send of another."""

    PROCESSING = "processing"
    LOADED = "loaded"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    # its run stopped before the file's transaction committed: nothing of it is in the warehouse, and the file is
    # read again when it is seen next
    INTERRUPTED = "interrupted"


class ReviewStatus(StrEnum):
    """A steward's decision on a loaded batch; only approved batches feed snapshots."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class QuarantineStatus(StrEnum):
    """A quarantined row: still held, loaded through a correction, sent again still wrong, or closed by a steward."""

    OPEN = "open"
    RESOLVED = "resolved"
    RESUBMITTED = "resubmitted"
    DISMISSED = "dismissed"
    COMBINED = "combined"  # added up into another row of its file with the same key (a source's same_key: sum)


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CRASHED = "crashed"  # its process stopped before it finished (closed by the next run that writes)


class SourceStatus(StrEnum):
    """A source's outcome in one run."""

    OK = "ok"
    FAILED = "failed"
    NO_NEW_FILES = "no_new_files"


class NotTaken(StrEnum):
    """Why a file in a source's inbox folder was not taken in a run."""

    IGNORED = "ignored"  # hidden, temporary, a lock or a completion marker: never data, never taken
    WAITING = "waiting"  # still being written, or its completion marker not there yet: taken on a later run
    REFUSED = "refused"  # not a regular file inside the inbox, or a name that cannot be kept: someone must fix it


class DiscrepancyStatus(StrEnum):
    """A cross-source discrepancy: new, seen by a steward, or no longer found."""

    OPEN = "open"
    REVIEWED = "reviewed"
    RESOLVED = "resolved"


# --- the shape every outcome shares ---------------------------------------------------------------------------------


class Contract(BaseModel):
    """An outcome handed between stages: immutable, with exactly the fields it declares."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _utc_if_naive(moment: dt.datetime) -> dt.datetime:
    # SQLite gives timestamps back without their zone; every timestamp the warehouse stores is UTC
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


Timestamp = Annotated[
    dt.datetime, AfterValidator(_utc_if_naive), PlainSerializer(dt.datetime.isoformat, return_type=str)
]
"""An aware datetime, written as ISO 8601 text."""


# --- batches, sources and runs ------------------------------------------------------------------------------------


class FailedCheck(Contract):
    """A check some rows of a file failed: the field (and the sender's column), how many rows, example values, their
    row numbers in the sent file (the first few) and what to fix."""

    column: str
    sender_column: str | None
    check: str
    rows: int
    examples: tuple[str, ...]
    row_numbers: tuple[int, ...]
    hint: str

    @property
    def more_rows(self) -> int:
        """How many failing rows have no row number listed."""
        return max(self.rows - len(self.row_numbers), 0)


class BatchSummary(Contract):
    """A batch as the steward reports show it: its record, its source's group, organisation and contact, and the
    checks its rows failed."""

    batch_id: int
    source_id: str
    run_id: str | None
    original_name: str
    sha256: str
    size_bytes: int
    landed_path: str
    received_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_s: float | None
    status: BatchStatus
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    message: str | None
    duplicate_of: int | None
    review_status: ReviewStatus
    corrects_batch_id: int | None
    group: str
    organisation: str
    contact: str
    failures: tuple[FailedCheck, ...]


class IgnoredFile(Contract):
    """A file (or folder, link, ...) in a source's inbox folder that was not taken: its name as shown (relative to the
    inbox, odd characters escaped), whether it is ignored, waits or is refused, and why."""

    name: str
    verdict: NotTaken
    reason: str


class SourceOutcome(Contract):
    """One source in one run: its status, why it failed, the batches of its new files, how many files it had, and
    the entries of its inbox folder it did not take (with why)."""

    source_id: str
    group: str
    status: SourceStatus
    message: str | None = None
    batches: tuple[BatchSummary, ...] = ()
    files_seen: int = 0
    ignored: tuple[IgnoredFile, ...] = ()

    @classmethod
    def of(
        cls,
        source_id: str,
        group: str,
        batches: Sequence[BatchSummary],
        files_seen: int = 0,
        ignored: Sequence[IgnoredFile] = (),
    ) -> SourceOutcome:
        """The outcome its new batches give: failed when one failed or an entry was refused (their messages
        joined), no_new_files when there is no new batch, else ok."""
        problems = [b.message or "" for b in batches if b.status == BatchStatus.FAILED]
        problems += [f"not taken: {f.name}: {f.reason}" for f in ignored if f.verdict == NotTaken.REFUSED]
        if problems:
            status, message = SourceStatus.FAILED, "; ".join(problems)
        else:
            status, message = (SourceStatus.OK if batches else SourceStatus.NO_NEW_FILES), None
        return cls(
            source_id=source_id,
            group=group,
            status=status,
            message=message,
            batches=tuple(batches),
            files_seen=files_seen,
            ignored=tuple(ignored),
        )

    def failed_because(self, problem: str) -> SourceOutcome:
        """This outcome failed, with `problem` added to its message."""
        message = "; ".join(filter(None, [self.message, problem]))
        return self.model_copy(update={"status": SourceStatus.FAILED, "message": message})


class RunTotals(Contract):
    """A run's counts over every source: files seen, new batches, rows in, loaded and quarantined, failed files."""

    files_seen: int = 0
    batches_new: int = 0
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    failed_batches: int = 0

    @classmethod
    def of(cls, sources: Sequence[SourceOutcome]) -> RunTotals:
        batches = [b for s in sources for b in s.batches]
        return cls(
            files_seen=sum(s.files_seen for s in sources),
            batches_new=len(batches),
            rows_in=sum(b.rows_in for b in batches),
            rows_loaded=sum(b.rows_loaded for b in batches),
            rows_quarantined=sum(b.rows_quarantined for b in batches),
            failed_batches=sum(b.status == BatchStatus.FAILED for b in batches),
        )


class FailedExpectation(Contract):
    """A warehouse expectation that did not hold: its type, column(s), what was observed, the details, and where it
    failed in words (the sources, batches and rows, or the overdue sources)."""

    expectation: str
    column: str | None
    observed: Any
    details: dict[str, Any]
    where: str | None = None

    def named(self, suite: str) -> str:
        """'suite: expectation (column) — where'."""
        column = f" ({self.column})" if self.column else ""
        return f"{suite}: {self.expectation}{column}" + (f" — {self.where}" if self.where else "")


class SuiteOutcome(Contract):
    """One suite of the warehouse checks: whether it passed, how many expectations ran, and the failed ones."""

    suite: str
    success: bool
    evaluated: int
    failed: tuple[FailedExpectation, ...]


class QualityView(Contract):
    """What a run and the steward index show of the warehouse checks."""

    success: bool
    failed: int
    failed_expectations: tuple[str, ...]
    data_docs: Path

    def failure_message(self) -> str | None:
        """A failing expectation never passes silently: the run's message names the failed expectations."""
        if self.success:
            return None
        shown = "; ".join(self.failed_expectations[:5]) + ("; …" if self.failed > 5 else "")
        return f"warehouse checks: {self.failed} expectation(s) failed ({shown}); see {self.data_docs}"


class QualityOutcome(Contract):
    """The warehouse checks (Great Expectations): every suite's outcome and where the Data Docs are."""

    success: bool
    suites: tuple[SuiteOutcome, ...]
    data_docs: Path

    def view(self) -> QualityView:
        failed = [f.named(s.suite) for s in self.suites for f in s.failed]
        return QualityView(
            success=self.success, failed=len(failed), failed_expectations=tuple(failed), data_docs=self.data_docs
        )


class RunSummary(Contract):
    """One run that ingests: per source outcome, totals, the warehouse checks, how many cross-source discrepancies
    are open, and its final status. Stored as ingest_runs.summary_json."""

    run_id: str
    flow_run_name: str | None
    started_at: Timestamp
    database: str
    sources: tuple[SourceOutcome, ...] = ()
    status: RunStatus = RunStatus.RUNNING
    message: str | None = None
    finished_at: Timestamp | None = None
    totals: RunTotals = RunTotals()
    quality: QualityView | None = None
    discrepancies: int | None = None
    # what runs that died had left and this run closed (tasks/ledger/lease.py): crashed runs, interrupted batches
    recovered: tuple[str, ...] = ()

    def finished(
        self,
        sources: Sequence[SourceOutcome],
        at: dt.datetime,
        quality: QualityView | None = None,
        discrepancies: int | None = None,
    ) -> RunSummary:
        """The run with its sources, totals and final status: failed when a source or a warehouse expectation
        failed, with a message naming each."""
        failed = [s for s in sources if s.status == SourceStatus.FAILED]
        problems = [
            ("Failed sources: " + "; ".join(f"{s.source_id}: {s.message}" for s in failed)) if failed else None,
            quality.failure_message() if quality else None,
        ]
        message = "; ".join(p for p in problems if p) or None
        return self.model_copy(
            update={
                "sources": tuple(sources),
                "totals": RunTotals.of(sources),
                "status": RunStatus.FAILED if message else RunStatus.COMPLETED,
                "message": message,
                "finished_at": at,
                "quality": quality,
                "discrepancies": discrepancies,
            }
        )


class Discrepancy(Contract):
    """Numbers from different sources that do not agree: for stewards to review with the senders, never a load
    failure. `details` holds the numbers side by side."""

    check_id: str
    title: str
    subject: str
    details: dict[str, Any]
    status: DiscrepancyStatus


class ReportPaths(Contract):
    """The steward reports a run wrote: the index of every batch, and the run's own page and JSON."""

    index: Path
    run_html: Path
    run_json: Path


class RunFailedError(Exception):
    """The data of a flow's Failed state: the failure as an exception, which Prefect raises where it expects one (a
    deployment's process), holding what the run did (`result`) for those who read it (the CLI, tests)."""

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result

    def __reduce__(self) -> tuple[type[RunFailedError], tuple[str, Any]]:
        return type(self), (str(self), self.result)


def what_it_did(outcome: object) -> object:
    """What a flow run gave back (`state.result(raise_on_failure=False)`): a failed run's result as a completed
    run's, any other failure as it is."""
    return outcome.result if isinstance(outcome, RunFailedError) else outcome


class RunResult(Contract):
    """What a flow that ingests returns: its run and where its reports are."""

    run: RunSummary
    reports: ReportPaths
