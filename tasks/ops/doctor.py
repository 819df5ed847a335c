"""Is this set-up sound? One check each for the settings, the warehouse (reachable, migrated to head), the Prefect
API, the folders, the registry and schemas, the record-key secret and alerts; each says what to fix."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr, ValidationError
from sqlalchemy import create_engine, func, inspect, pool, select, table
from sqlalchemy.engine import make_url

from pop.db import redact
from pop.models import FACT_TABLES
from pop.record_keys import MAX_SECRET_BYTES, MIN_SECRET_BYTES, SECRET_FILE
from pop.settings import Settings
from tasks.ops.migrate import head_revision


class Verdict(StrEnum):
    OK = "ok"
    WARN = "warn"  # worth knowing, not wrong
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One check: what was checked, its verdict, what was found and, when wrong, what to do."""

    name: str
    verdict: Verdict
    found: str
    fix: str = ""


def masked_settings(settings: Settings) -> dict[str, str]:
    """Every setting as text, secrets masked and the database URL without its password."""
    shown = {}
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = "********" if value.get_secret_value() else ""
        elif name == "database_url" and value:
            value = redact(value)
        shown[name] = "" if value is None else str(value)
    shown["warehouse_url"] = redact(settings.warehouse_url)
    return shown


def check_database(settings: Settings) -> tuple[list[Check], int]:
    """The warehouse is reachable and migrated to head; with the rows its fact tables hold."""
    url = settings.warehouse_url
    shown = redact(url)
    if make_url(url).get_backend_name() == "sqlite":
        file = Path(make_url(url).database or "")
        if not file.is_file():
            fix = "pop migrate creates it (pop run does too); or set POP_DATABASE_URL to the warehouse"
            return [Check("database", Verdict.FAIL, f"no warehouse file at {file}", fix)], 0
        url = f"sqlite:///file:{file}?mode=ro&uri=true"  # read only: the doctor changes nothing
    args: dict[str, Any] = {"connect_timeout": 5} if make_url(url).get_backend_name() == "postgresql" else {}
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=args)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            present = set(inspect(connection).get_table_names())
            facts = sum(
                connection.execute(select(func.count()).select_from(table(t))).scalar_one()
                for t in FACT_TABLES
                if t in present
            )
    except Exception as exc:  # any failure to connect is the finding
        reason = str(exc).split("\n")[0].replace(str(make_url(settings.warehouse_url).password or "\0"), "***")
        fix = "start the database server, check POP_DATABASE_URL (host, port, user, database) and its password"
        return [Check("database", Verdict.FAIL, f"{shown} unreachable: {reason}", fix)], 0
    finally:
        engine.dispose()
    checks = [Check("database", Verdict.OK, f"{shown} reachable")]
    head = head_revision(settings.warehouse_url)
    if current == head:
        checks.append(Check("schema", Verdict.OK, f"migrated to head ({head})"))
    else:
        found = f"at revision {current or 'none (empty)'}, head is {head}"
        checks.append(Check("schema", Verdict.FAIL, found, "pop migrate (back the warehouse up first: pop backup)"))
    return checks, facts


def check_prefect() -> Check:
    """The Prefect API answers, when one is set; else the temporary local server will be used."""
    from prefect.settings import get_current_settings

    api = get_current_settings().api.url
    if not api:
        return Check("prefect", Verdict.OK, "PREFECT_API_URL not set: each run starts a temporary local server", "")
    try:
        answer = httpx.get(f"{api.rstrip('/')}/health", timeout=5)
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        fix = "start it (prefect server start) or correct PREFECT_API_URL"
        return Check("prefect", Verdict.FAIL, f"Prefect API {api} unreachable: {exc}", fix)
    return Check("prefect", Verdict.OK, f"Prefect API {api} answers")


def _writable(folder: Path) -> str | None:
    """Why `folder` cannot be written to, or made (None: it can); nothing is left behind."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".pop-doctor-"):
            pass
    except OSError as exc:
        return f"{existing}: {exc.strerror or exc}"
    return None


def check_folders(settings: Settings) -> list[Check]:
    """The outputs folders can be written to (or made); the inbox exists and can be read."""
    checks = []
    wanted = {"outputs": settings.outputs_dir, "landing": settings.outputs.landing, "reports": settings.outputs.reports}
    for name, folder in {**wanted, "snapshots": settings.outputs.snapshots}.items():
        why = _writable(Path(folder))
        if why:
            fix = f"make {folder} a folder this user can write to, or set POP_OUTPUTS_DIR"
            checks.append(Check(f"folder {name}", Verdict.FAIL, f"{folder}: {why}", fix))
        else:
            made = "writable" if Path(folder).is_dir() else "not there yet; can be made"
            checks.append(Check(f"folder {name}", Verdict.OK, f"{folder} {made}"))
    inbox = Path(settings.inbox_dir)
    if inbox.is_dir() and os.access(inbox, os.R_OK | os.X_OK):
        checks.append(Check("folder inbox", Verdict.OK, f"{inbox} readable"))
    else:
        fix = "create it (the sources' files arrive in its subfolders) or set POP_INBOX_DIR"
        checks.append(Check("folder inbox", Verdict.FAIL, f"{inbox} is not a readable folder", fix))
    return checks


def check_registry(settings: Settings) -> list[Check]:
    """The group schemas, vocabularies and the source registry load and agree."""
    from pop.registry import load_registry
    from schemas.spec import GROUPS, load_schema
    from schemas.vocabulary import vocabularies

    try:
        for group in GROUPS:
            load_schema(group)
        vocabularies()
    except Exception as exc:  # a schema or vocabulary that does not load: its message says which and why
        return [Check("schemas", Verdict.FAIL, str(exc), "correct the file it names under schemas/")]
    checks = [Check("schemas", Verdict.OK, f"{len(GROUPS)} group schemas and their vocabularies load")]
    try:
        registry = load_registry(settings.registry_path)
    except Exception as exc:  # RegistryError names the entry and what to fix
        checks.append(Check("registry", Verdict.FAIL, str(exc), f"correct {settings.registry_path}, then pop sources"))
    else:
        checks.append(Check("registry", Verdict.OK, f"{settings.registry_path}: {len(registry.sources)} sources"))
    return checks


def check_record_key_secret(settings: Settings, fact_rows: int = 0) -> Check:
    """The secret record keys are derived with is set (the setting or its file) and sound; never printed. Missing
    while the warehouse holds fact rows, it is wrong: rows loaded next would get keys unrelated to theirs."""
    fix = f"set POP_RECORD_KEY_SECRET to {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes (e.g. 64 hex digits)"
    if settings.record_key_secret is not None:
        length = len(settings.record_key_secret.get_secret_value().encode("utf-8"))
        if MIN_SECRET_BYTES <= length <= MAX_SECRET_BYTES:
            return Check("record-key secret", Verdict.OK, "POP_RECORD_KEY_SECRET set")
        return Check("record-key secret", Verdict.FAIL, f"POP_RECORD_KEY_SECRET is {length} bytes long", fix)
    path = Path(settings.outputs_dir) / SECRET_FILE
    if not path.is_file() and fact_rows:
        found = f"no {path} and no POP_RECORD_KEY_SECRET, while the warehouse holds {fact_rows:,} fact rows"
        return Check("record-key secret", Verdict.FAIL, found, "restore the secret the rows were keyed with")
    if not path.is_file():
        found = f"no {path} yet: the first load makes it (keep it with the warehouse: backups do not hold it)"
        return Check("record-key secret", Verdict.WARN, found, "or set POP_RECORD_KEY_SECRET")
    length = len(path.read_bytes().strip())
    if not MIN_SECRET_BYTES <= length <= MAX_SECRET_BYTES:
        return Check("record-key secret", Verdict.FAIL, f"{path} holds {length} bytes", fix)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        return Check("record-key secret", Verdict.FAIL, f"{path} can be read by others", f"chmod 600 {path}")
    return Check("record-key secret", Verdict.OK, f"{path} (readable by its owner only)")


def check_alerts(settings: Settings) -> Check:
    """Whether failed runs notify anyone (the webhook's host only: its path may hold a token)."""
    if settings.alert_webhook_url is None:
        return Check("alerts", Verdict.WARN, "POP_ALERT_WEBHOOK_URL not set: failed runs notify no one")
    url = httpx.URL(settings.alert_webhook_url.get_secret_value())
    if url.scheme not in ("http", "https") or not url.host:
        return Check("alerts", Verdict.FAIL, "POP_ALERT_WEBHOOK_URL is not an http(s) URL", "give an http(s) URL")
    return Check("alerts", Verdict.OK, f"failed runs are posted to {url.scheme}://{url.host}")


def diagnose(load: Callable[[], Settings] = Settings) -> tuple[dict[str, str], list[Check]]:
    """The settings (masked) and every check's verdict."""
    try:
        settings = load()
    except ValidationError as exc:
        wrong = "; ".join(f"POP_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        return {}, [Check("settings", Verdict.FAIL, wrong, "correct these environment variables (or .env)")]
    checks = [Check("settings", Verdict.OK, "read from the environment (and .env)")]
    database, fact_rows = check_database(settings)
    checks += database
    checks.append(check_prefect())
    checks += check_folders(settings)
    checks += check_registry(settings)
    checks.append(check_record_key_secret(settings, fact_rows))
    checks.append(check_alerts(settings))
    return masked_settings(settings), checks
