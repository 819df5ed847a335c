"""What the Prefect server knows, when one is set (PREFECT_API_URL): each deployment's last flow run and its next
scheduled one. Without a server, nothing: a temporary local server keeps no history between runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class DeploymentRuns:
    """A deployment, its last run (name, state, start) and its next scheduled run, as the server reports them."""

    deployment: str
    last_run: str | None
    last_state: str | None
    last_start: dt.datetime | None
    next_run: dt.datetime | None


def api_url() -> str | None:
    """The Prefect API the settings name (PREFECT_API_URL), if any."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url or None


def deployment_runs(limit: int = 100) -> list[DeploymentRuns]:
    """Every deployment's last flow run and next scheduled run, from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    found = []
    with get_client(sync_client=True) as client:
        flows = {f.id: f.name for f in client.read_flows(limit=limit)}
        for deployment in client.read_deployments(limit=limit):
            only = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
            scheduled = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            not_scheduled = FlowRunFilterState(type=FlowRunFilterStateType(not_any_=[StateType.SCHEDULED]))
            last = client.read_flow_runs(
                deployment_filter=only,
                flow_run_filter=FlowRunFilter(state=not_scheduled),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                limit=1,
            )
            upcoming = client.read_flow_runs(
                deployment_filter=only,
                flow_run_filter=FlowRunFilter(state=scheduled),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                limit=1,
            )
            run = last[0] if last else None
            found.append(
                DeploymentRuns(
                    deployment=f"{flows.get(deployment.flow_id, '?')}/{deployment.name}",
                    last_run=run.name if run else None,
                    last_state=run.state.name if run and run.state else None,
                    last_start=(run.start_time or run.expected_start_time) if run else None,
                    next_run=upcoming[0].expected_start_time if upcoming else None,
                )
            )
    return sorted(found, key=lambda d: d.deployment)
