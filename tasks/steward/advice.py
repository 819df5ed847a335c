"""What a steward can do about the checks a batch failed (schemas/checks.yaml `steward`): said on the steward pages
and by `pop batch show`, never in what goes back to the sender, who cannot change the registry or the
vocabularies."""

from __future__ import annotations

from dataclasses import dataclass

from pop.contracts import BatchSummary, FailedCheck
from tasks.ingest.issues import check_texts
from tasks.ingest.outsized import quoted

# once the registry is changed, the held rows go round the correction loop with the steward as their sender
RELOAD = (
    "then `pop batch export {batch}` and `pop batch correct {batch} FILE` (FILE: the file it wrote) take the held "
    "rows again, without the sender sending them"
)


@dataclass(frozen=True)
class StewardAction:
    """One failed check of a batch and what a steward can do about it."""

    failure: FailedCheck
    action: str


def steward_action(failure: FailedCheck, source_id: str, batch_id: int) -> str | None:
    """What a steward can do about one failed check of a batch, or None when only the sender can fix it."""
    known = check_texts().get(failure.check)
    if known is None or known.steward is None:
        return None
    params = {
        "source": source_id,
        "batch": batch_id,
        "field": failure.column,
        "column": quoted(failure.sender_column or failure.column),
        "examples": ", ".join(quoted(value) for value in failure.examples) or "blank cells",
    }
    return known.steward.format(reload=RELOAD.format(**params), **params)


def steward_actions(batch: BatchSummary) -> list[StewardAction]:
    """What a steward can do about each check the batch failed, in the order the batch lists them."""
    found = [(failure, steward_action(failure, batch.source_id, batch.batch_id)) for failure in batch.failures]
    return [StewardAction(failure, action) for failure, action in found if action]
