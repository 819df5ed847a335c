"""Row issues: every reason a row cannot be loaded, collected across stages, turned into quarantine records
and into the per-check summary stewards read."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd
import yaml

from pop import paths
from tasks.ingest.outsized import cut, quoted

MAX_EXAMPLES = 5
MAX_ROW_NUMBERS = 20


@dataclass(frozen=True)
class CheckText:
    """What a check says: to the sender (what to fix, in their words) and, when a steward can do something about
    it, to the steward."""

    sender: str
    steward: str | None = None


@lru_cache(maxsize=1)
def check_texts() -> dict[str, CheckText]:
    """Every check's texts (schemas/checks.yaml); a check with nothing for a steward to do is a plain string."""
    document = yaml.safe_load(paths.CHECK_HINTS_FILE.read_text(encoding="utf-8"))
    return {
        check: CheckText(**text) if isinstance(text, dict) else CheckText(sender=text)
        for check, text in document.items()
    }


def hint(check: str, field_name: str, **params: Any) -> str:
    """The plain-language hint for a failed check, or the given fallback text; `field_name` is how the sender knows
    the field (RowIssues.column)."""
    known = check_texts().get(check)
    template = params.pop("fallback", None) or (known.sender if known else "{field} failed check " + check)
    values = {"field": field_name, "allowed": "", "min": "", "max": ""}
    values.update({k: v for k, v in params.items() if v is not None})
    return template.format(**values)


@dataclass
class RowIssues:
    """Reasons collected for the rows of one chunk: one entry per (row, field, check)."""

    sender_columns: dict[str, str | None] = field(default_factory=dict)  # our field → the sender's column
    parts: list[pd.DataFrame] = field(default_factory=list)

    def name(self, field_name: str) -> str:
        """The sender's column for one of our fields (our field's name when the sender has none for it)."""
        return self.sender_columns.get(field_name) or field_name

    def column(self, *field_names: str) -> str:
        """How a reason names fields to the sender: their columns, quoted; of several fields (a natural key), only
        those the sender's file has, as a field filled in by a default means nothing to them."""
        sent = [name for f in field_names if (name := self.sender_columns.get(f))]
        names = dict.fromkeys(sent or [self.name(f) for f in field_names])  # one column may give two fields
        return ", ".join(quoted(name) for name in names)

    def add(
        self, index: pd.Index, field_name: str, check: str, values: pd.Series | list[Any] | None, message: str
    ) -> None:
        """Record that rows `index` failed `check` on `field_name` (values are what the sender wrote)."""
        if len(index) == 0:
            return
        if values is None:
            values = [None] * len(index)
        vals = values.astype(object).tolist() if isinstance(values, pd.Series) else list(values)
        self.parts.append(
            pd.DataFrame(
                {"row": index.to_numpy(), "field": field_name, "check": check, "value": vals, "message": message}
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=["row", "field", "check", "value", "message"])
        issues = pd.concat(self.parts, ignore_index=True)
        # the first stage that flags a (row, field) says it best; later stages repeat it in other words
        return issues.drop_duplicates(subset=["row", "field"], keep="first")

    def failed_rows(self) -> pd.Index:
        return pd.Index(self.frame()["row"].unique()) if self.parts else pd.Index([])

    def flagged(self, field_name: str) -> set[Any]:
        return {row for part in self.parts for row in part.loc[part["field"] == field_name, "row"]}


def summarise(issues: pd.DataFrame, row_numbers: pd.Series, sender_columns: dict[str, str | None]) -> list[dict]:
    """One entry per (field, check): how many rows, example values (a long one cut short), row numbers in the sent
    file, and the hint."""
    summary: list[dict] = []
    if issues.empty:
        return summary
    for (field_name, check), group in issues.groupby(["field", "check"], sort=True):
        examples = [cut(str(v)) for v in pd.unique(group["value"].dropna().astype(str))[:MAX_EXAMPLES]]
        rows = sorted(int(n) for n in row_numbers.loc[group["row"]])
        summary.append(
            {
                "column": field_name,
                "sender_column": sender_columns.get(field_name),
                "check": check,
                "rows": len(group),
                "examples": examples,
                "row_numbers": rows[:MAX_ROW_NUMBERS],
                "hint": str(group["message"].iloc[0]),
            }
        )
    return summary


def merge_summaries(summaries: list[list[dict]]) -> list[dict]:
    """Add up per-chunk summaries of the same (field, check)."""
    merged: dict[tuple[str, str], dict] = {}
    for summary in summaries:
        for item in summary:
            key = (item["column"], item["check"])
            if key not in merged:
                merged[key] = {**item, "examples": list(item["examples"]), "row_numbers": list(item["row_numbers"])}
                continue
            into = merged[key]
            into["rows"] += item["rows"]
            into["examples"] = list(dict.fromkeys(into["examples"] + item["examples"]))[:MAX_EXAMPLES]
            into["row_numbers"] = sorted(into["row_numbers"] + item["row_numbers"])[:MAX_ROW_NUMBERS]
    return [merged[key] for key in sorted(merged)]
