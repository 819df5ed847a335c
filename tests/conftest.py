"""Test set-up: a quiet, fast, isolated Prefect (one harness per session) and a fresh warehouse per test on
SQLite and on PostgreSQL (POP_TEST_POSTGRES_URL; skipped outside CI when absent, a failure under CI=true)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_PREFECT_HOME = tempfile.mkdtemp(prefix="pop-prefect-")
for _name, _value in {
    "PREFECT_HOME": _PREFECT_HOME,
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # record keys derived with a fixed secret, so that keys and snapshots are the same from run to run
    "POP_RECORD_KEY_SECRET": "pop-tests-record-key-secret-not-for-production",
    # no batch is a small addition waiting for a steward, but in the tests of that rule (tests/tasks/ledger)
    "POP_REVIEW_PATH": str(Path(__file__).parent / "data" / "review_no_small_additions.yaml"),
    # tests write a file and ingest it at once; the settle interval is tested on its own (test_inbox.py)
    "POP_INBOX_SETTLE_SECONDS": "0",
}.items():
    os.environ[_name] = _value

import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from pop import paths  # noqa: E402
from pop.db import get_engine, upgrade  # noqa: E402
from pop.settings import reset_settings  # noqa: E402

DEMO_INBOX = paths.DEMO_INBOX
DEMO_REGISTRY = paths.SOURCES_FILE
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session, heartbeats off (they cost ~1 s per flow run)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        prefect_test_harness(server_startup_timeout=90),
    ):
        yield
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)


def postgres_server_url() -> str:
    """The PostgreSQL server URL for tests, or a skip (a failure under CI=true) when none is configured."""
    url = os.environ.get("POP_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("POP_TEST_POSTGRES_URL is not set under CI=true: .ci/run must provide the PostgreSQL server")
        pytest.skip(
            "PostgreSQL tests need POP_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    return url


def _fresh_postgres_database(server_url: str) -> tuple[str, Callable[[], None]]:
    name = f"pop_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip(f"PostgreSQL at {make_url(server_url).render_as_string(hide_password=True)} unreachable: {exc}")
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@contextmanager
def warehouse(backend: str, folder: Path) -> Iterator[str]:
    """An empty, migrated warehouse on `backend`: a SQLite file in `folder`, or a new PostgreSQL database."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'warehouse.sqlite'}"
        upgrade(url)
        yield url
        get_engine(url).dispose()
        return
    url, drop = _fresh_postgres_database(postgres_server_url())
    try:
        upgrade(url)
        yield url
    finally:
        drop()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated warehouse on each backend."""
    with warehouse(request.param, tmp_path) as url:
        yield url


@contextmanager
def demo_settings(outputs: Path, database_url: str, **more: str) -> Iterator[Path]:
    """Settings pointing at `outputs`, the demo registry and inbox, and the warehouse (plus POP_<NAME> = value for
    each of `more`) while inside; usable by fixtures of any scope."""
    values = {
        "OUTPUTS_DIR": str(outputs),
        "DATABASE_URL": database_url,
        "REGISTRY_PATH": str(DEMO_REGISTRY),
        "INBOX_DIR": str(DEMO_INBOX),
        **{name.upper(): value for name, value in more.items()},
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            patch.setenv(f"POP_{name}", value)
        reset_settings()
        try:
            yield outputs
        finally:
            reset_settings()


@contextmanager
def registry_settings(folder: Path, database_url: str, registry: Path) -> Iterator[Path]:
    """Settings for a registry of one's own (its files arriving in folder/inbox, no errata) and the warehouse, with
    the outputs in folder/outputs, while inside."""
    errata = folder / "no_errata.yaml"
    errata.write_text("errata: []\n", encoding="utf-8")
    more = {"registry_path": str(registry), "inbox_dir": str(folder / "inbox"), "errata_path": str(errata)}
    with demo_settings(folder / "outputs", database_url, **more) as outputs:
        yield outputs


@pytest.fixture
def pop_env(tmp_path: Path, database_url: str) -> Iterator[Path]:
    """Settings pointing at a temporary outputs folder, the demo registry and inbox, and the test warehouse."""
    with demo_settings(tmp_path / "outputs", database_url) as outputs:
        yield outputs
