"""Every deployment in prefect.yaml points at a flow that imports, and its parameters validate against it."""

from __future__ import annotations

import pytest
import yaml
from prefect.flows import Flow, load_flow_from_entrypoint

from pop import paths

RUN_TIME_EXAMPLES = {"batch_id": 7, "file": "outputs/corrections/batch-7-quarantined.csv"}
DEPLOYMENTS = yaml.safe_load((paths.ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_entrypoint_imports_and_parameters_validate(deployment: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scheduled deployments carry every parameter; manual ones may leave required ones to the person running them."""
    monkeypatch.chdir(paths.ROOT)
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    assert isinstance(flow, Flow)
    given = deployment.get("parameters") or {}
    if not deployment.get("schedules"):
        given = {**RUN_TIME_EXAMPLES, **given}
        given = {k: v for k, v in given.items() if k in flow.parameters.properties}
    flow.validate_parameters(given)
    assert deployment["work_pool"]["name"] == "pop-process"


def test_ingest_runs_daily_on_a_cron_schedule_with_a_timezone() -> None:
    [daily] = [d for d in DEPLOYMENTS if d["name"] == "ingest-daily"]
    [schedule] = daily["schedules"]
    assert schedule["cron"].split()[2:] == ["*", "*", "*"] and schedule["timezone"]


def test_unknown_parameter_is_refused() -> None:
    flow = load_flow_from_entrypoint(str(paths.ROOT / "flows" / "ingest.py") + ":ingest")
    with pytest.raises(Exception, match="nonsense"):
        flow.validate_parameters({"nonsense": 1})


def test_snapshot_runs_weekly_on_a_cron_schedule_with_a_timezone() -> None:
    [weekly] = [d for d in DEPLOYMENTS if d["name"] == "snapshot-weekly"]
    [schedule] = weekly["schedules"]
    _minute, _hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*") and weekday != "*" and schedule["timezone"]
    assert weekly["entrypoint"] == "flows/snapshot.py:snapshot"


WRITER_FLOWS = {"flows/ingest.py:ingest", "flows/correct.py:correct"}  # the flows that write the warehouse


def test_every_writer_deployment_runs_one_at_a_time_and_queues_the_next() -> None:
    """A writer deployment has a concurrency limit of 1 that enqueues (the writer lease is the guard across
    deployments; tests/test_real_server.py checks the server reports the limits)."""
    writers = {d["name"] for d in DEPLOYMENTS if d["entrypoint"] in WRITER_FLOWS}
    assert writers == {"ingest-daily", "ingest-source", "correct-batch"}
    for deployment in DEPLOYMENTS:
        limit = deployment.get("concurrency_limit")
        if deployment["name"] in writers:
            assert limit == {"limit": 1, "collision_strategy": "ENQUEUE"}, deployment["name"]
        else:
            assert limit is None, deployment["name"]
