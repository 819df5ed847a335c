"""Steward reports: an HTML + JSON page per batch and per run, an index of every batch ever ingested, and the
Prefect artifacts (a markdown summary, table rows). Pure functions of the run's contracts: no Prefect, no database."""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from pop import paths
from pop.contracts import (
    BatchStatus,
    BatchSummary,
    Contract,
    Discrepancy,
    FailedCheck,
    NotTaken,
    QualityView,
    ReviewStatus,
    RunStatus,
    RunSummary,
    SourceOutcome,
    SourceStatus,
)
from pop.files import to_json, write_text
from tasks.steward.advice import steward_actions
from tasks.steward.names import WaitingName
from tasks.steward.outcomes import Reconciliation

STATUS_ORDER = (BatchStatus.LOADED, BatchStatus.FAILED, BatchStatus.DUPLICATE)
# status -> (tone, symbol, label): every status is shown as a word and a symbol, never by colour alone; the batch,
# run and source statuses named "failed" share one badge
STATUS_BADGES = {
    BatchStatus.LOADED: ("good", "✓", "Loaded"),
    RunStatus.COMPLETED: ("good", "✓", "Completed"),
    SourceStatus.OK: ("good", "✓", "OK"),
    BatchStatus.FAILED: ("bad", "✗", "Failed"),
    BatchStatus.DUPLICATE: ("neutral", "=", "Duplicate"),
    SourceStatus.NO_NEW_FILES: ("neutral", "–", "No new files"),  # noqa: RUF001 - the en dash is the symbol shown
    BatchStatus.PROCESSING: ("neutral", "…", "Processing"),
    BatchStatus.INTERRUPTED: ("warn", "↺", "Interrupted"),
    RunStatus.CRASHED: ("bad", "✗", "Crashed"),
    ReviewStatus.APPROVED: ("good", "✓", "Approved"),
    ReviewStatus.REJECTED: ("bad", "✗", "Rejected"),
    ReviewStatus.PENDING: ("neutral", "…", "Awaiting review"),
    NotTaken.IGNORED: ("neutral", "·", "Ignored"),
    NotTaken.WAITING: ("neutral", "…", "Waiting"),
    NotTaken.REFUSED: ("bad", "✗", "Refused"),
}
TOP_CHECKS = 10
EXAMPLE_CHARS = 80


# --- rendering plumbing ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The jinja2 environment for report templates: HTML autoescaped, markdown not, undefined names fail."""
    env = Environment(
        loader=FileSystemLoader(paths.REPORT_TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=format_count,
        when=format_time,
        duration=format_duration,
        check_label=check_label,
        md=markdown_cell,
        value=format_value,
        status_label=status_label,
        counted=counted,
        batch_href=batch_href,
        code_spans=code_spans,
    )
    env.globals["status_badge"] = status_badge
    return env


def render(template: str, **context: Any) -> str:
    """Render one template of templates/report with the given context."""
    return environment().get_template(template).render(**context)


def write_pair(html_path: Path, html: str, data: BatchSummary | RunSummary) -> dict[str, Path]:
    """Write a report's HTML and, beside it, its input as JSON."""
    json_path = html_path.with_name(html_path.name.removesuffix(".html") + ".json")
    return {"html": write_text(html_path, html), "json": write_text(json_path, to_json(data))}


def safe_name(value: Any) -> str:
    """A file name for an id: letters, digits, dot, dash and underscore only."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", str(value)).strip(".") or "unnamed"


def batch_href(batch_id: Any) -> str:
    """The batch report's path relative to the reports directory."""
    return f"batches/{safe_name(batch_id)}.html"


def run_href(run_id: Any) -> str:
    """The run report's path relative to the reports directory."""
    return f"runs/{safe_name(run_id)}.html"


# --- formatting -----------------------------------------------------------------------------------------------


def format_count(value: int | float | None) -> str:
    """A count with thousands separators, or a dash when unknown."""
    return "—" if value is None else f"{value:,}"


def counted(value: int | None, noun: str) -> str:
    """A count with its noun: '1 file', '3 files'."""
    return f"{format_count(value)} {noun if value == 1 else noun + 's'}"


def parse_time(value: Any) -> datetime | None:
    """An ISO timestamp (or datetime) as an aware datetime; naive ones are taken as UTC."""
    if isinstance(value, datetime):
        moment = value
    elif value:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(value: Any) -> str:
    """A timestamp as 'YYYY-MM-DD HH:MM UTC' (or its offset); unreadable values are shown as given."""
    moment = parse_time(value)
    if moment is None:
        return str(value) if value else "—"
    offset = moment.utcoffset()
    zone = "UTC" if not offset else "UTC" + moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {zone}"


def format_duration(seconds: float | None) -> str:
    """A duration in plain words: '4.2 s', '3 min 5 s', '1 h 2 min'."""
    if seconds is None or math.isnan(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


def seconds_between(start: Any, end: Any) -> float | None:
    """Seconds from one timestamp to another, or None when either is unknown."""
    first, last = parse_time(start), parse_time(end)
    return None if first is None or last is None else (last - first).total_seconds()


def check_label(check: str | None) -> str:
    """A check code in words: 'unknown_country' -> 'Unknown country'."""
    return (check or "unknown check").replace("_", " ").capitalize()


def status_badge(status: str | None) -> tuple[str, str, str]:
    """A status as (tone, symbol, label); unknown statuses are neutral and named in words."""
    return STATUS_BADGES.get(status or "", ("neutral", "?", check_label(status or "unknown")))


def status_label(status: str | None) -> str:
    """A status as symbol and word, for markdown: '✓ Loaded'."""
    _, symbol, label = status_badge(status)
    return f"{symbol} {label}"


def format_value(value: Any) -> str:
    """A sender's value as shown to a steward: quoted, shortened, blanks named."""
    text = "" if value is None else str(value)
    if not text.strip():
        return "(blank)"
    if len(text) > EXAMPLE_CHARS:
        text = text[: EXAMPLE_CHARS - 1] + "…"
    return f"“{text}”"


def code_spans(text: str) -> Markup:
    """Plain text for a page, escaped, with its `backticked` commands and settings shown as code."""
    parts = str(escape(text)).split("`")
    return Markup("".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts)))


def markdown_cell(value: Any) -> str:
    """Text safe inside a markdown table cell: no pipes, line breaks or raw HTML."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.replace("|", "\\|").split())


# --- what the reports say -------------------------------------------------------------------------------------


def reconciliation(rows_in: int, loaded: int, quarantined: int) -> dict[str, Any]:
    """The line 'rows in = loaded + quarantined: 1200 = 1180 + 20 ✓' and whether it holds."""
    label = "rows in = loaded + quarantined: "
    if rows_in == loaded + quarantined:
        return {"line": f"{label}{rows_in} = {loaded} + {quarantined} ✓", "ok": True}
    gap = rows_in - loaded - quarantined
    return {"line": f"{label}{rows_in} ≠ {loaded} + {quarantined} ✗ ({gap:+} rows unaccounted for)", "ok": False}


def batch_note(batch: BatchSummary) -> str:
    """One line about a batch for tables: its message, else why it was skipped or what was quarantined."""
    if batch.message:
        return batch.message
    if batch.status == BatchStatus.DUPLICATE:
        return f"Same file as batch {batch.duplicate_of}: not loaded again."
    failures = sorted_failures(batch)
    if failures:
        top = failures[0]
        return (
            f"{counted(batch.rows_quarantined, 'row')} quarantined; most often: "
            f"{top.sender_column or top.column} ({check_label(top.check).lower()})."
        )
    return ""


def sorted_failures(batch: BatchSummary) -> list[FailedCheck]:
    """The batch's failed checks, most rows first."""
    return sorted(batch.failures, key=lambda f: (-f.rows, f.column, f.check))


def batch_view(batch: BatchSummary, reports_dir: Path | None = None) -> dict[str, Any]:
    """Everything a template shows about a batch: its summary, and its failures sorted, its note, links,
    reconciliation and what a steward can do about its failures."""
    duplicate_href = None
    original = batch.duplicate_of
    if original is not None and reports_dir is not None and (reports_dir / batch_href(original)).exists():
        duplicate_href = f"{safe_name(original)}.html"
    return dict(batch) | {
        "failures": sorted_failures(batch),
        "note": batch_note(batch),
        "stem": safe_name(batch.batch_id),
        "href": batch_href(batch.batch_id),
        "reconciliation": reconciliation(batch.rows_in, batch.rows_loaded, batch.rows_quarantined),
        "duplicate_href": duplicate_href,
        "steward_actions": steward_actions(batch),
    }


def run_batches(run: RunSummary) -> list[BatchSummary]:
    """Every batch of a run, source by source."""
    return [batch for source in run.sources for batch in source.batches]


def source_view(source: SourceOutcome) -> dict[str, Any]:
    """A source's line in a run report: status, files and summed row counts."""
    return {
        "source_id": source.source_id,
        "group": source.group,
        "status": source.status,
        "message": source.message,
        "files": len(source.batches),
        "rows_in": sum(b.rows_in for b in source.batches),
        "rows_loaded": sum(b.rows_loaded for b in source.batches),
        "rows_quarantined": sum(b.rows_quarantined for b in source.batches),
    }


def top_checks(batches: list[BatchSummary], limit: int = TOP_CHECKS) -> list[dict[str, Any]]:
    """The failed checks with the most rows across batches, each naming its batch."""
    checks = [
        dict(failure)
        | {
            "more_rows": failure.more_rows,
            "source_id": batch.source_id,
            "original_name": batch.original_name,
            "batch_id": batch.batch_id,
            "href": batch_href(batch.batch_id),
        }
        for batch in batches
        for failure in sorted_failures(batch)
    ]
    return sorted(checks, key=lambda c: -c["rows"])[:limit]


def run_view(run: RunSummary) -> dict[str, Any]:
    """Everything a template shows about a run."""
    totals = run.totals
    batches = [batch_view(batch) for batch in run_batches(run)]
    return dict(run) | {
        "title": run.flow_run_name or run.run_id,
        "batches": batches,
        "sources": [source_view(source) for source in run.sources],
        "failed_sources": [s for s in run.sources if s.status == SourceStatus.FAILED],
        "failed_batches": [b for b in batches if b["status"] == BatchStatus.FAILED],
        "not_taken": [entry | {"source_id": s.source_id} for s in run.sources for entry in map(dict, s.ignored)],
        "top_checks": top_checks(run_batches(run)),
        "stem": safe_name(run.run_id),
        "href": run_href(run.run_id),
        "duration_s": seconds_between(run.started_at, run.finished_at),
        "reconciliation": reconciliation(totals.rows_in, totals.rows_loaded, totals.rows_quarantined),
    }


def index_summary(batches: list[BatchSummary], open_quarantine: int | None) -> dict[str, Any]:
    """The counts at the top of the index: batches by status, rows loaded, quarantined and still open."""
    by_status = Counter(batch.status for batch in batches)
    ordered = [s for s in STATUS_ORDER if s in by_status] + sorted(s for s in by_status if s not in STATUS_ORDER)
    quarantined = sum(batch.rows_quarantined for batch in batches)
    return {
        "batches": len(batches),
        "by_status": {status: by_status[status] for status in ordered},
        "rows_loaded": sum(batch.rows_loaded for batch in batches),
        "rows_quarantined": quarantined,
        "open_quarantine": quarantined if open_quarantine is None else open_quarantine,
    }


# --- the reports ----------------------------------------------------------------------------------------------


def write_batch_report(
    batch: BatchSummary,
    reports_dir: Path,
    actions: Sequence[dict[str, Any]] = (),
    rows_now: Reconciliation | None = None,
) -> dict[str, Path]:
    """Write batches/<batch_id>.html and .json: what failed in one file, what the sender should fix, its review, the
    steward actions on it (newest first) and, when given, where its rows are now."""
    html = render("batch.html", batch=batch_view(batch, reports_dir), actions=actions, rows_now=rows_now)
    return write_pair(reports_dir / batch_href(batch.batch_id), html, batch)


def ensure_batch_reports(batches: list[BatchSummary], reports_dir: Path) -> None:
    """Write the report of any batch that has none yet, so that every link to it works."""
    for batch in batches:
        if not (reports_dir / batch_href(batch.batch_id)).exists():
            write_batch_report(batch, reports_dir)


def write_run_report(run: RunSummary, reports_dir: Path) -> dict[str, Path]:
    """Write runs/<run_id>.html and .json: the run's outcome per source and per file, and its warehouse checks."""
    ensure_batch_reports(run_batches(run), reports_dir)
    quality = quality_view(run.quality, reports_dir / "runs")
    html = render("run.html", run=run_view(run), quality=quality)
    return write_pair(reports_dir / run_href(run.run_id), html, run)


def ensure_run_reports(runs: list[RunSummary], reports_dir: Path) -> None:
    """Write the report of any run that has none yet, so that every link to it works."""
    for run in runs:
        if not (reports_dir / run_href(run.run_id)).exists():
            write_run_report(run, reports_dir)


class StewardSections(Contract):
    """What the index shows beside the batches and runs: the warehouse checks, the unresolved cross-source
    discrepancies, the names rows wait on and the entries sources added (to review), and the audit trail."""

    quality: QualityView | None = None
    discrepancies: tuple[Discrepancy, ...] = ()
    names_waiting: tuple[WaitingName, ...] = ()
    names_to_review: tuple[dict[str, Any], ...] = ()
    actions: tuple[dict[str, Any], ...] = ()
    checked_in: RunSummary | None = None  # the run whose warehouse checks are shown


def write_index(
    batches: list[BatchSummary],
    runs: list[RunSummary],
    reports_dir: Path,
    open_quarantine: int | None = None,
    steward: StewardSections | None = None,
) -> Path:
    """Write index.html and index.json: every batch ever ingested, newest first, and every run.

    open_quarantine is the number of quarantined rows not yet resolved (from the warehouse); without it every
    quarantined row counts as open. steward holds the warehouse checks, the cross-source discrepancies and the
    audit trail, each shown in its own section."""
    ensure_batch_reports(batches, reports_dir)
    ensure_run_reports(runs, reports_dir)
    # newest first; a tie goes to the larger id
    ordered_batches = sorted(batches, key=lambda b: (b.received_at, b.batch_id), reverse=True)
    ordered_runs = sorted(runs, key=lambda r: (r.started_at, r.run_id), reverse=True)
    summary = index_summary(batches, open_quarantine)
    sections = steward_view(steward or StewardSections(), reports_dir)
    html = render(
        "index.html",
        summary=summary,
        batches=[batch_view(b) for b in ordered_batches],
        runs=[run_view(r) for r in ordered_runs],
        steward=sections,
    )
    write_text(
        reports_dir / "index.json",
        to_json({"batches": ordered_batches, "runs": ordered_runs, "summary": summary, "steward": sections}),
    )
    return write_text(reports_dir / "index.html", html)


def quality_view(quality: QualityView | None, page_dir: Path) -> dict[str, Any] | None:
    """The warehouse checks as a page shows them, with the Data Docs link made relative to the page's folder."""
    if quality is None:
        return None
    docs = quality.data_docs.resolve()
    try:
        href = Path(os.path.relpath(docs, Path(page_dir).resolve())).as_posix()
    except ValueError:  # on another drive
        href = docs.as_uri()
    return dict(quality) | {"data_docs_href": href}


def steward_view(steward: StewardSections, reports_dir: Path) -> dict[str, Any]:
    """The index's steward sections, with the Data Docs link made relative to the index and the run that checked."""
    run = steward.checked_in
    return {
        "quality": quality_view(steward.quality, reports_dir),
        "checked_in": run
        and {"title": run.flow_run_name or run.run_id, "href": run_href(run.run_id), "at": run.finished_at},
        "discrepancies": steward.discrepancies,
        "names_waiting": steward.names_waiting,
        "names_to_review": steward.names_to_review,
        "actions": steward.actions,
    }


def markdown_summary(run: RunSummary) -> str:
    """A markdown report of a run for a Prefect artifact: headline, sources, failed files, top failed checks."""
    return render("run.md", run=run_view(run))


def table_rows(run: RunSummary) -> list[dict[str, Any]]:
    """One flat dict per batch of a run, for a Prefect table artifact."""
    return [
        {
            "source": batch.source_id,
            "file": batch.original_name,
            "status": batch.status,
            "rows_in": batch.rows_in,
            "rows_loaded": batch.rows_loaded,
            "rows_quarantined": batch.rows_quarantined,
            "message": batch_note(batch),
        }
        for batch in run_batches(run)
    ]
