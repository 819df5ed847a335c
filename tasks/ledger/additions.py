"""Small additions do not pass unseen: a clean batch of children's data that adds only a few children, in all or to
a cell no approved batch has reached yet (a new country, a new helpline, a new type of organisation), is not
approved without a steward, who is told why. Comparing the snapshots made before and after it would show which
published cells it touched. The rule is data (config/review.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import Connection, func, select

from pop import paths, views
from pop.config import ConfigError, load_config
from pop.models import FACT_TABLES, Batch, SourceRecord
from schemas.spec import GROUPS, load_schema

ROWS = "rows"  # a group whose fact rows are one child each


class ReviewRulesError(ConfigError):
    """config/review.yaml cannot be used; the message says what to fix."""


class GroupRule(BaseModel):
    """How a group's batches count children, and which of its columns make a new published cell."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    children: str
    new_cells: tuple[str, ...] = ()


class ReviewRules(BaseModel):
    """The small-addition rule (config/review.yaml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    small: int
    groups: dict[str, GroupRule]

    @field_validator("small", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"small must be a whole number of at least 1, not {value!r}")
        return value

    @field_validator("groups")
    @classmethod
    def _known_columns(cls, groups: dict[str, GroupRule]) -> dict[str, GroupRule]:
        for group, rule in groups.items():
            if group not in GROUPS:
                raise ValueError(f"unknown group {group!r}; known: {', '.join(GROUPS)}")
            fact = FACT_TABLES[load_schema(group).fact_table]
            wanted = (*rule.new_cells, *([] if rule.children == ROWS else [rule.children]))
            unknown = [c for c in wanted if c not in fact.columns]
            if unknown:
                raise ValueError(f"{group}: {', '.join(unknown)} not columns of {fact.name}")
        return groups


def load_review_rules(path: Path | None = None) -> ReviewRules:
    """The small-addition rule from a YAML file (default config/review.yaml), validated."""
    return load_config(path or paths.REVIEW_FILE, ReviewRules, what="review rules", error=ReviewRulesError)


def small_addition(conn: Connection, batch_id: int, rules: ReviewRules) -> str | None:
    """Why a loaded batch must wait for a steward although it is clean, or None: it adds fewer than `small` children
    in all, or to a cell (a value of a new-cell column) that no approved batch of its group has."""
    group = conn.execute(
        select(SourceRecord.stakeholder_group)
        .join(Batch, Batch.source_id == SourceRecord.id)
        .where(Batch.batch_id == batch_id)
    ).scalar_one_or_none()
    rule = rules.groups.get(group or "")
    if rule is None:
        return None
    fact = FACT_TABLES[load_schema(group).fact_table]
    children = func.count() if rule.children == ROWS else func.coalesce(func.sum(fact.c[rule.children]), 0)
    total = conn.execute(select(children).where(fact.c.batch_id == batch_id)).scalar_one()
    if total < rules.small:
        return (
            f"it adds {_few(total)} children, fewer than {rules.small}: comparing the snapshots made before and after "
            "it would show which published cells they are in. Approve it when that is acceptable, or wait for more "
            "files of its kind"
        )
    approved = views.facts(views.APPROVED, fact.name)
    for column in rule.new_cells:
        rows = conn.execute(
            select(fact.c[column], children)
            .where(fact.c.batch_id == batch_id, fact.c[column].not_in(select(approved.c[column]).distinct()))
            .group_by(fact.c[column])
            .order_by(fact.c[column])
        ).all()
        for value, count in rows:
            if count < rules.small:
                return (
                    f"it is the only file with {column} {value!r} and adds {_few(count)} children there, fewer than "
                    f"{rules.small}: the published cells of {value!r} would be its own. Approve it when that is "
                    "acceptable, or wait for more files of its kind"
                )
    return None


def _few(n: int) -> str:
    """A small number as the steward reads it (the warehouse holds the exact one; nothing here is published)."""
    return f"{int(n):,}"
