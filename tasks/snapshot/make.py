"""Make a snapshot: build it in the warehouse, write its files, and sum it up for the flow and the CLI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pop import paths
from pop.db import upgrade
from tasks.snapshot.build import build_snapshot
from tasks.snapshot.document import IndicatorLine, SnapshotSummary, Statement, stated_findings
from tasks.snapshot.render import write_snapshot


def make_snapshot(database_url: str, as_of: dt.date, snapshots_dir: Path) -> SnapshotSummary:
    """Build the snapshot in the warehouse and write its files; a summary with the paths. A warehouse that has no
    tables yet is created first, so its snapshot says there is no approved evidence instead of failing."""
    upgrade(database_url)
    doc = build_snapshot(database_url, as_of, snapshots_dir)
    written = write_snapshot(doc, snapshots_dir, paths.INDICATORS)
    stated = stated_findings(doc.findings)
    return SnapshotSummary(
        id=doc.snapshot.id,
        as_of=doc.snapshot.as_of,
        findings=len(stated),
        indicators=len(doc.indicators),
        hidden_cells=sum(t.hidden_cells for t in doc.indicators),
        approved_batches=len(doc.snapshot.approved_batches),
        pending_batches=len(doc.snapshot.pending_batches),
        changes=doc.changes.summary,
        statements=tuple(Statement(id=f.id, statement=f.statement, corroboration=f.corroboration) for f in stated),
        table=tuple(
            IndicatorLine(
                indicator=t.id,
                title=t.metadata["title"],
                cells=len(t.rows),
                hidden=t.hidden_cells,
                unstable=t.unstable_cells,
                sources=", ".join(t.coverage.sources),
            )
            for t in doc.indicators
        ),
        paths=written,
    )


def snapshot_markdown(summary: SnapshotSummary) -> str:
    """The snapshot's headline findings as a markdown artifact."""
    lines = [
        f"# Snapshot {summary.id}",
        "",
        f"{summary.approved_batches} approved file(s); {summary.pending_batches} awaiting review and not "
        f"included. {summary.hidden_cells} cell(s) hidden by disclosure control.",
        "",
        "## Findings",
        "",
    ]
    lines += [f"- {s.statement} _(corroboration: {s.corroboration})_" for s in summary.statements]
    lines += ["", "## What changed", "", summary.changes, "", f"Open: `{summary.paths.html}`"]
    return "\n".join(lines)
