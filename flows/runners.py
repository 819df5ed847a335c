"""Scale-out as a setting: the task runner a flow fans its per-source tasks out on is chosen by POP_TASK_RUNNER when
the flow run starts (not when its module is imported), and the futures of a fan-out are gathered into outcomes, a
source's failure staying that source's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from pop.contracts import SourceOutcome, SourceStatus
from pop.registry import Source
from pop.settings import Settings, get_settings


def task_runner(settings: Settings) -> TaskRunner:
    """The task runner the settings name: a pool of `task_workers` threads; or prefect-dask's DaskTaskRunner on the
    Dask cluster at `dask_address`, else on a LocalCluster of `task_workers` processes of one thread each, made for
    the flow run and closed with it."""
    if settings.task_runner == "thread":
        return ThreadPoolTaskRunner(max_workers=settings.task_workers)
    from prefect_dask import DaskTaskRunner  # imported only when asked for: distributed takes a second to import

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": settings.task_workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,  # no web server on a fixed port (two runs at once would clash)
        }
    )


class FromSettings(TaskRunner):
    """The `task_runner` of a flow's decorator that stands for the one the settings name at the start of each run.
    Prefect starts a run's task runner from `flow.task_runner.duplicate()`; this one returns the runner of the
    settings of that moment, so a deployment's worker, the CLI and a test each get the runner their environment
    names (a runner built at import would keep the settings of whoever imported the flow first)."""

    def duplicate(self) -> TaskRunner:  # type: ignore[override]
        return task_runner(get_settings())

    def submit(self, task: Any, parameters: dict[str, Any], wait_for: Any = None, dependencies: Any = None) -> Any:
        raise RuntimeError("FromSettings only stands for a task runner; a flow run uses the one duplicate() makes")


def gathered(futures: Iterable[PrefectFuture[SourceOutcome]], sources: Sequence[Source]) -> list[SourceOutcome]:
    """The outcome of each source's future, in the sources' order, once every one has finished. A task that did not
    complete (it raised, it could not start, or its Dask worker died) is its source's failed outcome with the reason,
    never the run's: the other sources' outcomes are theirs."""
    outcomes = []
    for future, source in zip(futures, sources, strict=True):
        try:
            outcomes.append(future.result())
        except Exception as exc:
            outcomes.append(
                SourceOutcome(
                    source_id=source.id,
                    group=source.group,
                    status=SourceStatus.FAILED,
                    message=f"the ingest task of {source.id} did not complete ({exc.__class__.__name__}: {exc})",
                )
            )
    return outcomes
