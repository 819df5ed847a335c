"""Back the warehouse up to one self-contained file and restore it: SQLite through its online backup API (the pages
still in the -wal file included), PostgreSQL through pg_dump's custom format and pg_restore. A manifest beside the
backup holds its sha256, its schema revision and the row count of every table; a restore checks them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect, pool, text
from sqlalchemy.engine import URL, make_url

from pop.db import alembic_config, get_engine, redact

MANIFEST_SUFFIX = ".manifest.json"
NOT_DATA = {"alembic_version", "view_definitions"}  # bookkeeping, not evidence: a warehouse holding only these is empty
PG_ROOT = "/usr/lib/postgresql"  # Debian installs each version's tools in <version>/bin


class BackupError(RuntimeError):
    """A backup or restore that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds: its file's checksum and size, the schema revision, and every table's row count."""

    backend: str
    sha256: str
    size_bytes: int
    revision: str | None
    row_counts: dict[str, int]
    database: str  # the URL it was taken from, without its password
    created_at: str

    @property
    def rows(self) -> int:
        return sum(n for t, n in self.row_counts.items() if t not in NOT_DATA)


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def row_counts(connection: Connection) -> dict[str, int]:
    """Every table's row count (views left out)."""
    return {
        name: connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
        for name in sorted(inspect(connection).get_table_names())
    }


def _revision(counts: dict[str, int], connection: Connection) -> str | None:
    if "alembic_version" not in counts:
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _sqlite_file(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{redact(url)} is not a SQLite file")
    return Path(database)


def _installed() -> list[str]:
    """The bin folders of the PostgreSQL versions Debian installed, newest first."""
    found = [p for p in Path(PG_ROOT).glob("*/bin") if p.parent.name.split(".")[0].isdigit()]
    return [str(p) for p in sorted(found, key=lambda p: int(p.parent.name.split(".")[0]), reverse=True)]


def pg_tool(name: str, folder: Path | None) -> str:
    """The path of pg_dump or pg_restore: in `folder` when given, else on PATH, else the newest Debian install."""
    places = [str(folder)] if folder is not None else [os.environ.get("PATH", ""), *_installed()]
    found = next((hit for place in places if (hit := shutil.which(name, path=place))), None)
    if not found:
        where = str(folder) if folder is not None else f"PATH, {PG_ROOT}/*/bin"
        raise BackupError(
            f"{name} not found ({where}): install the PostgreSQL client of the server's major version "
            "(Debian: apt-get install postgresql-client) or set POP_PG_BIN_DIR to the folder that holds it"
        )
    return found


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment that gives it (never on a command line)."""
    parsed: URL = make_url(url)
    env = {**os.environ}
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], url: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().replace(str(make_url(url).password or "\0"), "***")
        raise BackupError(f"{Path(command[0]).name} failed (exit {done.returncode}): {message}")


def _write_manifest(backup: Path, backend: str, revision: str | None, counts: dict[str, int], url: str) -> Manifest:
    backup.chmod(0o600)  # the evidence: readable by its owner only, as the warehouse should be
    manifest = Manifest(
        backend=backend,
        sha256=sha256_of(backup),
        size_bytes=backup.stat().st_size,
        revision=revision,
        row_counts=counts,
        database=redact(url),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    manifest_path(backup).write_text(json.dumps(manifest.__dict__, indent=2) + "\n", encoding="utf-8")
    return manifest


def _backup_sqlite(url: str, target: Path) -> Manifest:
    source = _sqlite_file(url)
    if not source.exists():
        raise BackupError(f"there is no warehouse at {source}")
    draft = target.with_name(f".{target.name}.part")
    draft.unlink(missing_ok=True)
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(draft)) as copy:
        live.backup(copy)  # one consistent state, the pages in the -wal file included
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file: no -wal beside it
        counts = {
            name: copy.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
            for (name,) in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            if not name.startswith("sqlite_")
        }
        revision = (
            copy.execute("SELECT version_num FROM alembic_version").fetchone() if "alembic_version" in counts else None
        )
    draft.replace(target)
    return _write_manifest(target, "sqlite", revision[0] if revision else None, counts, url)


def _backup_postgres(url: str, target: Path, bin_dir: Path | None) -> Manifest:
    pg_dump = pg_tool("pg_dump", bin_dir)
    uri, env = _libpq(url)
    engine = create_engine(url, poolclass=pool.NullPool, isolation_level="REPEATABLE READ")
    with engine.connect() as connection:  # the counts and the dump read the one snapshot this transaction exports
        snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        counts = row_counts(connection)
        revision = _revision(counts, connection)
        _run([pg_dump, "-Fc", "--no-owner", f"--snapshot={snapshot}", "-f", str(target), "-d", uri], env, url)
    engine.dispose()
    return _write_manifest(target, "postgresql", revision, counts, url)


def backup(url: str, target: Path, bin_dir: Path | None = None) -> Manifest:
    """Write one consistent, self-contained copy of the warehouse to `target`, and its manifest beside it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if make_url(url).get_backend_name() == "sqlite":
        return _backup_sqlite(url, target)
    return _backup_postgres(url, target, bin_dir)


def read_manifest(backup_file: Path) -> Manifest:
    """The backup's manifest, checked against the file (its checksum)."""
    where = manifest_path(backup_file)
    if not backup_file.is_file():
        raise BackupError(f"there is no backup file {backup_file}")
    if not where.is_file():
        raise BackupError(f"{backup_file} has no manifest beside it ({where.name}): it was not written by pop backup")
    manifest = Manifest(**json.loads(where.read_text(encoding="utf-8")))
    if sha256_of(backup_file) != manifest.sha256:
        raise BackupError(f"{backup_file} is not the file its manifest describes (its sha256 differs): it is damaged")
    return manifest


def _known_revisions(url: str) -> list[str]:
    return [s.revision for s in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()]


@contextmanager
def _released(url: str) -> Iterator[None]:
    """No pooled connection of ours holds the warehouse while it is replaced, nor keeps a stale view of it."""
    get_engine(url).dispose()
    try:
        yield
    finally:
        get_engine(url).dispose()


def warehouse_rows(url: str) -> dict[str, int]:
    """Every table's row count in the warehouse now."""
    with get_engine(url).connect() as connection:
        return row_counts(connection)


def restore(url: str, backup_file: Path, force: bool = False, bin_dir: Path | None = None) -> dict[str, int]:
    """Replace the warehouse with the backup (refused over a warehouse holding rows unless forced, and for a backup
    of a schema newer than this code knows); the restored row counts, checked against the manifest."""
    manifest = read_manifest(backup_file)
    backend = make_url(url).get_backend_name()
    if manifest.backend != backend:
        raise BackupError(f"{backup_file} is a {manifest.backend} backup; the warehouse is {backend}")
    if manifest.revision is not None and manifest.revision not in _known_revisions(url):
        raise BackupError(
            f"{backup_file} holds schema revision {manifest.revision}, newer than this code knows: restore it with "
            "the version of the pipeline that wrote it"
        )
    present = warehouse_rows(url) if backend != "sqlite" or _sqlite_file(url).exists() else {}
    held = {t: n for t, n in present.items() if n and t not in NOT_DATA}
    if held and not force:
        listed = ", ".join(f"{t} ({n:,})" for t, n in sorted(held.items()))
        raise BackupError(f"refused: the warehouse holds rows ({listed}); back it up, then pass --force to replace it")
    with _released(url):
        if backend == "sqlite":
            target = _sqlite_file(url)
            target.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(backup_file)) as copy, closing(sqlite3.connect(target)) as live:
                copy.backup(live)
        else:
            _restore_postgres(url, backup_file, manifest, set(present), bin_dir)
    restored = warehouse_rows(url)
    if restored != manifest.row_counts:
        raise BackupError(f"the restored warehouse's row counts differ from the manifest's: {restored}")
    return restored


def _restore_postgres(url: str, backup_file: Path, manifest: Manifest, present: set[str], bin_dir: Path | None) -> None:
    pg_restore = pg_tool("pg_restore", bin_dir)
    extra = sorted(present - set(manifest.row_counts))
    if extra:  # tables of a later schema the backup does not hold: they would outlive it and break the next upgrade
        with get_engine(url).begin() as connection:
            for name in extra:
                connection.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
    uri, env = _libpq(url)
    command = [pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error"]
    _run([*command, "-d", uri, str(backup_file)], env, url)
