"""The snapshot as a document: what build.py makes, render.py writes (snapshot.json is this document, serialised
once) and the next snapshot compares with; and the summary the flow and the CLI show."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from pop.contracts import Contract, ReviewStatus

# --- what the snapshot rests on -----------------------------------------------------------------------------------


class BasisBatch(Contract):
    """An approved batch the snapshot reads: its file and checksum (not its rows: a file's row count can be a count
    of children, and the warehouse keeps it)."""

    batch_id: int
    source_id: str
    original_name: str
    sha256: str


class LeftOutBatch(Contract):
    """A loaded batch not approved (awaiting review, or rejected): left out of the snapshot, and said so."""

    batch_id: int
    source_id: str
    original_name: str
    review_status: ReviewStatus


class SnapshotMeta(Contract):
    """Which snapshot: its id and fingerprint, date, the batches it rests on and leaves out, and the disclosure
    rules it applied."""

    id: str
    format: int
    as_of: dt.date
    fingerprint: str
    title: str
    approved_batches: tuple[BasisBatch, ...]
    pending_batches: tuple[LeftOutBatch, ...]
    disclosure: dict[str, Any]


# --- coverage and indicators -------------------------------------------------------------------------------------


class Country(Contract):
    code: str
    name: str


class SourceCoverage(Contract):
    """A source the snapshot draws on: its registry entry, countries, periods and the indicators using it."""

    id: str
    group: str
    organisation: str
    licence: str
    countries: tuple[Country, ...]
    periods: tuple[str, ...]
    indicators: tuple[str, ...]


class IndicatorCoverage(Contract):
    """An indicator's coverage: its sources, countries and period range, and the warehouse rows it rests on (in
    detail: per source and country)."""

    sources: tuple[str, ...]
    countries: tuple[str, ...]
    first_period: str | None
    last_period: str | None
    basis_rows: int | str  # perturbed, or the withheld code
    detail: tuple[dict[str, Any], ...]


class IndicatorTable(Contract):
    """An indicator as published: its metadata (the SQL file's header), coverage, and rows after disclosure
    control."""

    id: str
    metadata: dict[str, Any]
    coverage: IndicatorCoverage
    rows: tuple[dict[str, Any], ...]
    hidden_cells: int
    unstable_cells: int


# --- findings: plain-language statements with their evidence ----------------------------------------------------


class UnavailableEvidence(Contract):
    """An evidence item whose cell could not be read, and why."""

    name: str
    indicator: str
    group: str
    cell: dict[str, str]
    status: Literal["unavailable"]
    reason: str


EvidenceStatus = Literal["supports", "contradicts", "neutral"]


class Evidence(Contract):
    """An evidence item: the cell it read (named fully), its value and unit, the row, and whether it supports the
    finding, contradicts it or neither; with the sources and periods behind it."""

    name: str
    indicator: str
    group: str
    cell: dict[str, str]
    status: EvidenceStatus
    value: Any
    unit: str
    values: dict[str, Any]
    sources: tuple[str, ...]
    periods: tuple[str, ...]


EvidenceItem = Annotated[Evidence | UnavailableEvidence, Field(discriminator="status")]


class StatedFinding(Contract):
    """A finding stated: its words, corroboration (how many stakeholder groups support it, contested when one
    contradicts it) and evidence."""

    id: str
    theme: str
    stated: Literal[True] = True
    statement: str
    corroboration: str
    supporting_groups: tuple[str, ...]
    contradicting_groups: tuple[str, ...]
    evidence: tuple[EvidenceItem, ...]


class UnstatedFinding(Contract):
    """A finding not stated this time, and why (its primary evidence is unavailable or does not support it)."""

    id: str
    theme: str
    stated: Literal[False] = False
    reason: str
    evidence: tuple[EvidenceItem, ...]


Finding = Annotated[StatedFinding | UnstatedFinding, Field(discriminator="stated")]


# --- what changed since the previous snapshot --------------------------------------------------------------------


class CellRef(Contract):
    """A cell of an indicator, by its dimension values."""

    indicator: str
    cell: tuple[str, ...]


class ValueChange(CellRef):
    before: Any
    after: Any


class FindingChange(Contract):
    id: str
    change: Literal["new", "dropped", "reworded"]
    before: str | None
    after: str | None


class FirstSnapshot(Contract):
    """The first snapshot has nothing to compare with."""

    previous: None = None
    summary: str


class Changes(Contract):
    """What changed since the previous snapshot: indicators, cells (values, newly hidden or shown), findings."""

    previous: str
    summary: str
    indicators_added: tuple[str, ...]
    indicators_removed: tuple[str, ...]
    indicators_redefined: tuple[str, ...]
    values_changed: tuple[ValueChange, ...]
    cells_added: tuple[CellRef, ...]
    cells_removed: tuple[CellRef, ...]
    newly_hidden: tuple[CellRef, ...]
    newly_shown: tuple[CellRef, ...]
    findings: tuple[FindingChange, ...]


# --- the whole document, and what is said about it -----------------------------------------------------------------


class SnapshotDocument(Contract):
    """A snapshot: metadata, coverage, findings, protected indicators, the labels of what it publishes, and what
    changed."""

    snapshot: SnapshotMeta
    coverage: tuple[SourceCoverage, ...]
    findings: tuple[Finding, ...]
    indicators: tuple[IndicatorTable, ...]
    labels: dict[str, str]
    column_labels: dict[str, str]
    changes: Changes | FirstSnapshot


def stated_findings(findings: Iterable[StatedFinding | UnstatedFinding]) -> list[StatedFinding]:
    """The findings stated, in their order."""
    return [f for f in findings if isinstance(f, StatedFinding)]


class SnapshotEntry(Contract):
    """A snapshot's line in outputs/snapshots/index.json."""

    id: str
    as_of: dt.date
    title: str
    findings: int
    indicators: int
    approved_batches: int
    changes: str


class SnapshotFiles(Contract):
    """The files a snapshot wrote."""

    html: Path
    markdown: Path
    snapshot_json: Path
    changes: Path
    changes_json: Path
    datapackage: Path
    index: Path


class Statement(Contract):
    id: str
    statement: str
    corroboration: str


class IndicatorLine(Contract):
    """An indicator's line in the Prefect table artifact."""

    indicator: str
    title: str
    cells: int
    hidden: int
    unstable: int
    sources: str


class SnapshotSummary(Contract):
    """What the snapshot flow returns and the CLI prints: counts, the findings stated, what changed, and where the
    files are."""

    id: str
    as_of: dt.date
    findings: int
    indicators: int
    hidden_cells: int
    approved_batches: int
    pending_batches: int
    changes: str
    statements: tuple[Statement, ...]
    table: tuple[IndicatorLine, ...]
    paths: SnapshotFiles
