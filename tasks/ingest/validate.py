"""Validate the harmonised frame with the group's pandera model (lazy: every failure collected), and refuse
rows that repeat a natural key already seen in the same file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandera.errors import SchemaErrors

from schemas.spec import SourceSchema, pandera_schema
from schemas.vocabulary import vocabulary
from tasks.ingest.issues import RowIssues, hint

CHECK_NAMES = [
    (re.compile(r"^not_nullable$"), "missing_value"),
    (re.compile(r"^greater_than_or_equal_to\((.*)\)$"), "below_minimum"),
    (re.compile(r"^greater_than\((.*)\)$"), "not_positive"),
    (re.compile(r"^less_than_or_equal_to\((.*)\)$"), "above_maximum"),
    (re.compile(r"^isin\("), "unknown_code"),
]


def _field_of(schema: SourceSchema, column: str) -> str:
    for name, spec in schema.fields.items():
        if spec.checked_column == column or column in spec.output_columns():
            return name
    return column


def _our_check(check: str) -> tuple[str, str | None]:
    for pattern, ours in CHECK_NAMES:
        if match := pattern.match(check):
            return ours, (match.group(1) if match.groups() else None)
    return check, None


def validate_frame(frame: pd.DataFrame, mapped: pd.DataFrame, schema: SourceSchema, issues: RowIssues) -> None:
    """Run the pandera model lazily and record each failing (row, field, check) with the sender's value."""
    model = pandera_schema(schema.group)
    try:
        model.validate(frame, lazy=True)
        return
    except SchemaErrors as errors:
        cases = errors.failure_cases
    cases = cases[cases["index"].notna()]
    # a row rule's failure is reported once per column of the frame, under the rule's error text
    row_checks = {key: c for c in schema.row_checks for key in (c.name, c.hint)}
    rule_cases = cases["check"].isin(row_checks)
    for check, group in cases[rule_cases].groupby("check", sort=True):
        rule = row_checks[check]
        rows = pd.Index(group["index"].astype(int).unique())
        values = (
            mapped.loc[rows, list(rule.columns)]
            .astype(str)
            .apply(lambda r: ", ".join(f"{issues.name(k)}={v}" for k, v in r.items()), axis=1)
        )
        issues.add(rows, rule.columns[0], rule.name, values, rule.hint)
    for (column, check), group in cases[~rule_cases].groupby(["column", "check"], dropna=False, sort=True):
        rows = pd.Index(group["index"].astype(int).unique())
        field_name = _field_of(schema, str(column))
        ours, param = _our_check(str(check))
        spec = schema.fields.get(field_name)
        bound = {"min": param} if ours in ("below_minimum", "not_positive") else {"max": param}
        allowed = ""
        if ours == "unknown_code" and spec is not None and spec.vocab:
            allowed = ", ".join(vocabulary(spec.vocab).codes)
        values = mapped.loc[rows, field_name] if field_name in mapped.columns else None
        issues.add(rows, field_name, ours, values, hint(ours, issues.column(field_name), allowed=allowed, **bound))


def key_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 64-bit hash of each row's natural key."""
    return pd.util.hash_pandas_object(frame[columns], index=False).to_numpy()


@dataclass(frozen=True)
class SeenKeys:
    """Natural-key hashes already seen in a file (sorted) and the row number where each was first seen."""

    hashes: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.uint64))
    rows: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    batches: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))  # 0: this file

    @classmethod
    def loaded(cls, existing: pd.DataFrame, columns: list[str]) -> SeenKeys:
        """The keys already in the warehouse (frame with batch_id, row_number and the key columns)."""
        hashes = key_hashes(existing, columns) if len(existing) else np.array([], dtype=np.uint64)
        order = np.argsort(hashes, kind="stable")
        return cls(
            hashes[order],
            existing["row_number"].to_numpy(dtype=np.int64)[order],
            existing["batch_id"].to_numpy(dtype=np.int64)[order],
        )

    def find(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each hash: where it is, or would be inserted, in the sorted keys, and whether it is there. The
        hashes are looked up in sorted order, so that a chunk's look-ups walk a big file's keys once."""
        order = np.argsort(hashes)
        position = np.empty(len(hashes), dtype=np.intp)
        position[order] = np.searchsorted(self.hashes, hashes[order])
        if not len(self.hashes):
            return position, np.zeros(len(hashes), dtype=bool)
        return position, self.hashes[np.minimum(position, len(self.hashes) - 1)] == hashes

    def with_new(self, hashes: np.ndarray, rows: np.ndarray, at: np.ndarray) -> SeenKeys:
        """These keys plus new, distinct ones that are not among them (`at`: their insertion points, from
        `find`), still sorted: one merge pass rather than sorting every key of the file again."""
        order = np.argsort(hashes)
        slots = at[order] + np.arange(len(hashes))  # where each new key lands in the merged arrays
        old = np.ones(len(self.hashes) + len(hashes), dtype=bool)
        old[slots] = False

        def merged(kept: np.ndarray, added: np.ndarray) -> np.ndarray:
            out = np.empty(len(old), dtype=kept.dtype)
            out[old], out[slots] = kept, added[order]
            return out

        return SeenKeys(
            merged(self.hashes, hashes),
            merged(self.rows, rows),
            merged(self.batches, np.zeros(len(hashes), dtype=np.int64)),
        )

    def describe(self, position: int) -> str:
        row, batch = self.rows[position], self.batches[position]
        return f"same key as row {row}" if batch == 0 else f"already loaded from batch {batch}, row {row}"


def _added_up(frame: pd.DataFrame, rows: np.ndarray, into: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """The values of `rows` added up per row they go `into` (a missing value adds nothing; all missing stays
    missing), indexed by that row."""
    values = frame.loc[rows, columns].set_axis(into, axis=0)
    return values.groupby(level=0).sum(min_count=1)


def _add_into(frame: pd.DataFrame, sums: pd.DataFrame) -> None:
    """Add `sums` (indexed by row) into those rows of `frame`, in place."""
    for column in sums.columns:
        target = frame.loc[sums.index, column]
        frame.loc[sums.index, column] = pd.concat([target, sums[column]]).groupby(level=0).sum(min_count=1)


def flag_duplicate_keys(
    frame: pd.DataFrame, schema: SourceSchema, issues: RowIssues, seen: SeenKeys, sum_columns: list[str] | None = None
) -> tuple[SeenKeys, pd.DataFrame]:
    """Flag rows whose natural key was already seen, naming the row that had it first: loaded from an earlier file,
    or repeated in this one. With `sum_columns` (a source's same_key: sum), a row repeating a key of this file is
    added up into the first instead (recorded as combined): into that row of `frame` when it is in this chunk, else
    through the returned additions (row_number and the values to add to that row, already handed to the loader)."""
    keys = issues.column(*schema.natural_key)
    no_additions = pd.DataFrame(columns=["row_number", *(sum_columns or [])])
    candidates = frame.drop(index=issues.failed_rows(), errors="ignore")
    if candidates.empty:
        return seen, no_additions
    hashes = key_hashes(candidates, schema.natural_key_columns)
    rows = candidates.index.to_numpy(dtype=np.int64)
    position, in_seen = seen.find(hashes)
    repeated_here = ~in_seen & pd.Series(hashes).duplicated(keep="first").to_numpy()
    first_here = rows
    if repeated_here.any():  # name the row that had the key first (rare: worth a group-by only then)
        first_here = pd.Series(rows).groupby(hashes).transform("first").to_numpy()
    loaded_before = np.zeros(len(rows), dtype=bool)
    loaded_before[in_seen] = seen.batches[position[in_seen]] != 0
    issues.add(
        candidates.index[loaded_before],
        "natural_key",
        "already_loaded",
        [seen.describe(p) for p in position[loaded_before]],
        hint("already_loaded", keys),
    )
    earlier_here = in_seen & ~loaded_before  # repeats a row of an earlier chunk of this file
    additions = no_additions
    if sum_columns is None:
        issues.add(
            candidates.index[earlier_here],
            "natural_key",
            "duplicate_key",
            [seen.describe(p) for p in position[earlier_here]],
            hint("duplicate_key", keys),
        )
        issues.add(
            candidates.index[repeated_here],
            "natural_key",
            "duplicate_key",
            [f"same key as row {n}" for n in first_here[repeated_here]],
            hint("duplicate_key", keys),
        )
    else:
        into_earlier = seen.rows[position[earlier_here]]
        if earlier_here.any():
            sums = _added_up(frame, rows[earlier_here], into_earlier, sum_columns)
            additions = sums.rename_axis("row_number").reset_index()
        if repeated_here.any():
            _add_into(frame, _added_up(frame, rows[repeated_here], first_here[repeated_here], sum_columns))
        combined = earlier_here | repeated_here
        into = np.where(earlier_here, 0, first_here)
        into[earlier_here] = into_earlier
        issues.add(
            candidates.index[combined],
            "natural_key",
            "combined",
            [f"added up into row {n}" for n in into[combined]],
            hint("combined", keys),
        )
    new = ~(in_seen | repeated_here)
    return seen.with_new(hashes[new], rows[new], position[new]), additions
