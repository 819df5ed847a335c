"""Deployments on a real Prefect server, end to end (issue 12, point 6): `prefect server start` on 127.0.0.1 with its
own home and database in a temporary folder, the process work pool, every deployment of prefect.yaml deployed with
`prefect deploy --all`, one process worker; the ingest and snapshot deployments run through the server and the
worker, and the warehouse and outputs they leave are checked, as are the schedules and concurrency limits the
server reports. Everything started here is stopped by process id (its process group and its descendants).

One server, one worker, runs one after another: about a minute. It never skips (under CI=true neither); the run
with the warehouse on PostgreSQL needs POP_TEST_POSTGRES_URL, as every PostgreSQL test."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
import yaml
from sqlalchemy import text

from pop import paths
from pop.db import get_engine
from tests.conftest import DEMO_INBOX, DEMO_REGISTRY, postgres_server_url, warehouse

PREFECT = Path(sys.executable).with_name("prefect")  # the venv's own prefect
PREFECT_YAML = yaml.safe_load((paths.ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS = {d["name"]: d for d in PREFECT_YAML["deployments"]}
EXPECTED = yaml.safe_load((paths.ROOT / "demo" / "expected_defects.yaml").read_text(encoding="utf-8"))
AS_OF = "2024-03-01"  # the demo data are from 2022-2023: judged on this day, every source is fresh
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Stop a process started here, by its id: its descendants (a worker's flow runs start sessions of their own)
    and its process group, SIGTERM first, SIGKILL after 10 s."""
    try:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)  # started with start_new_session: its group id is its pid
    for member in family[1:]:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _gone, alive = psutil.wait_procs(family, timeout=10)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@dataclass
class Server:
    """A Prefect server with the project deployed and one process worker."""

    api: str
    env: dict[str, str]
    folder: Path
    logs: Path

    def prefect(self, *args: str, timeout: float = 120, **env: str) -> str:
        """Run the prefect CLI against this server; its output (a failure shows the output and the server's log)."""
        done = subprocess.run(
            [str(PREFECT), *args],
            cwd=paths.ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}\n{self.log_tail()}"
        return done.stdout

    def get(self, path: str) -> dict | list:
        return httpx.get(f"{self.api}{path}", timeout=30).raise_for_status().json()

    def post(self, path: str, body: dict) -> dict | list:
        return httpx.post(f"{self.api}{path}", json=body, timeout=30).raise_for_status().json()

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {log.name}:\n{log.read_text(errors='replace')[-4000:]}" for log in sorted(self.logs.glob("*.log"))
        )

    def start(self, deployment: str, *args: str) -> str:
        """Create a flow run of a deployment (`prefect deployment run`) for the worker to pick up; its id."""
        out = self.prefect("deployment", "run", deployment, *args)
        [run_id] = re.findall(r"UUID: ([0-9a-f-]{36})", out)
        return run_id

    def wait(self, run_id: str, timeout: float = 300) -> dict:
        """The flow run as the server reports it once it has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            flow_run = self.get(f"/flow_runs/{run_id}")
            if flow_run["state_type"] in FINAL:
                return flow_run
            time.sleep(1)
        pytest.fail(f"flow run {run_id} did not end in {timeout} s:\n{self.log_tail()}")


def _environment(folder: Path, port: int) -> dict[str, str]:
    """What every process started here sees: this session's environment without its Prefect settings (the test
    harness's home and server are not this server's), then this server's, and quiet analytics."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(folder / "prefect-home"),
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{folder / 'prefect.db'}",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
        PREFECT_WORKER_QUERY_SECONDS="1",  # the worker looks for runs every second, not every 10
        DO_NOT_TRACK="1",
        GX_ANALYTICS_ENABLED="false",
        POP_PROJECT_DIR=str(paths.ROOT),  # the deployments' pull step: the flows run from this checkout
    )
    return env


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            args, cwd=paths.ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_healthy(api: str, server: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"prefect server start exited {server.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    pytest.fail(f"the Prefect server was not healthy after {timeout} s:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A Prefect server on a free port, every deployment of prefect.yaml deployed, one process worker whose POP_*
    settings point at a temporary outputs folder and SQLite warehouse, the demo registry and inbox."""
    folder = tmp_path_factory.mktemp("real-server")
    logs = folder / "logs"
    logs.mkdir()
    port = _free_port()
    env = _environment(folder, port)
    started: list[subprocess.Popen] = []
    try:
        process = _start(
            [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
            env,
            logs / "server.log",
        )
        started.append(process)
        api = env["PREFECT_API_URL"]
        _wait_healthy(api, process, logs / "server.log")
        live = Server(api=api, env=env, folder=folder, logs=logs)
        live.prefect("work-pool", "create", "pop-process", "--type", "process")
        worker_env = {
            **env,
            "POP_OUTPUTS_DIR": str(folder / "outputs"),
            "POP_DATABASE_URL": f"sqlite:///{folder / 'warehouse.sqlite'}",
            "POP_REGISTRY_PATH": str(DEMO_REGISTRY),
            "POP_INBOX_DIR": str(DEMO_INBOX),
            "POP_AS_OF": AS_OF,
        }
        # the worker starts while the deployments are made (it only polls the pool until runs come)
        started.append(
            _start([str(PREFECT), "worker", "start", "--pool", "pop-process"], worker_env, logs / "worker.log")
        )
        live.prefect("--no-prompt", "deploy", "--all", timeout=300)
        yield live
    finally:
        for process in reversed(started):  # the worker first, then the server
            _stop(process)


def test_every_deployment_of_prefect_yaml_is_on_the_server_as_declared(server: Server) -> None:
    """Names, entrypoints, work pool, schedules (cron, timezone, active) and concurrency limits as the server reports
    them equal prefect.yaml."""
    found = {d["name"]: d for d in server.post("/deployments/filter", {})}
    assert found.keys() == DEPLOYMENTS.keys()
    for name, declared in DEPLOYMENTS.items():
        reported = found[name]
        assert reported["entrypoint"] == declared["entrypoint"], name
        assert reported["work_pool_name"] == declared["work_pool"]["name"], name
        schedules = [
            {"cron": s["schedule"]["cron"], "timezone": s["schedule"]["timezone"], "active": s["active"]}
            for s in reported["schedules"]
        ]
        assert schedules == [
            {"cron": s["cron"], "timezone": s["timezone"], "active": s.get("active", True)}
            for s in declared.get("schedules") or []
        ], name
        limit = declared.get("concurrency_limit")
        if limit:
            assert reported["global_concurrency_limit"]["limit"] == limit["limit"], name
            assert reported["concurrency_options"]["collision_strategy"] == limit["collision_strategy"], name
        else:
            assert reported["global_concurrency_limit"] is None, name


def _counts(url: str) -> dict[tuple[str, str], tuple[int, int, int]]:
    with get_engine(url).connect() as conn:
        return {
            (s, f): (n_in, n_loaded, n_held)
            for s, f, n_in, n_loaded, n_held in conn.execute(
                text(
                    "SELECT source_id, original_name, rows_in, rows_loaded, rows_quarantined FROM batches "
                    "WHERE status = 'loaded'"
                )
            )
        }


EXPECTED_COUNTS = {
    (s, f): (c["rows_in"], c["rows_loaded"], c["rows_quarantined"])
    for s, files in EXPECTED["counts"].items()
    for f, c in files.items()
}


def _statuses(url: str) -> dict[str, int]:
    with get_engine(url).connect() as conn:
        return dict(conn.execute(text("SELECT status, COUNT(*) FROM batches GROUP BY status")).all())


def _check_ingest(flow_run: dict, url: str, outputs: Path) -> None:
    """The demo ingested through the server: its flow run Failed only for the refused file, every file's counts
    exactly the expected, the run recorded, and the steward pages written."""
    assert flow_run["state_type"] == "FAILED", flow_run["state"]
    assert "helpline_de" in flow_run["state"]["message"] and "kontakte_2021.csv" in flow_run["state"]["message"]
    assert _counts(url) == EXPECTED_COUNTS
    assert _statuses(url) == {"loaded": len(EXPECTED_COUNTS), "duplicate": 1, "failed": 1}
    with get_engine(url).connect() as conn:
        [(run_id, status)] = conn.execute(text("SELECT run_id, status FROM ingest_runs")).all()
        quarantined = conn.execute(text("SELECT COUNT(*) FROM quarantine")).scalar_one()
    assert (run_id, status) == (flow_run["id"], "failed")
    assert quarantined == sum(c[2] for c in EXPECTED_COUNTS.values())
    reports = outputs / "reports"
    assert (reports / "index.html").is_file() and (reports / "runs" / f"{run_id}.html").is_file()
    assert len(list((reports / "batches").glob("*.html"))) == 15


def _postgres_available() -> bool:
    """Whether a PostgreSQL server is given (under CI=true it must be: postgres_server_url fails the test)."""
    if os.environ.get("POP_TEST_POSTGRES_URL") or os.environ.get("CI", "").lower() == "true":
        postgres_server_url()
        return True
    return False


def test_the_ingest_and_snapshot_deployments_run_on_the_worker(
    server: Server, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """ingest-daily into the worker's SQLite warehouse, then snapshot-weekly of it; meanwhile ingest-source (every
    source: no source given) into a fresh PostgreSQL warehouse, pointed there by the flow run's job variables. The
    two ingests run at once on the one worker: they are two deployments (each limited to one run at a time) writing
    two warehouses."""
    url, outputs = f"sqlite:///{server.folder / 'warehouse.sqlite'}", server.folder / "outputs"
    with contextlib.ExitStack() as stack:
        on_postgres = None
        if _postgres_available():
            pg_folder = tmp_path_factory.mktemp("real-server-pg")
            pg_url = stack.enter_context(warehouse("postgresql", pg_folder))
            variables = {"POP_DATABASE_URL": pg_url, "POP_OUTPUTS_DIR": str(pg_folder / "outputs")}
            pg_run = server.start("ingest/ingest-source", "--job-variable", f"env={json.dumps(variables)}")
            on_postgres = (pg_run, pg_url, pg_folder / "outputs")
        _check_ingest(server.wait(server.start("ingest/ingest-daily")), url, outputs)

        snapshot_run = server.wait(server.start("snapshot/snapshot-weekly", "-p", f"as_of={AS_OF}"))
        assert snapshot_run["state_type"] == "COMPLETED", f"{snapshot_run['state']}\n{server.log_tail()}"
        [folder] = [f for f in (outputs / "snapshots").iterdir() if f.is_dir()]
        assert folder.name.startswith(AS_OF) and folder.name in snapshot_run["state"]["message"]
        for name in ("index.html", "snapshot.md", "datapackage.json", "changes.md"):
            assert (folder / name).is_file(), name
        assert list((folder / "indicators").glob("*.csv"))
        assert (outputs / "snapshots" / "index.html").is_file()

        if on_postgres:
            pg_run, pg_url, pg_outputs = on_postgres
            _check_ingest(server.wait(pg_run), pg_url, pg_outputs)
