"""The mixer: one snapshot of the approved evidence of all five stakeholder groups — indicators computed in the
warehouse, disclosure control on every published cell, findings with their corroboration, and what changed since
the previous snapshot. Rendering is in tasks/snapshot/render.py; the document's shape in tasks/snapshot/document.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sqlalchemy import Connection, select

from pop import paths, views
from pop.contracts import BatchStatus
from pop.db import reading
from pop.models import Batch, DimCompany, DimCountry, DimPlatform, SourceRecord
from pop.record_keys import key_secret
from pop.settings import get_settings
from schemas.vocabulary import vocabularies
from tasks.snapshot.audit import AuditResult, AuditTable, Previous, PreviousTable, audit
from tasks.snapshot.disclosure import (
    BASE,
    CASES,
    WEIGHTED,
    WITHHELD,
    DisclosureRules,
    perturbed_counts,
    protect,
    published,
    unprotected,
)
from tasks.snapshot.disclosure import load_rules as load_disclosure_rules
from tasks.snapshot.document import (
    BasisBatch,
    CellRef,
    Changes,
    Country,
    Finding,
    FindingChange,
    FirstSnapshot,
    IndicatorCoverage,
    IndicatorTable,
    LeftOutBatch,
    SnapshotDocument,
    SnapshotEntry,
    SnapshotMeta,
    SourceCoverage,
    ValueChange,
    stated_findings,
)
from tasks.snapshot.findings import build_findings
from tasks.snapshot.findings import load_rules as load_finding_rules
from tasks.snapshot.indicators import KEY, Indicator, IndicatorResult, compute_indicators, load_indicators
from tasks.snapshot.margins import recompute

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 1
CONFIG_FILES = (paths.FINDINGS_FILE, paths.DISCLOSURE_FILE, paths.LABELS_FILE)


# --- what the snapshot rests on ------------------------------------------------------------------------------


def evidence_basis(conn: Connection) -> list[BasisBatch]:
    """The approved batches the snapshot reads (pop.views: the same batches as the approved views' rows), in batch
    order."""
    b = views.batches(views.APPROVED)
    rows = conn.execute(select(b.c.batch_id, b.c.source_id, b.c.original_name, b.c.sha256).order_by(b.c.batch_id))
    return [BasisBatch.model_validate(r._mapping) for r in rows]


def pending_batches(conn: Connection) -> list[LeftOutBatch]:
    """Loaded batches not (yet) approved, the rejected ones too: left out of the snapshot, and said so."""
    b, approved = Batch.__table__, views.batches(views.APPROVED)
    rows = conn.execute(
        select(b.c.batch_id, b.c.source_id, b.c.original_name, b.c.review_status)
        .where(b.c.status == BatchStatus.LOADED, b.c.batch_id.not_in(select(approved.c.batch_id)))
        .order_by(b.c.batch_id)
    )
    return [LeftOutBatch.model_validate(r._mapping) for r in rows]


def fingerprint(basis: list[BasisBatch], indicators: list[Indicator], secret: bytes = b"") -> str:
    """A digest of everything a snapshot's content depends on: the approved files, the SQL and the rules, and the
    secret the record keys are derived with (through a one-way digest of it: the noise depends on the keys)."""
    digest = hashlib.sha256(json.dumps([[b.batch_id, b.sha256] for b in basis]).encode())
    if secret:
        digest.update(hashlib.blake2b(b"pop snapshot fingerprint", key=secret, digest_size=16).digest())
    for path in [i.path for i in indicators] + list(CONFIG_FILES):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def snapshot_id(as_of: dt.date, digest: str) -> str:
    """The snapshot's id: its date and the first characters of its fingerprint (same evidence, same id)."""
    return f"{as_of.isoformat()}-{digest[:8]}"


# --- history ----------------------------------------------------------------------------------------------


def read_history(snapshots_dir: Path) -> list[SnapshotEntry]:
    """The snapshots made so far, oldest first (outputs/snapshots/index.json)."""
    path = snapshots_dir / "index.json"
    if not path.exists():
        return []
    return [SnapshotEntry.model_validate(s) for s in json.loads(path.read_text(encoding="utf-8"))["snapshots"]]


def previous_snapshot(snapshots_dir: Path, current_id: str) -> SnapshotDocument | None:
    """The snapshot made before `current_id` (its snapshot.json), or None for the first."""
    ids = [s.id for s in read_history(snapshots_dir)]
    earlier = ids[: ids.index(current_id)] if current_id in ids else ids
    for sid in reversed(earlier):
        path = snapshots_dir / sid / "snapshot.json"
        if path.exists():
            return SnapshotDocument.model_validate_json(path.read_text(encoding="utf-8"))
    return None


# --- disclosure control per indicator -------------------------------------------------------------------------


def dependencies(ind: Indicator) -> dict[str, tuple[str, ...]]:
    """The counts each value (and each computed count) is worked out from: a value is withheld with any of them.
    Read from the computed formulas (a weighted sum stands for its count: weighted_cases for cases); a value the
    statement computes itself rests on the cases and the base."""
    counts = set(ind.counts)
    formulas = {f.target: f for f in ind.totals.computed} if ind.totals is not None else {}

    def needs(column: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if column in seen:
            return set()
        if column in formulas:
            return set().union(*(needs(op.column, seen | {column}) for op in formulas[column].operands))
        plain = column.removeprefix(WEIGHTED)
        return {plain} if plain in counts else set()

    principal = tuple(c for c in (CASES, BASE) if c in counts) or tuple(ind.counts)
    depends = {
        v: tuple(sorted(needs(v))) if v in formulas else principal
        for v in (*ind.values, *(c for c in ind.counts if c in formulas))
    }
    # a cell resting on too few organisations' reports is withheld whole: its figures would be theirs
    for column in (*ind.values, *ind.counts):
        if ind.contributors and column not in ind.contributors:
            depends[column] = tuple(dict.fromkeys((*depends.get(column, ()), *ind.contributors)))
    return depends


def protect_indicator(result: IndicatorResult, rules: DisclosureRules) -> pd.DataFrame:
    """The indicator's cells as published before coding: counts of children perturbed, values computed again from
    them, with `withheld` and `unstable` columns (nothing withheld when the figures are not about children)."""
    ind, cells = result.indicator, result.cells
    if not ind.counts:
        return unprotected(cells)
    totals = ind.totals
    protected = protect(
        cells,
        ind.counts,
        {c: c + KEY for c in ind.keyed},
        dependencies(ind),
        rules,
        recompute=(lambda frame: recompute(frame, totals)) if totals is not None else None,
    )
    if ind.unit == "share":  # cases perturbed above their base (nearly all gave the answer) read as all of them
        for value in ind.values:
            protected[value] = pd.to_numeric(protected[value], errors="coerce").clip(upper=1)
    return protected


def previous_for_audit(
    previous: SnapshotDocument | None, basis: Sequence[BasisBatch], indicators: Sequence[Indicator]
) -> Previous | None:
    """The previous snapshot's tables of children's counts as an intruder differencing the two would read them, and
    which way the evidence changed since (batches added, taken out, or both)."""
    if previous is None:
        return None
    before = {b.batch_id for b in previous.snapshot.approved_batches}
    now = {b.batch_id for b in basis}
    change = 1 if before <= now else -1 if now <= before else 0
    method = previous.snapshot.disclosure.get("method")
    audit_before = previous.snapshot.disclosure.get("audit", {})
    by_id = {ind.id: ind for ind in indicators if ind.counts}
    tables = tuple(
        PreviousTable(
            id=table.id,
            dimensions=tuple(table.metadata["dimensions"]),
            margins=tuple(table.metadata.get("margins", ())),
            counts=tuple(table.metadata["counts"]),
            rows=tuple(table.rows),
            keyed=by_id[table.id].keyed,
            nonzero=by_id[table.id].totals.nonzero if by_id[table.id].totals is not None else (),
            contributors=by_id[table.id].contributors,
        )
        for table in previous.indicators
        if table.id in by_id
    )
    return Previous(
        tables=tables,
        change=change,
        withheld_bounded=method == "cell-key perturbation" and audit_before.get("withheld_by_audit") == 0,
        exact=method != "cell-key perturbation",
    )


def audit_tables(
    indicators: Sequence[Indicator],
    results: dict[str, IndicatorResult],
    protected: dict[str, pd.DataFrame],
    rules: DisclosureRules,
    previous: Previous | None = None,
) -> AuditResult:
    """Attack every protected table of children's counts jointly, and against the previous snapshot's; withhold (in
    place) what it narrows too far."""
    tables = [
        AuditTable(ind.id, ind.dimensions, ind.margins, ind.counts, results[ind.id].cells, protected[ind.id])
        for ind in indicators
        if ind.counts and not results[ind.id].cells.empty
    ]
    return audit(tables, {ind.id: dependencies(ind) for ind in indicators if ind.counts}, rules, previous)


def audit_summary(attack: AuditResult) -> dict[str, Any]:
    """What the snapshot's own attack did, for its methods section."""
    return {
        "counts_attacked": attack.variables,
        "equations": attack.equations,
        "compared_with_previous": attack.differenced,
        "narrowed_before_audit": len(attack.narrowed),
        "withheld_by_audit": len(attack.withheld),
        "unsolved": attack.unsolved,
    }


def published_rows(ind: Indicator, protected: pd.DataFrame, rules: DisclosureRules) -> list[dict[str, Any]]:
    """The rows as published: withheld values replaced by the code, a `disclosure` and a `flag` column."""
    if protected.empty:
        return []
    out = published(protected, list(ind.columns), rules)
    return [{k: _json_value(v) for k, v in row.items()} for row in out.to_dict(orient="records")]


def finding_rows(ind: Indicator, protected: pd.DataFrame, rules: DisclosureRules) -> list[dict[str, Any]]:
    """The rows findings may read: the published figures, withheld ones None."""
    rows = []
    for row in protected.to_dict(orient="records"):
        withheld = row[WITHHELD]
        rows.append(
            {k: (None if k in withheld else _json_value(row[k])) for k in ind.columns}
            | {"disclosure": rules.code if withheld else None}
        )
    return rows


def _json_value(value: Any) -> Any:
    """A cell value as JSON writes it: numpy scalars as Python numbers, NaN as null, floats to 6 decimals."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else round(value, 6)
    return value


# --- labels -------------------------------------------------------------------------------------------------


def read_labels() -> dict[str, dict[str, str]]:
    """schemas/vocab/labels.yaml: labels of codes and of published column names."""
    return yaml.safe_load(paths.LABELS_FILE.read_text(encoding="utf-8"))


def labeller(conn: Connection) -> Callable[[str], str]:
    """A function giving the label people read for any code the snapshot publishes."""
    labels: dict[str, str] = {}
    # platforms first: a platform and its company can share a code (discord, roblox), and tables name platforms
    for vocab in sorted(vocabularies().values(), key=lambda v: v.name != "platform"):
        for code, entry in vocab.entries.items():
            if entry.get("label"):
                labels.setdefault(code, entry["label"])
    for table in (DimPlatform.__table__, DimCompany.__table__):  # with the entries stewards added (pop vocab)
        for row in conn.execute(select(table.c.code, table.c.label)):
            labels.setdefault(row.code, row.label)
    labels.update(read_labels()["codes"])
    c = DimCountry.__table__
    labels.update({r.iso3: r.name for r in conn.execute(select(c.c.iso3, c.c.name))})
    labels.setdefault("WLD", "World")

    def label(code: Any) -> str:
        text = str(code)
        return labels.get(text, text.replace("_", " ").capitalize() if text.islower() else text)

    return label


# --- coverage -------------------------------------------------------------------------------------------------


def sources_table(conn: Connection) -> dict[str, dict[str, Any]]:
    """The registry entries of the sources, by id."""
    s = SourceRecord.__table__
    return {
        r.id: {"id": r.id, "group": r.stakeholder_group, "organisation": r.organisation, "licence": r.licence}
        for r in conn.execute(select(s.c.id, s.c.stakeholder_group, s.c.organisation, s.c.licence))
    }


def coverage_summary(
    results: dict[str, IndicatorResult], sources: dict[str, dict[str, Any]], label: Callable[[str], str]
) -> list[SourceCoverage]:
    """Per source the snapshot draws on: its group, organisation, countries, periods and the indicators using it."""
    by_source: dict[str, dict[str, Any]] = {}
    for ind_id, result in results.items():
        for row in result.coverage:
            entry = by_source.setdefault(
                row["source_id"],
                {
                    **sources.get(
                        row["source_id"], {"id": row["source_id"], "group": "", "organisation": "", "licence": ""}
                    ),
                    "countries": set(),
                    "periods": set(),
                    "indicators": set(),
                },
            )
            entry["countries"].add(row["country_iso3"])
            entry["periods"] |= {row["first_period"], row["last_period"]}
            entry["indicators"].add(ind_id)
    return [
        SourceCoverage(
            **e
            | {
                "countries": [Country(code=c, name=label(c)) for c in sorted(e["countries"])],
                "periods": sorted(e["periods"]),
                "indicators": sorted(e["indicators"]),
            }
        )
        for _, e in sorted(by_source.items())
    ]


def indicator_coverage(result: IndicatorResult, rules: DisclosureRules) -> IndicatorCoverage:
    """An indicator's coverage: its sources, countries and period range, and the rows it rests on (per source and
    country too); for counts of children, the row counts are protected like the counts (perturbed by their keys,
    withheld below the threshold)."""
    cov = result.coverage
    periods = sorted({p for c in cov for p in (c["first_period"], c["last_period"])})
    detail = [{k: v for k, v in c.items() if k != "basis_keys"} for c in cov]
    rows = int(sum(c["basis_rows"] for c in cov))
    if result.indicator.counts and cov:
        counts = pd.Series([c["basis_rows"] for c in cov] + [rows])
        keys = pd.Series([c["basis_keys"] for c in cov] + [sum(c["basis_keys"] for c in cov)])
        shown = perturbed_counts(counts, keys, rules, "basis_rows")
        coded = [rules.code if v < rules.threshold else int(v) for v in shown]
        for row, value in zip(detail, coded, strict=False):
            row["basis_rows"] = value
        rows = coded[-1]
    return IndicatorCoverage(
        sources=sorted({c["source_id"] for c in cov}),
        countries=sorted({c["country_iso3"] for c in cov}),
        first_period=periods[0] if periods else None,
        last_period=periods[-1] if periods else None,
        basis_rows=rows,
        detail=detail,
    )


# --- what changed ---------------------------------------------------------------------------------------------


def _cells(indicators: Sequence[IndicatorTable]) -> dict[tuple[str, tuple[str, ...]], dict[str, Any]]:
    return {(t.id, tuple(str(r[d]) for d in t.metadata["dimensions"])): r for t in indicators for r in t.rows}


def changes(
    previous: SnapshotDocument | None, indicators: Sequence[IndicatorTable], findings: Sequence[Finding]
) -> Changes | FirstSnapshot:
    """What changed since the previous snapshot: indicators, cells (values, newly hidden or shown), findings."""
    if previous is None:
        return FirstSnapshot(summary="This is the first snapshot: there is nothing to compare with.")
    before, after = _cells(previous.indicators), _cells(indicators)
    old_ids = {t.id for t in previous.indicators}
    new_ids = {t.id for t in indicators}
    old_dims = {t.id: t.metadata["dimensions"] for t in previous.indicators}
    redefined = sorted(t.id for t in indicators if t.id in old_dims and old_dims[t.id] != t.metadata["dimensions"])
    changed, hidden, shown = [], [], []
    for key in sorted(before.keys() & after.keys()):
        old, new = before[key], after[key]
        if bool(old.get("disclosure")) != bool(new.get("disclosure")):
            (hidden if new.get("disclosure") else shown).append(CellRef(indicator=key[0], cell=key[1]))
        elif not new.get("disclosure") and old.get("value") != new.get("value"):
            changed.append(ValueChange(indicator=key[0], cell=key[1], before=old.get("value"), after=new.get("value")))
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    old_f = {f.id: f for f in stated_findings(previous.findings)}
    new_f = {f.id: f for f in stated_findings(findings)}
    finding_changes = [
        FindingChange(
            id=fid,
            change="new" if fid not in old_f else "dropped" if fid not in new_f else "reworded",
            before=old_f[fid].statement if fid in old_f else None,
            after=new_f[fid].statement if fid in new_f else None,
        )
        for fid in sorted(old_f.keys() | new_f.keys())
        if fid not in old_f
        or fid not in new_f
        or old_f[fid].statement != new_f[fid].statement
        or old_f[fid].corroboration != new_f[fid].corroboration
    ]
    summary = (
        f"{len(changed)} value(s) changed, {len(added)} cell(s) new, {len(removed)} removed, "
        f"{len(hidden)} newly hidden, {len(shown)} newly shown; {len(finding_changes)} finding(s) changed."
    )
    return Changes(
        previous=previous.snapshot.id,
        summary=summary,
        indicators_added=sorted(new_ids - old_ids),
        indicators_removed=sorted(old_ids - new_ids),
        indicators_redefined=redefined,
        values_changed=changed,
        cells_added=[CellRef(indicator=k[0], cell=k[1]) for k in added],
        cells_removed=[CellRef(indicator=k[0], cell=k[1]) for k in removed],
        newly_hidden=hidden,
        newly_shown=shown,
        findings=finding_changes,
    )


# --- the whole snapshot -------------------------------------------------------------------------------------


def build_snapshot(
    database_url: str, as_of: dt.date, snapshots_dir: Path, indicators_dir: Path = paths.INDICATORS
) -> SnapshotDocument:
    """The snapshot document: metadata, protected indicators with coverage, findings, and what changed."""
    indicators = load_indicators(indicators_dir)
    rules = load_disclosure_rules()
    finding_rules = load_finding_rules({i.id for i in indicators})
    # one state of the warehouse for every read: a steward's approval committed meanwhile is in all of them or none
    with reading(database_url) as conn:
        basis = evidence_basis(conn)
        pending = pending_batches(conn)
        results = compute_indicators(conn, indicators)
        label = labeller(conn)
        sources = sources_table(conn)
    digest = fingerprint(basis, indicators, key_secret(get_settings()))
    sid = snapshot_id(as_of, digest)
    protected_tables = {ind.id: protect_indicator(results[ind.id], rules) for ind in indicators}
    previous = previous_snapshot(snapshots_dir, sid)
    attack = audit_tables(indicators, results, protected_tables, rules, previous_for_audit(previous, basis, indicators))
    tables, for_findings = [], {}
    for ind in indicators:
        result = results[ind.id]
        protected = protected_tables[ind.id]
        rows = published_rows(ind, protected, rules)
        tables.append(
            IndicatorTable(
                id=ind.id,
                metadata=ind.metadata() | {"protection": rules.table_note() if ind.counts else "published as reported"},
                coverage=indicator_coverage(result, rules),
                rows=rows,
                hidden_cells=sum(1 for r in rows if r["disclosure"]),
                unstable_cells=sum(1 for r in rows if r["flag"]),
            )
        )
        for_findings[ind.id] = {
            "rows": finding_rows(ind, protected, rules),
            "coverage": result.coverage,
            "value": ind.values[0],
            "unit": ind.unit,
            "dimensions": list(ind.dimensions),
        }
    findings = build_findings(finding_rules, for_findings, label)
    coverage = coverage_summary(results, sources, label)
    meta = SnapshotMeta(
        id=sid,
        format=SNAPSHOT_FORMAT,
        as_of=as_of,
        fingerprint=digest,
        title=f"POP snapshot of {as_of:%d %B %Y}".replace(" 0", " "),
        approved_batches=basis,
        pending_batches=pending,
        disclosure=rules.as_metadata() | {"audit": audit_summary(attack)},
    )
    return SnapshotDocument(
        snapshot=meta,
        coverage=coverage,
        findings=findings,
        indicators=tables,
        labels=used_labels(tables, coverage, label),
        column_labels=column_labels(tables),
        changes=changes(previous, tables, findings),
    )


def used_labels(
    indicators: Sequence[IndicatorTable], coverage: Sequence[SourceCoverage], label: Callable[[str], str]
) -> dict[str, str]:
    """The label of every code and column name the snapshot publishes (so readers of the JSON get them too)."""
    codes: set[str] = set()
    for table in indicators:
        codes |= set(table.coverage.countries)
        codes |= {str(row[d]) for row in table.rows for d in table.metadata["dimensions"]}
    codes |= {c.code for s in coverage for c in s.countries}
    return {code: label(code) for code in sorted(codes)}


def column_labels(indicators: Sequence[IndicatorTable]) -> dict[str, str]:
    """The label of every published column name."""
    known = read_labels()["columns"]
    names = {
        c
        for t in indicators
        for c in t.metadata["dimensions"] + t.metadata["values"] + t.metadata["counts"] + t.metadata["attributes"]
    }
    return {name: known.get(name, name.replace("_", " ").capitalize()) for name in sorted(names)}
