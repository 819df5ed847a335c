"""Findings: plain-language statements built from the published indicators by rules kept as data
(config/findings.yaml), each with its evidence and a corroboration level (how many stakeholder groups support it,
and whether any contradicts it). Findings read only published cells, so they never repeat a hidden number."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from pop import paths
from schemas.spec import GROUPS

ITEM_KEYS = {"indicator", "cell", "where", "latest", "pick", "group", "supports", "contradicts", "shows"}


class FindingsError(ValueError):
    """The findings rules cannot be used; the message says which rule and what to fix."""


@dataclass(frozen=True)
class EvidenceRule:
    name: str
    indicator: str
    cell: dict[str, str]
    where: str | None  # a jinja2 expression a cell must satisfy to be considered (before latest and pick)
    latest: str | None
    pick: str | None
    group: str
    supports: str
    contradicts: str | None
    shows: str | None = None  # the count column this evidence is about, when not the indicator's value


@dataclass(frozen=True)
class FindingRule:
    id: str
    theme: str
    statement: str
    evidence: tuple[EvidenceRule, ...]


def _evidence(finding_id: str, name: str, raw: dict[str, Any], indicators: set[str]) -> EvidenceRule:
    """One evidence item of a rule, checked."""
    place = f"finding {finding_id}, evidence {name}"
    if not isinstance(raw, dict) or (stray := set(raw) - ITEM_KEYS):
        raise FindingsError(
            f"{place}: unknown key(s) {', '.join(sorted(stray)) if isinstance(raw, dict) else raw}; "
            f"allowed: {', '.join(sorted(ITEM_KEYS))}"
        )
    for key in ("indicator", "group", "supports"):
        if not raw.get(key):
            raise FindingsError(f"{place}: '{key}' is required")
    if raw["indicator"] not in indicators:
        raise FindingsError(
            f"{place}: unknown indicator {raw['indicator']!r} (sql/indicators has {', '.join(sorted(indicators))})"
        )
    if raw["group"] not in GROUPS:
        raise FindingsError(f"{place}: unknown group {raw['group']!r}; known: {', '.join(GROUPS)}")
    if raw.get("pick") not in (None, "max", "min"):
        raise FindingsError(f"{place}: pick must be max or min, not {raw['pick']!r}")
    return EvidenceRule(
        name=name,
        indicator=raw["indicator"],
        cell={k: str(v) for k, v in (raw.get("cell") or {}).items()},
        where=raw.get("where"),
        latest=raw.get("latest"),
        pick=raw.get("pick"),
        group=raw["group"],
        supports=raw["supports"],
        contradicts=raw.get("contradicts"),
        shows=raw.get("shows"),
    )


def load_rules(indicators: set[str], path: Path | None = None) -> list[FindingRule]:
    """The findings rules, checked against the indicators that exist."""
    path = path or paths.FINDINGS_FILE
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rules, seen = [], set()
    for raw in doc.get("findings") or []:
        fid = raw.get("id")
        if not fid or fid in seen:
            raise FindingsError(f"{path.name}: every finding needs a unique id ({fid!r})")
        seen.add(fid)
        if not raw.get("statement") or not raw.get("evidence"):
            raise FindingsError(f"finding {fid}: 'statement' and 'evidence' are required")
        evidence = tuple(_evidence(fid, name, item, indicators) for name, item in raw["evidence"].items())
        rules.append(FindingRule(id=fid, theme=raw.get("theme", ""), statement=raw["statement"], evidence=evidence))
    return rules


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


def build_finding(rule: FindingRule, published: dict[str, dict[str, Any]], env: SandboxedEnvironment) -> dict:
    """One finding: its statement, evidence and corroboration, or why it is not stated."""
    context: dict[str, Any] = {}
    evidence, supporting, contradicting = [], set(), set()
    for item in rule.evidence:
        table = published.get(item.indicator) or {"rows": [], "coverage": [], "value": "value"}
        try:
            cell = {k: env.from_string(v).render(**context) for k, v in item.cell.items()}
        except TemplateError as exc:
            cell, row, why = {}, None, f"the cell refers to evidence that is missing ({exc})"
        else:
            rows = [r for r in table["rows"] if item.where is None or _truth(env, item.where, r)]
            row, why = select_cell(rows, cell, item.latest, item.pick, table.get("value", "value"))
        entry: dict[str, Any] = {"name": item.name, "indicator": item.indicator, "group": item.group, "cell": cell}
        if row is None:
            entry.update(status="unavailable", reason=why)
            evidence.append(entry)
            if item is rule.evidence[0]:
                return {
                    "id": rule.id,
                    "theme": rule.theme,
                    "stated": False,
                    "reason": f"its primary evidence is unavailable: {why}",
                    "evidence": evidence,
                }
            continue
        context[item.name] = row
        supports = _truth(env, item.supports, {**context, **row})
        contradicts = _truth(env, item.contradicts, {**context, **row})
        status = "contradicts" if contradicts else "supports" if supports else "neutral"
        if item is rule.evidence[0] and status != "supports":
            return {
                "id": rule.id,
                "theme": rule.theme,
                "stated": False,
                "evidence": evidence + [entry],
                "reason": f"its primary evidence does not support it ({item.supports} is false)",
            }
        (contradicting if status == "contradicts" else supporting if status == "supports" else set()).add(item.group)
        sources = sorted({c["source_id"] for c in table["coverage"]})
        if dims := table.get("dimensions"):
            entry["cell"] = {d: str(row[d]) for d in dims}  # the cell chosen, named fully
        shown = item.shows or table.get("value", "value")
        entry.update(
            status=status,
            value=row.get(shown),
            unit="count" if item.shows else table.get("unit", "number"),
            values=row,
            sources=sources,
            periods=sorted({p for c in table["coverage"] for p in (c["first_period"], c["last_period"])}),
        )
        evidence.append(entry)
    names = {item.name for item in rule.evidence}
    statement = " ".join(env.from_string(rule.statement).render(**{n: context.get(n) for n in names}).split())
    return {
        "id": rule.id,
        "theme": rule.theme,
        "stated": True,
        "statement": statement,
        "corroboration": corroboration(supporting, contradicting),
        "supporting_groups": sorted(supporting),
        "contradicting_groups": sorted(contradicting),
        "evidence": evidence,
    }


def build_findings(
    rules: list[FindingRule], published: dict[str, dict[str, Any]], label: Callable[[str], str]
) -> list[dict[str, Any]]:
    """Every rule's finding, in the rules' order."""
    env = environment(label)
    return [build_finding(rule, published, env) for rule in rules]
