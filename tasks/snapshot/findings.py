"""Findings: plain-language statements built from the published indicators by rules kept as data
(config/findings.yaml), each with its evidence and a corroboration level (how many stakeholder groups support it,
and whether any contradicts it). Findings read only published cells, so they never repeat a hidden number."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from pop import paths
from pop.config import ConfigError, load_config
from schemas.spec import GROUPS
from tasks.snapshot.document import Evidence, EvidenceStatus, StatedFinding, UnavailableEvidence, UnstatedFinding


class FindingsError(ConfigError):
    """The findings rules cannot be used; the message says which rule and what to fix."""


class EvidenceRule(BaseModel):
    """One evidence item of a finding: which published cell of which indicator, and when it supports the statement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    indicator: str
    cell: dict[str, str] = {}
    where: str | None = None  # a jinja2 expression a cell must satisfy to be considered (before latest and pick)
    latest: str | None = None
    pick: Literal["max", "min"] | None = None
    group: str
    supports: str
    contradicts: str | None = None
    shows: str | None = None  # the count column this evidence is about, when not the indicator's value

    @field_validator("cell", mode="before")
    @classmethod
    def _cell_values_as_text(cls, cell: Any) -> Any:
        return {k: str(v) for k, v in cell.items()} if isinstance(cell, dict) else cell

    @field_validator("indicator")
    @classmethod
    def _indicator_exists(cls, indicator: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get("indicators")
        if known is not None and indicator not in known:
            raise ValueError(f"unknown indicator {indicator!r} (sql/indicators has {', '.join(sorted(known))})")
        return indicator

    @field_validator("group")
    @classmethod
    def _group_exists(cls, group: str) -> str:
        if group not in GROUPS:
            raise ValueError(f"unknown group {group!r}; known: {', '.join(GROUPS)}")
        return group


class FindingRule(BaseModel):
    """A finding: its wording (a jinja2 template over its evidence items) and the evidence, primary first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    theme: str = ""
    statement: str
    evidence: tuple[EvidenceRule, ...]

    @field_validator("evidence", mode="before")
    @classmethod
    def _items_are_named_by_their_keys(cls, evidence: Any) -> Any:
        if not evidence:
            raise ValueError("a finding needs at least one evidence item (the first is its primary evidence)")
        if isinstance(evidence, dict):
            return [{**item, "name": name} if isinstance(item, dict) else item for name, item in evidence.items()]
        return evidence


class FindingRules(BaseModel):
    """config/findings.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    findings: tuple[FindingRule, ...] = ()

    @field_validator("findings")
    @classmethod
    def _ids_unique(cls, findings: tuple[FindingRule, ...]) -> tuple[FindingRule, ...]:
        ids = [f.id for f in findings]
        if repeated := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"every finding needs its own id: {', '.join(repeated)} repeated")
        return findings


def load_rules(indicators: set[str], path: Path | None = None) -> list[FindingRule]:
    """The findings rules, checked against the indicators that exist."""
    rules = load_config(
        path or paths.FINDINGS_FILE,
        FindingRules,
        what="findings rules",
        entries={"findings": "finding", "evidence": "evidence"},
        context={"indicators": indicators},
        error=FindingsError,
    )
    return list(rules.findings)


# --- wording ----------------------------------------------------------------------------------------------


def pct(value: Any) -> str:
    """A share as a percentage people read: 0.3083 → '31%' (one decimal under 10%)."""
    share = float(value) * 100
    return f"{share:.1f}%" if abs(share) < 10 else f"{share:.0f}%"


def num(value: Any) -> str:
    """A count with thousands separators."""
    return f"{float(value):,.0f}"


def environment(label: Callable[[str], str]) -> SandboxedEnvironment:
    """The jinja2 sandbox rules are rendered and evaluated in, with pct, num and label."""
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)
    env.globals.update(pct=pct, num=num, label=label)
    return env


# --- evidence -----------------------------------------------------------------------------------------------


def _visible(value: Any) -> bool:
    """A published number (not a disclosure code, not missing)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def select_cell(
    rows: list[dict[str, Any]], cell: dict[str, str], latest: str | None, pick: str | None, value: str = "value"
) -> tuple[dict[str, Any] | None, str]:
    """The one published cell an evidence item names (judged by its `value` column), or None with the reason."""
    matches = [r for r in rows if all(str(r.get(k)) == v for k, v in cell.items())]
    if latest and matches:
        newest = max(str(r[latest]) for r in matches)
        matches = [r for r in matches if str(r[latest]) == newest]
    if pick:
        visible = [r for r in matches if _visible(r.get(value))]
        if not visible:
            return None, "no published cell matches" if not matches else "every matching cell is hidden"
        return (max if pick == "max" else min)(visible, key=lambda r: float(r[value])), ""
    if not matches:
        return None, "no cell matches"
    if len(matches) > 1:
        return None, f"{len(matches)} cells match: name the cell fully, or use latest or pick"
    if not _visible(matches[0].get(value)):
        return None, f"the cell is hidden by disclosure control ({matches[0].get('disclosure') or 'no value'})"
    return matches[0], ""


def _truth(env: SandboxedEnvironment, expression: str | None, context: dict[str, Any]) -> bool | None:
    """A rule's expression over the evidence, or None when it has none or cannot be judged."""
    if not expression:
        return None
    try:
        return bool(env.compile_expression(expression, undefined_to_none=False)(**context))
    except (TemplateError, TypeError, ValueError):
        return None


def corroboration(supporting: set[str], contradicting: set[str]) -> str:
    """The corroboration level of a finding from the groups that support and contradict it."""
    if contradicting:
        return "contested"
    return {0: "unsupported", 1: "single group", 2: "two groups"}.get(len(supporting), "three or more groups")


def _read(
    item: EvidenceRule, table: dict[str, Any], cell: dict[str, str], row: dict[str, Any], status: EvidenceStatus
) -> Evidence:
    """An evidence item read from the row of its indicator that `cell` chose, with its sources and periods."""
    shown = item.shows or table.get("value", "value")
    dims = table.get("dimensions")
    return Evidence(
        name=item.name,
        indicator=item.indicator,
        group=item.group,
        cell={d: str(row[d]) for d in dims} if dims else cell,  # the cell chosen, named fully
        status=status,
        value=row.get(shown),
        unit="count" if item.shows else table.get("unit", "number"),
        values=row,
        sources=sorted({c["source_id"] for c in table["coverage"]}),
        periods=sorted({p for c in table["coverage"] for p in (c["first_period"], c["last_period"])}),
    )


def build_finding(
    rule: FindingRule, published: dict[str, dict[str, Any]], env: SandboxedEnvironment
) -> StatedFinding | UnstatedFinding:
    """One finding: its statement, evidence and corroboration, or why it is not stated."""
    context: dict[str, Any] = {}
    evidence: list[Evidence | UnavailableEvidence] = []
    supporting: set[str] = set()
    contradicting: set[str] = set()
    for item in rule.evidence:
        table = published.get(item.indicator) or {"rows": [], "coverage": [], "value": "value"}
        try:
            cell = {k: env.from_string(v).render(**context) for k, v in item.cell.items()}
        except TemplateError as exc:
            cell, row, why = {}, None, f"the cell refers to evidence that is missing ({exc})"
        else:
            rows = [r for r in table["rows"] if item.where is None or _truth(env, item.where, r)]
            row, why = select_cell(rows, cell, item.latest, item.pick, table.get("value", "value"))
        if row is None:
            evidence.append(
                UnavailableEvidence(
                    name=item.name,
                    indicator=item.indicator,
                    group=item.group,
                    cell=cell,
                    status="unavailable",
                    reason=why,
                )
            )
            if item is rule.evidence[0]:
                reason = f"its primary evidence is unavailable: {why}"
                return UnstatedFinding(id=rule.id, theme=rule.theme, reason=reason, evidence=tuple(evidence))
            continue
        context[item.name] = row
        supports = _truth(env, item.supports, {**context, **row})
        contradicts = _truth(env, item.contradicts, {**context, **row})
        status: EvidenceStatus = "contradicts" if contradicts else "supports" if supports else "neutral"
        evidence.append(_read(item, table, cell, row, status))
        if item is rule.evidence[0] and status != "supports":
            reason = f"its primary evidence does not support it ({item.supports} is false)"
            return UnstatedFinding(id=rule.id, theme=rule.theme, reason=reason, evidence=tuple(evidence))
        (contradicting if status == "contradicts" else supporting if status == "supports" else set()).add(item.group)
    names = {item.name for item in rule.evidence}
    statement = " ".join(env.from_string(rule.statement).render(**{n: context.get(n) for n in names}).split())
    return StatedFinding(
        id=rule.id,
        theme=rule.theme,
        statement=statement,
        corroboration=corroboration(supporting, contradicting),
        supporting_groups=sorted(supporting),
        contradicting_groups=sorted(contradicting),
        evidence=tuple(evidence),
    )


def build_findings(
    rules: list[FindingRule], published: dict[str, dict[str, Any]], label: Callable[[str], str]
) -> list[StatedFinding | UnstatedFinding]:
    """Every rule's finding, in the rules' order."""
    env = environment(label)
    return [build_finding(rule, published, env) for rule in rules]
