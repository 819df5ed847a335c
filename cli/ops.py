"""Commands of the operator: migrate, backup, restore, status, doctor."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from alembic.util import CommandError
from rich.table import Table
from rich.text import Text

from cli.app import STATUS_STYLE, add_row, app, console, fail, styled
from pop.db import redact
from pop.settings import get_settings

VERDICT_MARK = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "bold red")}


def _size(n: int) -> str:
    """A size in bytes as people read it: 416.0 KB."""
    if n < 1024:
        return f"{n:,} B"
    amount = float(n)
    for unit in ("KB", "MB", "GB"):
        amount /= 1024
        if amount < 1024 or unit == "GB":
            break
    return f"{amount:,.1f} {unit}"


def _ago(since: dt.datetime | None, now: dt.datetime) -> str:
    if since is None:
        return ""
    seconds = int((now - since).total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"


def _counts_table(title: str, counts: dict[str, int]) -> Table:
    table = Table(title=title)
    table.add_column("table", overflow="fold")
    table.add_column("rows", justify="right")
    for name, rows in sorted(counts.items()):
        add_row(table, name, f"{rows:,}")
    return table


@app.command()
def migrate(
    to: str = typer.Option("head", "--to", help="The revision to go to: head (default), an id, base, -1, +1."),
    force: bool = typer.Option(False, "--force", help="Downgrade even when tables or columns holding data go."),
) -> None:
    """Upgrade (or downgrade) the warehouse schema; a downgrade that would drop data is refused without --force."""
    from tasks.ops.migrate import current_revision, head_revision, migrate

    url = get_settings().warehouse_url
    console.print(Text(f"Warehouse {redact(url)}"))
    current = current_revision(url)
    console.print(Text(f"current revision: {current or 'none (empty)'}; target: {to} (head is {head_revision(url)})"))
    try:
        done = migrate(url, to, force)
    except CommandError as exc:
        console.print(Text(str(exc), style="bold red"))
        raise typer.Exit(1) from None
    console.print(Text(f"now at revision {done.after or 'none (base)'}", style="green"))


@app.command()
def backup(
    path: Path | None = typer.Argument(None, help="The backup file (default: outputs/backups/warehouse-<time>)."),
) -> None:
    """Write a consistent, self-contained copy of the warehouse, with a manifest beside it (sha256, revision, rows)."""
    from tasks.ops.backup import BackupError, backup, manifest_path

    settings = get_settings()
    url = settings.warehouse_url
    if path is None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        suffix = ".sqlite" if url.startswith("sqlite") else ".dump"
        path = settings.outputs_dir / "backups" / f"warehouse-{stamp}{suffix}"
    try:
        made = backup(url, path, settings.pg_bin_dir)
    except BackupError as exc:
        fail(str(exc))
    console.print(_counts_table("Rows backed up", made.row_counts))
    console.print(
        Text(
            f"Backed up {redact(url)} to {path} ({_size(made.size_bytes)}, {len(made.row_counts)} tables, "
            f"{made.rows:,} rows, revision {made.revision}); manifest {manifest_path(path)}",
            style="green",
        )
    )


@app.command()
def restore(
    path: Path = typer.Argument(..., help="A backup written by pop backup (its manifest beside it)."),
    force: bool = typer.Option(False, "--force", help="Replace a warehouse that holds rows."),
) -> None:
    """Replace the warehouse with a backup; refused over a warehouse holding rows unless --force."""
    from tasks.ops.backup import BackupError, read_manifest, restore
    from tasks.ops.migrate import head_revision

    settings = get_settings()
    url = settings.warehouse_url
    try:
        manifest = read_manifest(path)
        counts = restore(url, path, force, settings.pg_bin_dir)
    except BackupError as exc:
        fail(str(exc))
    console.print(_counts_table("Rows restored", counts))
    console.print(
        Text(
            f"Restored {path} ({_size(manifest.size_bytes)}, {len(counts)} tables, {manifest.rows:,} rows, revision "
            f"{manifest.revision}, backed up {manifest.created_at}) into {redact(url)}",
            style="green",
        )
    )
    if manifest.revision != head_revision(url):
        console.print(Text("The backup's schema is older than this code's: pop migrate brings it to head.", "yellow"))


def _print_deployments(now: dt.datetime) -> None:
    """Each deployment's last and next run, when a Prefect server is set (PREFECT_API_URL); never fails the command."""
    from tasks.ops.server import api_url, deployment_runs

    api = api_url()
    if not api:
        console.print(Text("PREFECT_API_URL not set: no server keeps the runs of deployments."))
        return
    try:
        found = deployment_runs()
    except Exception as exc:  # the warehouse's status stands without the server's
        console.print(Text(f"⚠ Prefect API {api} unreachable: {type(exc).__name__}: {exc}", "yellow"))
        return
    table = Table(title=f"Deployments (Prefect API {api})")
    for column in ("deployment", "last run", "state", "started (UTC)", "next run (UTC)"):
        table.add_column(column, overflow="fold")
    for d in found:
        started = d.last_start.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if d.last_start else ""
        upcoming = d.next_run.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if d.next_run else ""
        add_row(table, d.deployment, d.last_run or "", d.last_state or "", started, upcoming)
    console.print(table)


@app.command()
def status(runs: int = typer.Option(10, help="How many of the last runs to show.")) -> None:
    """The warehouse now: last runs, runs still going, batches left processing or waiting for review, open
    quarantine, discrepancies, next scheduled runs, size."""
    from sqlalchemy.exc import SQLAlchemyError

    from tasks.ops.status import warehouse_status

    url = get_settings().warehouse_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        fail(f"there is no warehouse at {url.removeprefix('sqlite:///')} yet: pop migrate (or pop run) makes it")
    try:
        found = warehouse_status(url, runs)
    except SQLAlchemyError as exc:
        fail(f"cannot read the warehouse {redact(url)}: {str(exc).splitlines()[0]} (pop doctor says what is wrong)")
    now = found.now
    table = Table(title=f"Last runs (warehouse {redact(url)})")
    for column in ("run", "name", "started (UTC)", "took", "status", "message"):
        table.add_column(column, overflow="fold")
    for run in found.runs:
        took = _ago(run.started_at, run.finished_at) if run.finished_at else f"{_ago(run.started_at, now)} so far"
        started = run.started_at.strftime("%Y-%m-%d %H:%M")
        message = (run.message or "")[:120]
        add_row(table, run.run_id[:8], run.name or "", started, took, styled(run.status, STATUS_STYLE), message)
    console.print(table)
    for run in found.unfinished:
        console.print(
            Text(
                f"⚠ run {run.run_id[:8]} ({run.name or ''}) is {run.status} since {_ago(run.started_at, now)}", "yellow"
            )
        )
    if found.writer is not None or found.writer_alive:
        holder = found.writer.describe(now) if found.writer else "a run that has not recorded itself yet"
        state = "writing now" if found.writer_alive else "its process is gone: the next run that writes takes over"
        console.print(Text(f"✎ Writer lease: {holder}; {state}", "cyan" if found.writer_alive else "yellow"))
    else:
        console.print(Text("✎ Writer lease: free (no run is writing)"))
    for batch in found.processing:
        since = _ago(batch["started_at"], now)
        what = f"⚠ batch {batch['batch_id']} ({batch['source_id']}: {batch['original_name']}) {batch['status']}"
        console.print(Text(f"{what} for {since}, run {str(batch['run_id'] or '')[:8]}", "yellow"))
    waiting = found.pending_review
    listed = ", ".join(map(str, waiting[:10])) + (", …" if len(waiting) > 10 else "")
    console.print(Text(f"Batches waiting for review: {len(waiting)}" + (f" ({listed})" if waiting else "")))
    quarantine = Table(title="Open quarantine")
    quarantine.add_column("source", overflow="fold")
    quarantine.add_column("open rows", justify="right")
    for source, rows in found.open_quarantine.items():
        add_row(quarantine, source, f"{rows:,}")
    console.print(quarantine if found.open_quarantine else Text("Open quarantine: none"))
    count = sum(found.discrepancies.values())
    by_check = ", ".join(f"{check} {n}" for check, n in found.discrepancies.items())
    console.print(Text(f"Open discrepancies: {count}" + (f" ({by_check})" if count else "")))
    schedule = Table(title="Next scheduled runs (prefect.yaml)")
    for column in ("deployment", "cron", "timezone", "next run", "in"):
        schedule.add_column(column)
    for s in found.schedules:
        add_row(schedule, s.deployment, s.cron, s.timezone, s.next_run.isoformat(), _ago(now, s.next_run))
    console.print(schedule)
    _print_deployments(now)
    parts = ", ".join(f"{name} {_size(n)}" for name, n in found.size_detail.items())
    console.print(Text(f"Warehouse size: {_size(found.size_bytes)} ({parts})"))


@app.command()
def doctor() -> None:
    """Check the set-up: settings, database reachable and migrated, Prefect API, folders, registry, secrets."""
    from tasks.ops.doctor import Verdict, diagnose

    shown, checks = diagnose()
    if shown:
        table = Table(title="Settings (secrets masked)")
        table.add_column("setting")
        table.add_column("value", overflow="fold")
        for name, value in shown.items():
            add_row(table, name, value)
        console.print(table)
    for check in checks:
        mark, style = VERDICT_MARK[check.verdict]
        line = Text(f"{mark} ", style=style)
        line.append(f"{check.name}: {check.found}")
        if check.fix and check.verdict != Verdict.OK:
            line.append(f" → {check.fix}", style=style)
        console.print(line)
    failed = [c for c in checks if c.verdict == Verdict.FAIL]
    if failed:
        console.print(Text(f"{len(failed)} problem(s) to fix.", style="bold red"))
        raise typer.Exit(1)
    console.print(Text("Everything checked is in order.", style="green"))
