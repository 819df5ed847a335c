"""Source schemas as data: schemas/<group>.yaml says each field's kind, whether it is required, its range and
vocabulary. This module reads them and builds the pandera model that validates a typed, harmonised frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd
import pandera.pandas as pa
import yaml

from pop import paths
from schemas.vocabulary import vocabulary

GROUPS = ("helplines_services", "children_youth", "service_providers", "tech_companies", "protection_community")
KINDS = (
    "text",
    "int",
    "number",
    "bool",
    "date",
    "period",
    "country",
    "countries",
    "vocab",
    "multi",
    "age_band",
    "company",
    "platform",
)
MULTI_KINDS = ("multi", "countries")


@dataclass(frozen=True)
class FieldSpec:
    """One field a sender maps a column to."""

    name: str
    kind: str
    required: bool = False
    vocab: str | None = None
    min: float | None = None
    max: float | None = None
    min_exclusive: float | None = None
    default: Any = None
    description: str = ""
    example: Any = None

    def output_columns(self) -> list[str]:
        """The typed frame's columns this field becomes after conversion and harmonisation."""
        if self.kind == "period":
            return ["period", "period_start", "period_end", "period_granularity"]
        if self.kind == "country":
            return ["country_iso3"]
        if self.kind == "age_band":
            return ["age_band", "age_min", "age_max", "pop_age_band"]
        if self.kind == "company":
            return ["company_code", "company_reported"]
        if self.kind == "platform":
            return [f"{self.name}_code", f"{self.name}_reported"]
        return [self.name]

    @property
    def checked_column(self) -> str:
        """The typed column that pandera checks for this field."""
        return {
            "country": "country_iso3",
            "company": "company_code",
            "platform": f"{self.name}_code",
            "period": "period_start",
            "age_band": "age_band",
        }.get(self.kind, self.name)


@dataclass(frozen=True)
class RowCheck:
    name: str
    columns: tuple[str, ...]
    rule: str
    hint: str


@dataclass(frozen=True)
class SourceSchema:
    """A stakeholder group's schema: its fields, natural key, row rules and fact table."""

    group: str
    title: str
    fact_table: str
    natural_key: tuple[str, ...]
    fields: dict[str, FieldSpec]
    row_checks: tuple[RowCheck, ...] = field(default_factory=tuple)

    @property
    def required_fields(self) -> list[str]:
        return [name for name, spec in self.fields.items() if spec.required and spec.default is None]

    @property
    def multi_fields(self) -> list[FieldSpec]:
        return [spec for spec in self.fields.values() if spec.kind in MULTI_KINDS]

    @property
    def natural_key_columns(self) -> list[str]:
        """Typed columns that identify a row (period → period_start/end, country → iso3, ...)."""
        cols: list[str] = []
        for name in self.natural_key:
            spec = self.fields[name]
            cols += [spec.name if spec.kind in ("period", "age_band") else spec.checked_column]
        return cols


def _field(name: str, raw: dict[str, Any]) -> FieldSpec:
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ValueError(f"field {name!r}: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if kind in ("vocab", "multi") and not raw.get("vocab"):
        raise ValueError(f"field {name!r}: kind {kind} needs a vocab")
    if raw.get("vocab"):
        vocabulary(raw["vocab"])  # fails loudly on an unknown vocabulary
    return FieldSpec(name=name, **raw)


@cache
def load_schema(group: str) -> SourceSchema:
    """The schema of one stakeholder group, read from schemas/<group>.yaml."""
    if group not in GROUPS:
        raise KeyError(f"unknown schema {group!r}; known schemas: {', '.join(GROUPS)}")
    doc = yaml.safe_load((paths.SCHEMAS / f"{group}.yaml").read_text(encoding="utf-8"))
    fields = {name: _field(name, raw or {}) for name, raw in doc["fields"].items()}
    checks = tuple(
        RowCheck(name=c["name"], columns=tuple(c["columns"]), rule=c["rule"], hint=c["hint"])
        for c in doc.get("row_checks", [])
    )
    return SourceSchema(
        group=doc["group"],
        title=doc["title"],
        fact_table=doc["fact_table"],
        natural_key=tuple(doc["natural_key"]),
        fields=fields,
        row_checks=checks,
    )


def _column(spec: FieldSpec) -> pa.Column:
    checks: list[pa.Check] = []
    if spec.min is not None:
        checks.append(pa.Check.ge(spec.min))
    if spec.min_exclusive is not None:
        checks.append(pa.Check.gt(spec.min_exclusive))
    if spec.max is not None:
        checks.append(pa.Check.le(spec.max))
    if spec.kind == "vocab":
        checks.append(pa.Check.isin(list(vocabulary(spec.vocab).codes)))
    return pa.Column(nullable=not spec.required, checks=checks, required=False)


def _row_check(check: RowCheck) -> pa.Check:
    def rule(frame: pd.DataFrame) -> pd.Series:
        outcome = frame.eval(check.rule) if set(check.columns) <= set(frame.columns) else True
        result = pd.Series(outcome, index=frame.index) if not isinstance(outcome, pd.Series) else outcome
        # a rule over missing values is not broken: required-ness is checked per column
        missing = frame[[c for c in check.columns if c in frame.columns]].isna().any(axis=1)
        return result.fillna(True).astype(bool) | missing

    return pa.Check(rule, name=check.name, error=check.hint)


@cache
def pandera_schema(group: str) -> pa.DataFrameSchema:
    """The pandera model of a group's typed frame (after conversion and harmonisation)."""
    schema = load_schema(group)
    columns = {spec.checked_column: _column(spec) for spec in schema.fields.values() if spec.kind not in MULTI_KINDS}
    return pa.DataFrameSchema(
        columns=columns,
        checks=[_row_check(c) for c in schema.row_checks],
        name=schema.group,
        strict=False,
        coerce=False,
    )
