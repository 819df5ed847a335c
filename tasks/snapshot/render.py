"""Write a snapshot under outputs/snapshots/<id>/: HTML (findings first, SVG charts with their data tables),
Markdown, the indicators as CSV and JSON with their metadata, a data package descriptor, and what changed.
Pure functions of the snapshot document: no Prefect, no database."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape

from pop import paths
from pop.files import safe_cell, to_json, whole_folder, write_text
from tasks.snapshot.build import read_history
from tasks.snapshot.charts import bar_chart, chart_rows, format_value, parse_chart
from tasks.snapshot.document import IndicatorTable, SnapshotDocument, SnapshotEntry, SnapshotFiles, stated_findings
from tasks.snapshot.indicators import load_indicator

GROUP_ORDER = ("helplines_services", "children_youth", "service_providers", "tech_companies", "protection_community")
GROUP_LABELS = {
    "helplines_services": "Helplines & services",
    "children_youth": "Children & youth",
    "service_providers": "Service providers",
    "tech_companies": "Tech companies",
    "protection_community": "The protection community",
}
CORROBORATION = {
    "three or more groups": "good",
    "two groups": "good",
    "single group": "neutral",
    "contested": "warn",
    "unsupported": "bad",
}
TABLE_ROWS = 40  # rows of a full table shown in the page; the CSV has them all


SHARE_COLUMNS = ("share", "previous_share")


def unit_of(column: str, unit: str) -> str:
    """How a published column is formatted: shares of a trend table as shares, counts as counts."""
    return "share" if column in SHARE_COLUMNS else unit


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(paths.SNAPSHOT_TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(
        group_label=lambda g: GROUP_LABELS.get(g, g),
        tone=lambda c: CORROBORATION.get(c, "neutral"),
        TABLE_ROWS=TABLE_ROWS,
    )
    env.filters["group_name"] = lambda g: GROUP_LABELS.get(g, g)
    env.filters["label"] = pass_context(lambda ctx, code: ctx["doc"].labels.get(str(code), str(code)))
    env.filters["column"] = pass_context(lambda ctx, name: ctx["doc"].column_labels.get(name, name))
    env.globals["unit_of"] = unit_of
    return env


def indicator_csv(table: IndicatorTable) -> str:
    """An indicator's published rows as CSV: codes in hidden cells, an empty string for a missing value, no cell a
    spreadsheet would run as a formula."""
    meta = table.metadata
    columns = [*meta["dimensions"], *meta["values"], *meta["counts"], *meta["attributes"], "flag"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in table.rows:
        writer.writerow(["" if row.get(c) is None else safe_cell(row.get(c)) for c in columns])
    return out.getvalue()


def data_package(doc: SnapshotDocument) -> dict[str, Any]:
    """A Frictionless data package descriptor of the indicator CSVs; disclosure codes are its missing values."""
    rules = doc.snapshot.disclosure
    missing = ["", *rules["missing_values"]]
    resources = []
    for table in doc.indicators:
        meta = table.metadata
        number_fields = meta["values"] + meta["counts"]
        fields = (
            [{"name": d, "type": "string"} for d in meta["dimensions"]]
            + [{"name": c, "type": "number" if c in meta["values"] else "integer"} for c in number_fields]
            + [{"name": a, "type": "any"} for a in meta["attributes"]]
            + [{"name": "flag", "type": "string", "description": "[u]: unstable, few cases"}]
        )
        resources.append(
            {
                "name": table.id.replace("_", "-"),
                "path": f"indicators/{table.id}.csv",
                "title": meta["title"],
                "description": meta["description"],
                "format": "csv",
                "schema": {"fields": fields, "primaryKey": meta["dimensions"], "missingValues": missing},
                "pop_metadata": meta,
                "pop_coverage": table.coverage.model_dump(exclude={"detail"}),
            }
        )
    return {
        "name": f"pop-snapshot-{doc.snapshot.id}",
        "title": doc.snapshot.title,
        "created": doc.snapshot.as_of,
        "licenses": [{"name": "CC-BY-4.0"}],
        "pop_disclosure": rules,
        "resources": resources,
    }


def charts(doc: SnapshotDocument, indicators_dir: Path, label: Callable[[str], str]) -> dict[str, list[dict[str, Any]]]:
    """Per indicator: its SVG charts, each with the rows it draws and its caption (none when it has no chart)."""
    out: dict[str, list[dict[str, Any]]] = {}
    columns = doc.column_labels
    for table in doc.indicators:
        indicator = load_indicator(indicators_dir / f"{table.id}.sql")
        spec = parse_chart(indicator)
        if spec.kind == "none" or not table.rows:
            continue
        groups = sorted({str(r[spec.each]) for r in table.rows}) if spec.each else [None]
        for n, value in enumerate(groups):
            subset = [r for r in table.rows if value is None or str(r[spec.each]) == value]
            rows, fixed = chart_rows(indicator, subset, spec)
            if not rows:
                continue
            where = ", ".join(f"{columns.get(d, d)}: {label(v)}" for d, v in fixed.items())
            title = label(value) if value is not None else indicator.title
            caption = f"{title}, by {columns.get(spec.dimension, spec.dimension).lower()}" + (
                f" ({where})" if where else ""
            )
            out.setdefault(table.id, []).append(
                {
                    "svg": bar_chart(indicator, rows, spec, label, f"chart-{table.id}-{n}", caption),
                    "rows": rows,
                    "dimension": spec.dimension,
                    "caption": caption,
                    "value": indicator.values[0],
                }
            )
    return out


def write_snapshot(doc: SnapshotDocument, snapshots_dir: Path, indicators_dir: Path) -> SnapshotFiles:
    """Write every file of the snapshot and update outputs/snapshots/index.json; the paths written."""
    folder = snapshots_dir / doc.snapshot.id
    labels = doc.labels

    def label(code: Any) -> str:
        return labels.get(str(code), str(code))

    drawn = charts(doc, indicators_dir, label)
    context = {"doc": doc, "charts": drawn, "label": label, "fmt": format_value, "groups": GROUP_ORDER}
    env = environment()
    files = {
        "html": ("index.html", env.get_template("snapshot.html").render(**context)),
        "markdown": ("snapshot.md", env.get_template("snapshot.md").render(**context)),
        "snapshot_json": ("snapshot.json", to_json(doc)),
        "changes": ("changes.md", env.get_template("changes.md").render(**context)),
        "changes_json": ("changes.json", to_json(doc.changes)),
        "datapackage": ("datapackage.json", to_json(data_package(doc))),
    }
    with whole_folder(folder) as partial:  # the snapshot's folder appears whole or not at all
        for name, content in files.values():
            write_text(partial / name, content)
        for table in doc.indicators:
            write_text(partial / "indicators" / f"{table.id}.csv", indicator_csv(table))
            write_text(
                partial / "indicators" / f"{table.id}.json",
                to_json(table.model_dump(include={"id", "metadata", "coverage", "rows"})),
            )
    written = {key: folder / name for key, (name, _) in files.items()}
    return SnapshotFiles(**written, index=update_index(snapshots_dir, doc))


def update_index(snapshots_dir: Path, doc: SnapshotDocument) -> Path:
    """Add the snapshot to outputs/snapshots/index.json (once; order of first making) and write index.html."""
    path = snapshots_dir / "index.json"
    history = read_history(snapshots_dir)
    meta = doc.snapshot
    entry = SnapshotEntry(
        id=meta.id,
        as_of=meta.as_of,
        title=meta.title,
        findings=len(stated_findings(doc.findings)),
        indicators=len(doc.indicators),
        approved_batches=len(meta.approved_batches),
        changes=doc.changes.summary,
    )
    ids = [h.id for h in history]
    if meta.id in ids:
        history[ids.index(meta.id)] = entry
    else:
        history.append(entry)
    write_text(path, to_json({"latest": history[-1].id, "snapshots": history}))
    write_text(snapshots_dir / "index.html", environment().get_template("index.html").render(history=history))
    return path
