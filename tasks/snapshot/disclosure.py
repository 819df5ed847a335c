"""Disclosure control for the snapshot's published tables of children's data ("the mixer"): the cell-key method (as
ABS TableBuilder and the ONS use it). Every fact row carries a fixed record key (pop.record_keys); a cell's key is
the sum of the keys of the records it counts, weighted by their count; its published count is the true count plus a
noise read from the perturbation table (tasks/snapshot/ptable.py) by count and key. The same records always give the
same noise, in every table, snapshot and release, so comparing tables or releases gives noisy differences, never
exact ones. A perturbed count below the threshold is withheld, and so are the values computed from it; a rate on a
small base is flagged. Total rows are perturbed by their own keys, like any cell (see the methods text in
as_metadata). The rules and their parameters are data in config/disclosure.yaml; pure functions, no Prefect."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from pop import paths
from pop.config import ConfigError, load_config
from tasks.snapshot.ptable import PerturbationRules, describe, perturb, preimage_of_set

CASES = "cases"  # the count a value is mostly about
BASE = "base"  # the denominator the unstable flag looks at (else the cases column)
WITHHELD = "withheld"  # the column of a protected table naming the columns withheld in each row
WEIGHTED = "weighted_"  # a weighted sum of a count is named after it: weighted_cases
PARAMETERS = ("threshold", "unstable_base")


class DisclosureError(ConfigError):
    """The disclosure rules or a table cannot be used; the message says what to fix."""


class DisclosureRules(BaseModel):
    """The parameters and codes of disclosure control (config/disclosure.yaml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: int  # a perturbed count below this is withheld
    unstable_base: int  # a rate on a perturbed base of 1 .. unstable_base is flagged
    code: str  # the one code of any withheld value
    unstable_code: str  # the flag of a figure to read with caution
    labels: dict[str, str]  # code -> what it means, placeholders filled in
    perturbation: PerturbationRules

    @field_validator(*PARAMETERS, mode="before")
    @classmethod
    def _whole_number(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{info.field_name} must be a whole number of at least 1, not {value!r}")
        return value

    @field_validator("unstable_code")
    @classmethod
    def _codes_differ(cls, unstable: str, info: ValidationInfo) -> str:
        codes = [info.data.get("code"), unstable]
        for code in codes:
            if not isinstance(code, str) or not code.strip() or code.strip() != code or _numeric(code):
                raise ValueError(
                    f"code {code!r} must be a non-empty string without surrounding spaces that does not read as a "
                    'number (e.g. "[c]")'
                )
        if codes[0] == codes[1]:
            raise ValueError(f"the withheld code and the unstable code must differ, not both {unstable!r}")
        return unstable

    @model_validator(mode="after")
    def _consistent(self) -> DisclosureRules:
        smallest = self.perturbation.smallest_published
        if self.threshold <= smallest:
            raise ValueError(
                f"threshold ({self.threshold}) must be above perturbation.smallest_published ({smallest}): a "
                "withheld count must stand for published values a true count of 5 or more can also give, or a "
                "reader who knows a cell is not empty learns it holds 1 to 4"
            )
        codes = (self.code, self.unstable_code)
        missing = [c for c in codes if not isinstance(self.labels.get(c), str) or not self.labels[c].strip()]
        extra = sorted(str(c) for c in self.labels if c not in codes)
        if missing or extra:
            raise ValueError(
                f"labels must give a text for each of {', '.join(codes)} and nothing else"
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; not a code: {', '.join(extra)}" if extra else "")
            )
        numbers = self.numbers()
        try:
            labels = {c: " ".join(self.labels[c].format(**numbers).split()) for c in codes}
        except (KeyError, IndexError, ValueError) as exc:
            known = ", ".join("{" + name + "}" for name in numbers)
            raise ValueError(f"the label of a code has an unknown placeholder ({exc}); use {known}") from None
        object.__setattr__(self, "labels", labels)
        return self

    def numbers(self) -> dict[str, int | float]:
        """The parameters a label or the methods text may name."""
        p = self.perturbation
        return {
            "threshold": self.threshold,
            "unstable_base": self.unstable_base,
            "max_noise": p.max_noise,
            "variance": p.variance,
            "smallest_published": p.smallest_published,
        }

    def withheld_range(self) -> tuple[int, int]:
        """The true counts a withheld count may hold, for a reader who knows the ptable: every count that can be
        published as 0 .. threshold - 1."""
        return preimage_of_set(range(self.threshold), self.perturbation)

    def table_note(self) -> str:
        """What was done to a table of children's counts, for its own metadata."""
        p = self.perturbation
        return (
            f"cell-key perturbation: every count moved by at most {p.max_noise} (the same records, the same noise), "
            f"counts of 1 to {p.smallest_published - 1} never shown, a perturbed count below {self.threshold} "
            f"withheld as {self.code} with the figures computed from it, rates on a base of {self.unstable_base} or "
            f"fewer flagged {self.unstable_code}; totals perturbed by their own keys need not equal the sum of their "
            "rows"
        )

    def as_metadata(self) -> dict[str, Any]:
        """The method and its parameters for the snapshot's metadata (JSON-serialisable, same input same output)."""
        p = self.perturbation
        low, high = self.withheld_range()
        return {
            "method": "cell-key perturbation",
            "rule": (
                "every count of children (and of organisations' reports) is published as its true count plus a "
                f"noise of at most {p.max_noise} either way, read from the published perturbation table by the count "
                "and the cell's key, the sum of the fixed random keys of the records in the cell, weighted by their "
                f"count: the same cell always gets the same noise. Counts of 1 to {p.smallest_published - 1} are "
                f"never published. A perturbed count below {self.threshold} is withheld ({self.code}), with every "
                "value computed from it. Total rows are perturbed by their own keys, so a table's rows need not add "
                "up to its totals exactly. Rates and shares are computed from the perturbed counts (a survey's "
                "weighted sums are first scaled by their count's published over true value); a rate on a perturbed "
                f"base of {self.unstable_base} or fewer is flagged {self.unstable_code}."
            ),
            "inference": (
                f"a published count c means the true count lies between about c - {p.max_noise} and "
                f"c + {p.max_noise}; a withheld count ({self.code}) means between {low} and {high}. Two snapshots "
                "give the same figure for a cell whose records did not change; a difference between two snapshots is "
                "the change plus two noises, never the exact contribution of a file."
            ),
            "accuracy": (
                f"a published count is never more than {p.max_noise} from the true count: at most "
                f"{p.max_noise / self.threshold:.0%} of the smallest count shown ({self.threshold}), "
                f"{p.max_noise / 100:.0%} of a count of 100, {p.max_noise / 1000:.1%} of 1,000; on average the noise "
                "is zero, so sums of many cells stay unbiased. A share computed from two perturbed counts moves by at "
                f"most about {p.max_noise} x (1 + share) / base."
            ),
            "parameters": self.numbers(),
            "code": self.code,
            "unstable_code": self.unstable_code,
            "missing_values": [self.code],
            "labels": dict(self.labels),
            "perturbation": describe(p),
        }


# --- rules -------------------------------------------------------------------------------------------------


def load_rules(path: Path | None = None) -> DisclosureRules:
    """The disclosure rules from a YAML file (default config/disclosure.yaml), validated."""
    return load_config(path or paths.DISCLOSURE_FILE, DisclosureRules, what="disclosure rules", error=DisclosureError)


def _numeric(text: str) -> bool:
    """Whether a string reads as a number (a code must not)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- protect and publish -----------------------------------------------------------------------------------


def _whole(values: pd.Series, column: str) -> np.ndarray:
    """A count column as floats (NaN where missing); raise unless the values are non-negative whole numbers."""
    try:
        numbers = pd.to_numeric(values, errors="raise").to_numpy(dtype=float)
    except (ValueError, TypeError) as exc:
        raise DisclosureError(f"count column {column} is not numeric ({exc})") from exc
    present = numbers[~np.isnan(numbers)]
    if (present < 0).any() or (present != np.floor(present)).any():
        raise DisclosureError(f"count column {column} must hold non-negative whole numbers")
    return numbers


def perturbed_counts(counts: pd.Series, keys: pd.Series, rules: DisclosureRules, column: str) -> pd.Series:
    """A count column as published before withholding: each true count plus its cell's noise (NaN stays NaN)."""
    n = _whole(counts, column)
    k = _whole(keys, column + " key").copy()
    k[(n == 0) & np.isnan(k)] = 0  # SQL's SUM of no rows is NULL where COUNT is 0: an empty cell's key is 0
    present = ~np.isnan(n)
    if (present & np.isnan(k)).any():
        raise DisclosureError(f"count column {column} has counts without a cell key")
    out = np.full(len(n), np.nan)
    out[present] = perturb(n[present].astype(np.int64), k[present].astype(np.int64), rules.perturbation)
    return pd.Series(out, index=counts.index, name=column)


def protect(
    cells: pd.DataFrame,
    counts: Sequence[str],
    keys: Mapping[str, str],
    depends: Mapping[str, Sequence[str]],
    rules: DisclosureRules,
    recompute: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """The cells as published before coding: the counts with a key column (keys: count -> its key column)
    perturbed, their weighted sums (weighted_<count>) scaled with them, the other counts and the values computed
    again from them (recompute), and two columns more:
    `withheld` (the tuple of columns withheld in the row: counts below the threshold, and every value that
    `depends` on one of them) and `unstable` (the row's base, perturbed, is 1 .. unstable_base)."""
    if absent := [c for c in [*counts, *keys.values()] if c not in cells.columns]:
        raise DisclosureError(f"table has no column(s) {', '.join(absent)}")
    out = cells.copy()
    for column, key in keys.items():
        out[column] = perturbed_counts(cells[column], cells[key], rules, column)
        if (weighted := WEIGHTED + column) in out.columns:
            # a weighted sum moves with its count (times published / true): a survey whose weights are all equal
            # then gives the share of the perturbed counts, never the true counts' exact ratio
            true = pd.to_numeric(cells[column], errors="coerce").to_numpy(dtype=float)
            scale = np.divide(out[column].to_numpy(dtype=float), true, out=np.zeros(len(true)), where=true > 0)
            out[weighted] = pd.to_numeric(cells[weighted], errors="coerce").to_numpy(dtype=float) * scale
    if recompute is not None:
        out = recompute(out)
    below = {c: (_whole(out[c], c) < rules.threshold) for c in counts}  # NaN compares False
    withheld: list[tuple[str, ...]] = []
    for pos in range(len(out)):
        hidden = [c for c in counts if below[c][pos]]
        hidden += [v for v, needs in depends.items() if any(below[c][pos] for c in needs if c in below)]
        withheld.append(tuple(dict.fromkeys(hidden)))
    out[WITHHELD] = pd.Series(withheld, index=out.index, dtype=object)
    base = BASE if BASE in counts else CASES if CASES in counts else counts[0] if counts else None
    if base is None:
        out["unstable"] = False
    else:
        b = _whole(out[base], base)
        shown = np.array([base not in w for w in withheld], dtype=bool)
        out["unstable"] = (b > 0) & (b <= rules.unstable_base) & shown
    return out


def unprotected(cells: pd.DataFrame) -> pd.DataFrame:
    """A table of figures that are not about children, as protect() would give it: nothing withheld or flagged."""
    out = cells.copy()
    out[WITHHELD] = pd.Series([()] * len(out), index=out.index, dtype=object)
    out["unstable"] = False
    return out


def published(table: pd.DataFrame, columns: Sequence[str], rules: DisclosureRules) -> pd.DataFrame:
    """The protected table as published: withheld values replaced by the code, a `disclosure` column (the code
    when anything in the row is withheld) and a `flag` column (the unstable code)."""
    if WITHHELD not in table.columns or "unstable" not in table.columns:
        raise DisclosureError("published() takes the output of protect(): the table has no withheld column")
    if absent := [c for c in columns if c not in table.columns]:
        raise DisclosureError(f"table has no column(s) {', '.join(absent)}")
    out = table[list(columns)].copy()
    for column in columns:
        hidden = table[WITHHELD].map(lambda w, c=column: c in w).to_numpy(dtype=bool)
        if hidden.any():
            out[column] = out[column].astype(object)
            out.loc[hidden, column] = rules.code
    codes = [rules.code if withheld else None for withheld in table[WITHHELD]]
    out["disclosure"] = pd.Series(codes, index=table.index, dtype=object)
    out["flag"] = np.where(table["unstable"].astype(bool), rules.unstable_code, "")
    return out
