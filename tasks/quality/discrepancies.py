"""Cross-source consistency checks: what only a multi-source warehouse can see (two reporters of one number, a
total against its breakdown, survey weights against their declared total, online against total contacts across
reports). Each check is one portable SQL file under sql/checks with a metadata header; its tolerance and declared
values are data in config/consistency.yaml. Every discrepancy is a finding for stewards (consistency_findings),
never a load failure."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, insert, select, text, update

from pop import paths
from pop.db import get_engine, utcnow
from pop.models import ConsistencyFinding
from pop.sql_header import header_list, read_sql_file

log = logging.getLogger(__name__)

FINDINGS = ConsistencyFinding.__table__
DECLARED_TABLE = "pop_declared"  # temporary table: (declared, item, value) from the config's declared mappings
HEADER_FIELDS = ("id", "title", "description", "compares", "tolerance", "default")


class ConsistencyError(ValueError):
    """A check file or the consistency config cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Check:
    """One check: its metadata header and its SQL (one row per discrepancy, with a `subject` column)."""

    id: str
    title: str
    description: str
    compares: str
    tolerance: str  # the name of the bound tolerance parameter
    default: float
    declared: tuple[str, ...]  # config mappings the SQL reads from the temporary table pop_declared
    sql: str
    path: Path


# --- check files and config ---------------------------------------------------------------------------------


def load_check(path: Path) -> Check:
    """A check file with its header checked: every field present and the id equal to the file name."""
    sql, fields = read_sql_file(path, HEADER_FIELDS, ConsistencyError)
    declared = header_list(fields.get("declared"))
    return Check(
        id=fields["id"],
        title=fields["title"],
        description=fields["description"],
        compares=fields["compares"],
        tolerance=fields["tolerance"],
        default=float(fields["default"]),
        declared=declared,
        sql=sql.strip().rstrip(";"),
        path=path,
    )


def load_checks(folder: Path = paths.DISCREPANCY_CHECKS) -> list[Check]:
    """Every check under sql/checks, in file-name order."""
    return [load_check(path) for path in sorted(folder.glob("*.sql"))]


def _number(value: Any, where: str) -> float:
    """A config value that must be a finite number of at least 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConsistencyError(f"{where}: {value!r} is not a number of at least 0")
    return float(value)


def load_config(path: Path | None = None) -> dict[str, Any]:
    """config/consistency.yaml: `tolerances` (parameter → value) and declared mappings (name → {item: value})."""
    path = path or paths.DISCREPANCIES_FILE
    config = (yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}
    if not isinstance(config, dict):
        raise ConsistencyError(f"{path.name}: expected a mapping at the top")
    for name, mapping in config.items():
        if not isinstance(mapping or {}, dict):
            raise ConsistencyError(f"{path.name}: {name} must be a mapping")
        for key, value in (mapping or {}).items():
            _number(value, f"{path.name}: {name}.{key}")
    return {name: dict(mapping or {}) for name, mapping in config.items()}


def check_config(config: dict[str, Any], checks: list[Check]) -> None:
    """Refuse a tolerance or declared mapping no check uses (a typo would otherwise be silently ignored)."""
    tolerances = {c.tolerance for c in checks}
    declared = {name for c in checks for name in c.declared}
    unknown = sorted(set(config.get("tolerances", {})) - tolerances)
    unknown += sorted(set(config) - declared - {"tolerances"})
    if unknown:
        raise ConsistencyError(
            f"consistency config: {', '.join(unknown)} not used by any check in sql/checks "
            f"(tolerances: {', '.join(sorted(tolerances))}; "
            f"declared: {', '.join(sorted(declared))})"
        )


def parameters(check: Check, config: dict[str, Any]) -> dict[str, float]:
    """The check's bound parameters: its tolerance from the config, else the header's default."""
    return {check.tolerance: float(config.get("tolerances", {}).get(check.tolerance, check.default))}


# --- running the checks ---------------------------------------------------------------------------------------


def fill_declared(conn: Connection, config: dict[str, Any], names: set[str]) -> None:
    """The temporary table pop_declared with the config's declared values the checks read."""
    conn.execute(
        text(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {DECLARED_TABLE} "
            "(declared VARCHAR(80), item VARCHAR(400), value DOUBLE PRECISION)"
        )
    )
    conn.execute(text(f"DELETE FROM {DECLARED_TABLE}"))
    rows = [
        {"declared": name, "item": str(item), "value": float(value)}
        for name in sorted(names)
        for item, value in config.get(name, {}).items()
    ]
    if rows:
        conn.execute(
            text(f"INSERT INTO {DECLARED_TABLE} (declared, item, value) VALUES (:declared, :item, :value)"), rows
        )


def plain(value: Any) -> Any:
    """A database number as JSON likes it: whole numbers as int, others as float rounded to 6 decimals."""
    if isinstance(value, (Decimal, float)) and not isinstance(value, bool):
        if math.isfinite(value) and float(value).is_integer():
            return int(value)
        return round(float(value), 6)
    return value


def run_check(conn: Connection, check: Check, params: dict[str, float]) -> list[dict[str, Any]]:
    """The check's discrepancies: one dict per row, `subject` plus the numbers side by side."""
    try:
        rows = [{k: plain(v) for k, v in row.items()} for row in conn.execute(text(check.sql), params).mappings()]
    except Exception as exc:
        raise ConsistencyError(f"{check.path.name}: the check failed to run ({exc.__class__.__name__}: {exc})") from exc
    subjects = [row["subject"] for row in rows]
    if len(set(subjects)) != len(subjects):
        raise ConsistencyError(f"{check.path.name}: the check returned the same subject twice")
    return rows


def _finding_values(row: dict[str, Any], run_id: str, now: dt.datetime) -> dict[str, Any]:
    """The columns a finding gets from a check row: its numbers (all but the subject) and when it was seen."""
    details = {k: v for k, v in row.items() if k != "subject"}
    return {"details_json": json.dumps(details), "last_seen_at": now, "run_id": run_id}


def record_findings(conn: Connection, check: Check, rows: list[dict[str, Any]], run_id: str, now: dt.datetime) -> None:
    """Upsert the check's discrepancies: new ones open; seen ones keep first_seen_at and status (resolved reopens)."""
    existing = {
        r.subject: r
        for r in conn.execute(
            select(FINDINGS.c.finding_id, FINDINGS.c.subject, FINDINGS.c.status).where(FINDINGS.c.check_id == check.id)
        )
    }
    for row in rows:
        values = _finding_values(row, run_id, now)
        old = existing.get(row["subject"])
        if old is None:
            conn.execute(
                insert(FINDINGS).values(
                    check_id=check.id, subject=row["subject"], status="open", first_seen_at=now, **values
                )
            )
        else:
            status = "open" if old.status == "resolved" else old.status
            conn.execute(
                update(FINDINGS).where(FINDINGS.c.finding_id == old.finding_id).values(status=status, **values)
            )


def resolve_missing(conn: Connection, seen: set[tuple[str, str]]) -> int:
    """Mark resolved every unresolved finding this run did not see again; how many."""
    stale = [
        r.finding_id
        for r in conn.execute(
            select(FINDINGS.c.finding_id, FINDINGS.c.check_id, FINDINGS.c.subject).where(
                FINDINGS.c.status != "resolved"
            )
        )
        if (r.check_id, r.subject) not in seen
    ]
    if stale:
        conn.execute(update(FINDINGS).where(FINDINGS.c.finding_id.in_(stale)).values(status="resolved"))
    return len(stale)


def current_findings(conn: Connection, checks: list[Check]) -> list[dict[str, Any]]:
    """Every finding not resolved: [{check_id, title, subject, details, status}], by check and subject."""
    titles = {c.id: c.title for c in checks}
    rows = conn.execute(
        select(FINDINGS.c.check_id, FINDINGS.c.subject, FINDINGS.c.details_json, FINDINGS.c.status)
        .where(FINDINGS.c.status != "resolved")
        .order_by(FINDINGS.c.check_id, FINDINGS.c.subject)
    )
    return [
        {
            "check_id": r.check_id,
            "title": titles.get(r.check_id, r.check_id),
            "subject": r.subject,
            "details": json.loads(r.details_json),
            "status": r.status,
        }
        for r in rows
    ]


def check_discrepancies(database_url: str, run_id: str, config_path: Path | None = None) -> list[dict]:
    """Run every check in sql/checks, record its findings, resolve vanished ones; the current open findings."""
    checks = load_checks()
    config = load_config(config_path)
    check_config(config, checks)
    now = utcnow()
    seen: set[tuple[str, str]] = set()
    with get_engine(database_url).begin() as conn:
        fill_declared(conn, config, {name for c in checks for name in c.declared})
        for check in checks:
            rows = run_check(conn, check, parameters(check, config))
            record_findings(conn, check, rows, run_id, now)
            seen |= {(check.id, row["subject"]) for row in rows}
            log.info("consistency check %s: %d finding(s)", check.id, len(rows))
        conn.execute(text(f"DROP TABLE {DECLARED_TABLE}"))
        resolve_missing(conn, seen)
        return current_findings(conn, checks)


def artifact_rows(findings: list[dict]) -> list[dict[str, Any]]:
    """One flat row per finding for a Prefect table artifact (the numbers as `name=value` text)."""
    return [
        {
            "check": f["check_id"],
            "subject": f["subject"],
            "status": f["status"],
            "numbers": ", ".join(f"{k}={v}" for k, v in f["details"].items()),
        }
        for f in findings
    ]
