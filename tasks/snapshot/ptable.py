"""The perturbation table (ptable) of the cell-key method of disclosure control, as the ABS and the ONS use it, in the
ONS's own format (columns pcv, ckey, pvalue; the format of the ONS package cell-key-perturbation): a cell of true
count n and cell key ckey (the sum of its records' keys, modulo key_range) is published as n + pvalue, where pvalue
is read from the row of its perturbation count value pcv(n) and its cell key. The same cell is always published the
same way, whichever table it appears in, so differencing two tables does not tell a single record apart.

The noise for a true count n follows a distribution chosen here (transition): published values within max_noise of
n, never 1 .. smallest_published - 1, mean exactly n, and otherwise the maximum-entropy distribution of variance at
most the given one (exactly it for counts whose noise nothing truncates). Each published value then gets a whole
number of the key_range cell keys (key_counts), and the keys are dealt to the values in an order that differs per pcv
(build_ptable). The true counts that can give a published value always form a range of at least two counts
(preimage), so no published count pins its true count. The parameters are data in
config/disclosure.yaml (`perturbation:`); pure functions, no Prefect.

Why not the ONS package itself: its create_perturbed_table tabulates unweighted microdata with pandas (one row per
record, a groupby per table) and its bundled ptable_10_5_rule.csv is deterministic rounding (the noise does not
depend on the cell key, so two tables differenced still give exact differences). Our cells are computed in the
warehouse (multi-select answers, generated totals, aggregated submissions whose rows count many children), so we
keep its table format and its folding of large counts, and test that perturb() gives exactly what its
create_perturbed_table gives on the same microdata (tests/tasks/snapshot/test_ptable.py)."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator
from scipy import optimize, special

from pop import paths
from pop.config import ConfigError, load_config

COLUMNS = ("pcv", "ckey", "pvalue")  # the ONS ptable's columns
WHOLE_NUMBERS = {"max_noise": 1, "smallest_published": 0, "key_range": 2, "pcv_max": 1, "pcv_fold": 1}  # -> least
TOLERANCE = 1e-9  # how near a moment must come to its target, and how near a variance to its bounds to be one


class PerturbationError(ConfigError):
    """The perturbation rules cannot be used, or a value asked about is never published; the message says why."""


class PerturbationRules(BaseModel):
    """The parameters of the ptable (the `perturbation:` block of config/disclosure.yaml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_noise: int  # |published - true| <= max_noise, always
    variance: float  # the variance of the noise for counts large enough that nothing truncates it
    smallest_published: int  # no count 1 .. smallest_published - 1 is published; 0 can be
    key_range: int = 256  # cell keys are 0 .. key_range - 1
    pcv_max: int = 750  # the table's rows are pcv 1 .. pcv_max
    pcv_fold: int = 250  # counts above pcv_max reuse the last pcv_fold rows
    seed: int  # seeds the per-pcv order in which cell keys are dealt to published values

    @field_validator(*WHOLE_NUMBERS, mode="before")
    @classmethod
    def _whole_number(cls, value: Any, info: ValidationInfo) -> Any:
        least = WHOLE_NUMBERS[str(info.field_name)]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{info.field_name} must be a whole number of at least {least}, not {value!r}")
        return value

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"seed must be a whole number of at least 0, not {value!r}")
        return value

    @field_validator("variance", mode="before")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
            raise ValueError(f"variance must be a number above 0, not {value!r}")
        return float(value)

    @model_validator(mode="after")
    def _consistent(self) -> PerturbationRules:
        d, js = self.max_noise, self.smallest_published
        if self.variance > d * (d + 1) / 3:
            raise ValueError(
                f"variance ({self.variance:g}) must be at most max_noise·(max_noise + 1)/3 ({d * (d + 1) / 3:g}), "
                f"the variance of uniform noise within ±{d}: a larger one is not reached without making a far "
                "noise likelier than a near one"
            )
        if js > d + 1:
            raise ValueError(
                f"smallest_published ({js}) must be at most max_noise + 1 ({d + 1}), or a count of 1 could only "
                "be published as 0, and not without bias"
            )
        if self.pcv_fold > self.pcv_max:
            raise ValueError(f"pcv_fold ({self.pcv_fold}) must be at most pcv_max ({self.pcv_max})")
        if (first := self.pcv_max - self.pcv_fold + 1) < (least := _full_from(self) + d + 1):
            raise ValueError(
                f"the rows reused for counts above pcv_max ({first} .. {self.pcv_max}) must all be counts of at "
                f"least {least}, whose noise is the same shape shifted; raise pcv_max or lower pcv_fold"
            )
        return self

    @model_validator(mode="after")
    def _buildable(self) -> PerturbationRules:
        _pvalues(self)  # refuses a table in which a published value pins its true count (cached: built once)
        return self


class _DisclosureFile(BaseModel):
    """The part of config/disclosure.yaml read here."""

    model_config = ConfigDict(extra="ignore")

    perturbation: PerturbationRules


def load_perturbation_rules(path: Path | None = None) -> PerturbationRules:
    """The perturbation rules from the `perturbation:` block of a YAML file (default config/disclosure.yaml)."""
    file = load_config(path or paths.DISCLOSURE_FILE, _DisclosureFile, what="disclosure rules", error=PerturbationError)
    return file.perturbation


# --- the distribution of the noise ---------------------------------------------------------------------------


def support(n: int, rules: PerturbationRules) -> list[int]:
    """The published values a true count n may get: within max_noise of n, 0 or at least smallest_published, and
    within the envelope that keeps the true counts behind each published value a range (see _envelope)."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"a true count must be a whole number of at least 0, not {n!r}")
    if n == 0:
        return [0]
    low, high = _envelope(rules)[n] if n < len(_envelope(rules)) else (0, n + rules.max_noise)
    return [j for j in _allowed(n, rules) if low <= j <= high]


def _allowed(n: int, rules: PerturbationRules) -> list[int]:
    """The values within max_noise of n that may be published (0, or at least smallest_published)."""
    low, high = max(0, n - rules.max_noise), n + rules.max_noise
    return [j for j in range(low, high + 1) if j == 0 or j >= rules.smallest_published]


def _full_from(rules: PerturbationRules) -> int:
    """The smallest true count whose noise nothing truncates: all of n - max_noise .. n + max_noise may be
    published."""
    return rules.max_noise + (rules.smallest_published if rules.smallest_published > 1 else 0)


@functools.lru_cache(maxsize=8)
def _envelope(rules: PerturbationRules) -> tuple[tuple[int, int], ...]:
    """The least and the greatest value each small true count n may publish (index n). The true counts that can
    give a published value j are a range when every row reaches all publishable values between its lowest and its
    highest one and both of these grow with n. A row reaching higher than the next row is cut down to that row's
    highest value, a row reaching lower than the previous one cut up to that row's lowest, until none does; rows
    from _full_from(rules) + max_noise + 1 on are the same shape shifted and need no cut."""
    last = _full_from(rules) + rules.max_noise + 1
    low = [0] * (last + 1)
    high = [n + rules.max_noise for n in range(last + 1)]

    def reach(n: int) -> list[int]:
        if n == 0:
            return [0]
        allowed = [j for j in _allowed(n, rules) if low[n] <= j <= high[n]]
        return sorted(_discretise(n, allowed, rules))

    changed = True
    while changed:
        changed = False
        for n in range(last - 1, 0, -1):
            if (top := reach(n + 1)[-1]) < reach(n)[-1]:
                high[n], changed = top, True
        for n in range(2, last + 1):
            if (bottom := reach(n - 1)[0]) > reach(n)[0]:
                low[n], changed = bottom, True
    if low[last] > max(0, last - rules.max_noise):
        raise PerturbationError(f"the noise of the true count {last} would have to be cut; lower variance")
    return tuple(zip(low[:last], high[:last], strict=True))


def transition(n: int, rules: PerturbationRules) -> dict[int, float]:
    """The probability of each published value j (those with a positive one) for a true count n, before
    discretisation: the maximum-entropy distribution on the support with mean exactly n and variance at most
    rules.variance, p_j ∝ exp(a·(j - n) + b·(j - n)²) with b <= 0.

    - A count whose noise nothing truncates (n >= smallest_published + max_noise) gets exactly rules.variance.
    - A count whose truncated support gives less variance than rules.variance at maximum entropy with the mean alone
      keeps that one (b = 0) rather than reaching for the variance with b > 0.
    - A count below smallest_published is not in its own support; where even its least variance, on the two values
      around it (0 and smallest_published), is above rules.variance, it takes that one (the limit b -> -inf).
    The family stays log-concave (b <= 0), so no value between two reachable ones is left out; the closest feasible
    variance above a target out of reach (all mass on the two extremes) would leave gaps, and so would the maximum
    entropy with the mean alone for counts below smallest_published (they would reach 6 to 8 where 5 cannot), so the
    true counts behind a published value would not be a range. For the same reason a small count's support may be
    cut to the envelope of its neighbours (support)."""
    n = int(n) if isinstance(n, np.integer) else n
    offsets = tuple(j - n for j in support(n, rules))
    return {n + d: p for d, p in zip(offsets, _shape(offsets, rules.variance), strict=True) if p > 0}


@functools.lru_cache(maxsize=256)
def _shape(offsets: tuple[int, ...], variance: float) -> tuple[float, ...]:
    """The probabilities of the noises `offsets` (sorted, with some <= 0 and some > 0): mean 0, maximum entropy,
    variance at most `variance`, or else the least."""
    d = np.array(offsets, dtype=float)
    below, above = d[d < 0], d[d > 0]
    if not (len(below) and len(above)):  # nothing to balance on one side: the true count itself, if it may be
        if 0 not in offsets:
            raise PerturbationError(f"no noise on {list(offsets)} has mean 0")
        return tuple(float(x) for x in d == 0)
    if 0 not in offsets:
        low, high = below.max(), above.min()  # the least variance: all mass on the nearest value on either side
        if variance <= -low * high + TOLERANCE:
            return tuple(float(x) for x in np.where(d == high, -low, np.where(d == low, high, 0.0)) / (high - low))
    scale = np.abs(d).max()
    u, v = d / scale, variance / scale**2  # in units of the widest noise, for well-conditioned exponents
    p = _tilted(u, 0.0)
    if p @ u**2 > v:  # the variance binds: the b < 0 that gives it exactly (the variance grows with b)
        floor = -1.0
        while _tilted(u, floor) @ u**2 > v:
            floor *= 2
        b = optimize.brentq(lambda b: _tilted(u, b) @ u**2 - v, floor, 0.0, xtol=1e-15, rtol=1e-15)
        p = _tilted(u, b)
        if abs(p @ u**2 - v) > TOLERANCE:
            raise PerturbationError(f"no noise on {offsets} with mean 0 and variance {variance:g} found")
    return tuple(float(x) for x in p)


def _tilted(u: np.ndarray, b: float) -> np.ndarray:
    """p ∝ exp(a·u + b·u²) with the a that makes the mean 0 (the mean grows with a)."""

    def probabilities(a: float) -> np.ndarray:
        logits = a * u + b * u**2
        return np.exp(logits - special.logsumexp(logits))

    low, high = -1.0, 1.0
    while probabilities(low) @ u > 0:
        low *= 2
    while probabilities(high) @ u < 0:
        high *= 2
    return probabilities(optimize.brentq(lambda a: probabilities(a) @ u, low, high, xtol=1e-15, rtol=1e-15))


# --- the discretisation: whole numbers of cell keys ------------------------------------------------------------


def key_counts(n: int, rules: PerturbationRules) -> dict[int, int]:
    """How many of the key_range cell keys give each published value j for a true count n (values with none left
    out): the transition's probabilities rounded to whole keys (largest remainder), then single keys moved between
    neighbouring values while that brings the mean nearer n (the cheapest such move first; a value between two that
    keep keys is never emptied)."""
    return _discretise(n, support(n, rules), rules)


def _discretise(n: int, values: list[int], rules: PerturbationRules) -> dict[int, int]:
    """key_counts for the true count n on the given support."""
    offsets = tuple(j - n for j in values)
    probabilities = _shape(offsets, rules.variance)
    kept = tuple(i for i, p in enumerate(probabilities) if p > 0)
    counts = _keys(tuple(offsets[i] for i in kept), tuple(probabilities[i] for i in kept), rules.key_range)
    return {n + offsets[i]: k for i, k in zip(kept, counts, strict=True) if k > 0}


@functools.lru_cache(maxsize=256)
def _keys(offsets: tuple[int, ...], probabilities: tuple[float, ...], key_range: int) -> tuple[int, ...]:
    """Whole numbers of keys, summing to key_range, near key_range·p, with Σ k·offset as near 0 as neighbour moves
    take it."""
    d = np.array(offsets)
    quota = key_range * np.array(probabilities)
    keys = np.floor(quota).astype(int)
    remainder = quota - keys
    order = sorted(range(len(d)), key=lambda i: (-round(remainder[i], 12), abs(d[i]), d[i]))
    keys[order[: key_range - int(keys.sum())]] += 1
    while (error := int(keys @ d)) != 0:
        step = -1 if error > 0 else 1  # move a key towards lower values when the mean is too high
        moves = []
        for i in range(len(d)):
            target = i + step
            if keys[i] == 0 or not 0 <= target < len(d):
                continue
            beyond = keys[i + 1 :] if step < 0 else keys[:i]
            if keys[i] == 1 and beyond.any():
                continue  # it would leave a value without keys between two with keys
            new_error = error + int(d[target] - d[i])
            if abs(new_error) < abs(error):
                cost = 2 * (quota[i] - keys[i] + keys[target] - quota[target]) + 2  # growth of Σ (k - quota)²
                moves.append((abs(new_error), round(cost, 12), i, target))
        if not moves:
            break
        _, _, i, target = min(moves, key=lambda move: (move[1], move[0], move[2]))
        keys[i] -= 1
        keys[target] += 1
    return tuple(int(k) for k in keys)


# --- the table -----------------------------------------------------------------------------------------------


def pcv(n: int | np.ndarray, rules: PerturbationRules) -> int | np.ndarray:
    """The ptable row of a true count (the ONS folding): n itself up to pcv_max, above it one of the last pcv_fold
    rows, n - a multiple of pcv_fold. 0 stays 0 (no row: a zero is never perturbed)."""
    first = rules.pcv_max - rules.pcv_fold + 1
    folded = np.where(np.asarray(n) <= rules.pcv_max, n, (np.asarray(n) - 1) % rules.pcv_fold + first)
    return int(folded) if np.ndim(folded) == 0 else folded


@functools.lru_cache(maxsize=8)
def _pvalues(rules: PerturbationRules) -> np.ndarray:
    """pvalue by [pcv, ckey], row 0 (a zero count) all 0; read-only. Refused when a published value would pin its
    true count or the true counts behind one would not be a range."""
    table = np.zeros((rules.pcv_max + 1, rules.key_range), dtype=np.int64)
    for row in range(1, rules.pcv_max + 1):
        keys = key_counts(row, rules)
        values = np.repeat(np.array(list(keys)) - row, list(keys.values()))  # lowest published value first
        order = np.random.default_rng([rules.seed, row]).permutation(rules.key_range)
        table[row, order] = values
    table.flags.writeable = False
    _check(table, rules)
    return table


def build_ptable(rules: PerturbationRules) -> pd.DataFrame:
    """The ptable in the ONS's format: columns pcv (1 .. pcv_max), ckey (0 .. key_range - 1), pvalue (published
    minus true count), one row per pcv and ckey, sorted. The same rules give the same table."""
    table = _pvalues(rules)[1:]
    pcvs, ckeys = np.meshgrid(np.arange(1, rules.pcv_max + 1), np.arange(rules.key_range), indexing="ij")
    return pd.DataFrame({"pcv": pcvs.ravel(), "ckey": ckeys.ravel(), "pvalue": table.ravel()}, columns=list(COLUMNS))


def perturb(
    counts: Iterable[int] | np.ndarray, cell_keys: Iterable[int] | np.ndarray, rules: PerturbationRules
) -> np.ndarray:
    """The published counts of cells of these true counts and cell keys (any non-negative whole numbers, taken
    modulo key_range); a zero stays zero. The same as the ONS package's create_perturbed_table gives."""
    n, keys = np.asarray(counts), np.asarray(cell_keys)
    for name, values in (("count", n), ("cell key", keys)):
        if values.size and (not np.issubdtype(values.dtype, np.integer) or values.min() < 0):
            raise ValueError(f"each {name} must be a whole number of at least 0")
    n, keys = n.astype(np.int64), keys.astype(np.int64)
    return n + _pvalues(rules)[pcv(n, rules), keys % rules.key_range]


# --- what a published value tells ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _reach(rules: PerturbationRules) -> tuple[np.ndarray, int]:
    """Whether row pcv can add noise d, as reach[pcv, d + widest], and the widest noise in the table."""
    return _reach_of(_pvalues(rules), rules)


def _reach_of(table: np.ndarray, rules: PerturbationRules) -> tuple[np.ndarray, int]:
    widest = int(np.abs(table).max())
    reach = np.zeros((rules.pcv_max + 1, 2 * widest + 1), dtype=bool)
    rows = np.repeat(np.arange(rules.pcv_max + 1), rules.key_range)
    reach[rows, table.ravel() + widest] = True
    return reach, widest


def _true_counts(published: int, reach: np.ndarray, widest: int, rules: PerturbationRules) -> list[int]:
    """Every true count that gives `published` with a positive probability, ascending."""
    candidates = np.arange(max(0, published - widest), published + widest + 1)
    hits = reach[pcv(candidates, rules), published - candidates + widest]
    return [int(n) for n in candidates[hits]]


def preimage(published: int, rules: PerturbationRules) -> tuple[int, int]:
    """The smallest and largest true count that can be published as `published` (what an intruder learns from it);
    every count between them can be too. PerturbationError when the value is never published."""
    if isinstance(published, bool) or not isinstance(published, int | np.integer) or published < 0:
        raise ValueError(f"a published count must be a whole number of at least 0, not {published!r}")
    counts = _true_counts(int(published), *_reach(rules), rules)
    if not counts:
        raise PerturbationError(f"{published} is never published")
    return counts[0], counts[-1]


def preimage_of_set(values: Iterable[int], rules: PerturbationRules) -> tuple[int, int]:
    """The smallest and largest true count that can be published as any of `values` (e.g. the values a withheld
    code stands for); values never published are ignored, PerturbationError when none is published."""
    bounds = []
    for value in values:
        try:
            bounds.append(preimage(value, rules))
        except PerturbationError:
            continue
    if not bounds:
        raise PerturbationError("none of these values is ever published")
    return min(low for low, _ in bounds), max(high for _, high in bounds)


def _check(table: np.ndarray, rules: PerturbationRules) -> None:
    """Refuse a table in which a published value pins its true count, or the counts behind one are not a range."""
    reach, widest = _reach_of(table, rules)
    for published in range(rules.pcv_max + 2 * widest + 2):  # beyond, the folded rows repeat one shape
        counts = _true_counts(published, reach, widest, rules)
        if len(counts) == 1:
            raise PerturbationError(
                f"the published value {published} can only come from the true count {counts[0]}; raise variance"
            )
        if counts and counts[-1] - counts[0] + 1 != len(counts):
            raise PerturbationError(
                f"the true counts that can be published as {published} ({counts}) are not a range; change variance"
            )


# --- metadata ------------------------------------------------------------------------------------------------


def describe(rules: PerturbationRules) -> dict[str, Any]:
    """What a reader of the published tables needs to know of the perturbation (JSON-serialisable): the
    parameters, the largest noise, the noise's variance and largest bias, and the transition probabilities of the
    small counts (p = keys / key_range)."""
    table = _pvalues(rules)
    large = rules.pcv_max  # a folded row: its noise is not truncated
    k, j = np.array(list(key_counts(large, rules).values())), np.array(list(key_counts(large, rules))) - large
    size = rules.key_range
    biases = [abs(int((table[row]).sum())) for row in range(1, rules.pcv_max + 1)]
    small = range(rules.smallest_published + 2 * rules.max_noise + 2)
    return {
        "method": "cell-key perturbation (ONS ptable: pcv, ckey, pvalue)",
        "parameters": rules.model_dump(),
        "largest_noise": int(np.abs(table).max()),
        "largest_noise_large_counts": int(np.abs(j).max()),
        "variance_large_counts": float((size * int(k @ j**2) - int(k @ j) ** 2) / size**2),
        "largest_bias": max(biases) / size,
        "transition": [
            {"n": n, "j": value, "p": keys / size} for n in small for value, keys in key_counts(n, rules).items()
        ],
    }
