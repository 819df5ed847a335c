"""How every Prefect task of the pipeline is declared: by `pipeline_task`, in its stage's `prefect_tasks.py`, with
a retry policy that says why. A Prefect task has the name of the plain function it runs (tests call the plain one):
`name = pipeline_task(...)(module.name)` when it only runs it, a function of that name when it also makes
artifacts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RetryPolicy:
    """How often a task is tried again, after how many seconds, and why that is right for it."""

    retries: int
    delays: tuple[int, ...]
    why: str


TRANSIENT = RetryPolicy(
    retries=3,
    delays=(2, 5, 15),
    why="it talks to the warehouse or Great Expectations, which can fail for a moment (a lock, a dropped "
    "connection), and it is idempotent: a second try changes nothing the first one finished",
)
ONCE_HEAVY = RetryPolicy(
    retries=0,
    delays=(),
    why="it is heavy and idempotent: a failure is recorded on its batch and the next run takes the file again; "
    "trying again at once would read a large file again to fail the same way",
)
ONCE_LOCAL = RetryPolicy(
    retries=0,
    delays=(),
    why="it only reads the local disk or renders what it was given: a second try would fail the same way",
)


def pipeline_task(name: str, retry: RetryPolicy, **options: Any) -> Callable[[F], F]:
    """Declare a Prefect task: its name in the UI, its retry policy, and no result cache (tasks pass paths, ids
    and small summaries, and every one of them must run each time its flow runs)."""

    def declare(fn: F) -> F:
        return task(  # type: ignore[return-value]
            fn,
            name=name,
            cache_policy=NO_CACHE,
            retries=retry.retries,
            retry_delay_seconds=list(retry.delays) or 0,
            **options,
        )

    return declare
