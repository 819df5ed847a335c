"""Cross-source comparisons: what only a multi-source warehouse can see (two reporters of one number, a total
against its breakdown, survey weights against their declared total, online against total contacts across reports).
Each check is one portable SQL file under sql/discrepancies with a metadata header, reading the current_* views
(pop.views); its tolerance and declared values are data in config/discrepancies.yaml. Every discrepancy found is for
stewards to review (table discrepancies), never a load failure."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, model_validator
from sqlalchemy import Connection, insert, select, text, update

from pop import paths
from pop.config import ConfigError, load_config
from pop.contracts import Discrepancy, DiscrepancyStatus
from pop.db import get_engine, utcnow, writing
from pop.models import DiscrepancyRecord
from pop.sql_header import header_list, read_sql_file

log = logging.getLogger(__name__)

DISCREPANCIES = DiscrepancyRecord.__table__
DECLARED_TABLE = "pop_declared"  # temporary table: (declared, item, value) from the config's declared mappings
HEADER_FIELDS = ("id", "title", "description", "compares", "tolerance", "default")


class DiscrepancyError(ConfigError):
    """A check file or the discrepancies config cannot be used; the message says what to fix."""


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
    sql, fields = read_sql_file(path, HEADER_FIELDS, DiscrepancyError)
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
    """Every check under sql/discrepancies, in file-name order."""
    return [load_check(path) for path in sorted(folder.glob("*.sql"))]


def _non_negative(value: Any) -> float:
    """A finite number of at least 0 (not a yes/no)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{value!r} is not a number of at least 0")
    return float(value)


Tolerance = Annotated[Any, AfterValidator(_non_negative)]


class DiscrepancyConfig(BaseModel):
    """config/discrepancies.yaml: `tolerances` (parameter → value) and, under any other key, a declared mapping
    (name → {item: value}) that checks read from the temporary table pop_declared. Every name must be one a check
    in sql/discrepancies uses (a typo would otherwise be silently ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tolerances: dict[str, Tolerance] = {}
    declared: dict[str, dict[str, Tolerance]] = {}

    @model_validator(mode="before")
    @classmethod
    def _other_keys_are_declared_mappings(cls, doc: Any) -> Any:
        if doc is None:
            return {}
        if not isinstance(doc, dict):
            raise ValueError("expected a mapping: tolerances and declared values by name")
        declared = {name: {} if mapping is None else mapping for name, mapping in doc.items() if name != "tolerances"}
        return {"tolerances": doc.get("tolerances") or {}, "declared": declared}

    @model_validator(mode="after")
    def _every_name_is_used(self, info: ValidationInfo) -> DiscrepancyConfig:
        checks: list[Check] | None = (info.context or {}).get("checks")
        if checks is None:
            return self
        tolerances = {c.tolerance for c in checks}
        declared = {name for c in checks for name in c.declared}
        unknown = sorted(set(self.tolerances) - tolerances) + sorted(set(self.declared) - declared)
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} not used by any check in sql/discrepancies "
                f"(tolerances: {', '.join(sorted(tolerances))}; declared: {', '.join(sorted(declared))})"
            )
        return self

    def parameters(self, check: Check) -> dict[str, float]:
        """The check's bound parameters: its tolerance from the config, else the header's default."""
        return {check.tolerance: float(self.tolerances.get(check.tolerance, check.default))}


def load_discrepancy_config(path: Path | None = None, checks: list[Check] | None = None) -> DiscrepancyConfig:
    """config/discrepancies.yaml, checked (against `checks` when given); none when the file is absent."""
    path = path or paths.DISCREPANCIES_FILE
    if not path.exists():
        return DiscrepancyConfig()
    return load_config(
        path,
        DiscrepancyConfig,
        what="discrepancies config",
        entries={"declared": "declared values"},
        context={"checks": checks} if checks is not None else None,
        error=DiscrepancyError,
    )


# --- running the checks ---------------------------------------------------------------------------------------


def fill_declared(conn: Connection, config: DiscrepancyConfig, names: set[str]) -> None:
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
        for item, value in config.declared.get(name, {}).items()
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
        raise DiscrepancyError(f"{check.path.name}: the check failed to run ({exc.__class__.__name__}: {exc})") from exc
    subjects = [row["subject"] for row in rows]
    if len(set(subjects)) != len(subjects):
        raise DiscrepancyError(f"{check.path.name}: the check returned the same subject twice")
    return rows


def _discrepancy_values(row: dict[str, Any], run_id: str, now: dt.datetime) -> dict[str, Any]:
    """The columns a discrepancy gets from a check row: its numbers (all but the subject) and when it was seen."""
    details = {k: v for k, v in row.items() if k != "subject"}
    return {"details_json": json.dumps(details), "last_seen_at": now, "run_id": run_id}


def record_discrepancies(
    conn: Connection, check: Check, rows: list[dict[str, Any]], run_id: str, now: dt.datetime
) -> None:
    """Upsert the check's discrepancies: new ones open; seen ones keep first_seen_at and status (resolved reopens)."""
    table = DISCREPANCIES
    existing = {
        r.subject: r
        for r in conn.execute(
            select(table.c.discrepancy_id, table.c.subject, table.c.status).where(table.c.check_id == check.id)
        )
    }
    for row in rows:
        values = _discrepancy_values(row, run_id, now)
        old = existing.get(row["subject"])
        if old is None:
            conn.execute(
                insert(table).values(
                    check_id=check.id,
                    subject=row["subject"],
                    status=DiscrepancyStatus.OPEN,
                    first_seen_at=now,
                    **values,
                )
            )
        else:
            status = DiscrepancyStatus.OPEN if old.status == DiscrepancyStatus.RESOLVED else old.status
            conn.execute(
                update(table).where(table.c.discrepancy_id == old.discrepancy_id).values(status=status, **values)
            )


def resolve_missing(conn: Connection, seen: set[tuple[str, str]]) -> int:
    """Mark resolved every unresolved discrepancy this run did not find again; how many."""
    table = DISCREPANCIES
    stale = [
        r.discrepancy_id
        for r in conn.execute(
            select(table.c.discrepancy_id, table.c.check_id, table.c.subject).where(
                table.c.status != DiscrepancyStatus.RESOLVED
            )
        )
        if (r.check_id, r.subject) not in seen
    ]
    if stale:
        conn.execute(update(table).where(table.c.discrepancy_id.in_(stale)).values(status=DiscrepancyStatus.RESOLVED))
    return len(stale)


def unresolved(conn: Connection, checks: list[Check]) -> list[Discrepancy]:
    """Every discrepancy not resolved, by check and subject."""
    table = DISCREPANCIES
    titles = {c.id: c.title for c in checks}
    rows = conn.execute(
        select(table.c.check_id, table.c.subject, table.c.details_json, table.c.status)
        .where(table.c.status != DiscrepancyStatus.RESOLVED)
        .order_by(table.c.check_id, table.c.subject)
    )
    return [
        Discrepancy(
            check_id=r.check_id,
            title=titles.get(r.check_id, r.check_id),
            subject=r.subject,
            details=json.loads(r.details_json),
            status=r.status,
        )
        for r in rows
    ]


def check_discrepancies(database_url: str, run_id: str, config_path: Path | None = None) -> list[Discrepancy]:
    """Run every check in sql/discrepancies, record what it finds, resolve what vanished; the unresolved ones."""
    checks = load_checks()
    config = load_discrepancy_config(config_path, checks)
    now = utcnow()
    seen: set[tuple[str, str]] = set()
    with writing(database_url) as conn:
        fill_declared(conn, config, {name for c in checks for name in c.declared})
        for check in checks:
            rows = run_check(conn, check, config.parameters(check))
            record_discrepancies(conn, check, rows, run_id, now)
            seen |= {(check.id, row["subject"]) for row in rows}
            log.info("cross-source check %s: %d discrepancy(ies)", check.id, len(rows))
        conn.execute(text(f"DROP TABLE {DECLARED_TABLE}"))
        resolve_missing(conn, seen)
        return unresolved(conn, checks)


def open_discrepancies(database_url: str) -> list[Discrepancy]:
    """The unresolved discrepancies as the last check recorded them (nothing is checked again)."""
    with get_engine(database_url).connect() as conn:
        return unresolved(conn, load_checks())


def artifact_rows(discrepancies: list[Discrepancy]) -> list[dict[str, Any]]:
    """One flat row per discrepancy for a Prefect table artifact (the numbers as `name=value` text)."""
    return [
        {
            "check": d.check_id,
            "subject": d.subject,
            "status": d.status,
            "numbers": ", ".join(f"{k}={v}" for k, v in d.details.items()),
        }
        for d in discrepancies
    ]
