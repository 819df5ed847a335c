"""What the steward's actions give back: a batch in detail, where an original batch's rows are now, and a
correction's outcome."""

from __future__ import annotations

from typing import Any

from pydantic import computed_field

from pop.contracts import BatchSummary, Contract, QuarantineStatus, RunResult, SourceOutcome


class Reconciliation(Contract):
    """Where every row of an original batch is now, following its corrections: loaded at first, loaded through a
    correction, still open (in the original or a correction), or dismissed."""

    rows_in: int
    loaded_first_time: int
    loaded_by_correction: int
    open: int
    dismissed: int
    combined: int = 0  # added up into another row of the file with the same key (same_key: sum)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accounted(self) -> int:
        """The rows accounted for; equal to rows_in when none is lost."""
        return self.loaded_first_time + self.loaded_by_correction + self.open + self.dismissed + self.combined

    def parts(self) -> list[tuple[str, int]]:
        """The terms of the sum, as a steward reads them; 'combined' only for a source that sums repeated keys."""
        terms = [
            ("loaded", self.loaded_first_time),
            ("loaded by correction", self.loaded_by_correction),
            ("still open", self.open),
            ("dismissed", self.dismissed),
        ]
        return terms + ([("combined into another row", self.combined)] if self.combined else [])

    def sentence(self) -> str:
        """'loaded 5 + loaded by correction 1 + still open 0 + dismissed 0'."""
        return " + ".join(f"{label} {n:,}" for label, n in self.parts())


class RowReason(Contract):
    """One reason a row was quarantined: the field, the check, the value as sent and the message for the sender."""

    field: str
    check: str
    value: str | None
    message: str


class QuarantinedRow(Contract):
    """A quarantined row: the row as sent, every reason, and where it stands."""

    quarantine_id: int
    row_number: int
    fields: str
    reasons: tuple[RowReason, ...]
    original: dict[str, Any]
    status: QuarantineStatus


class BatchDetails(Contract):
    """One batch for a steward: its summary, its quarantined rows, and (once loaded) where its rows are now."""

    batch: BatchSummary
    quarantined: tuple[QuarantinedRow, ...]
    reconciliation: Reconciliation | None


class CorrectionOutcome(Contract):
    """A corrected file taken back: its batch (None when this very file was taken before), the original batch's
    reconciliation, and the correction as its source's outcome in the run."""

    correction: BatchSummary | None
    reconciliation: Reconciliation
    source: SourceOutcome


class CorrectionResult(RunResult):
    """What the correction flow returns: its run, its reports and the correction's outcome."""

    outcome: CorrectionOutcome
