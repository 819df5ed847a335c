"""Source schemas as data: schemas/<group>.yaml is the single declaration of a group's fields (kind, required,
range, vocabulary), natural key, row rules and fact table. This module reads them and builds the pandera model that
validates a typed, harmonised frame; the fact tables (pop/models.py), the Great Expectations suites and the
submission templates are built from the same declarations."""

from __future__ import annotations

from functools import cache
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pop import paths
from pop.config import ConfigError, load_config
from schemas.kinds import KINDS, FieldKind
from schemas.vocabulary import vocabulary

GROUPS = ("helplines_services", "children_youth", "service_providers", "tech_companies", "protection_community")


class SchemaError(ConfigError):
    """A schema file cannot be used; the message names the field and what to fix."""


class FieldSpec(BaseModel):
    """One field a sender maps a column to; what it does follows from its kind (schemas/kinds.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: str
    required: bool = False
    vocab: str | None = None
    min: int | float | None = None
    max: int | float | None = None
    min_exclusive: int | float | None = None
    default: Any = None
    # an organisation field a source fills with its own organisation (the registry's) when it sends no column for it
    # and gives no default: a helpline sending its own contacts speaks for itself
    defaults_to_sender: bool = False
    description: str = ""
    example: Any = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        return kind

    @model_validator(mode="after")
    def _vocabulary_exists(self) -> FieldSpec:
        if self.defaults_to_sender and self.kind != "organisation":
            raise ValueError("defaults_to_sender is for an organisation field")
        if self.kind in ("vocab", "multi") and not self.vocab:
            raise ValueError(f"kind {self.kind} needs a vocab (a file or list of schemas/vocab)")
        if self.vocab:
            try:
                vocabulary(self.vocab)
            except KeyError as exc:
                raise ValueError(str(exc.args[0])) from None
        return self

    @property
    def field_kind(self) -> FieldKind:
        return KINDS[self.kind]

    def output_columns(self) -> list[str]:
        """The typed frame's columns this field becomes after conversion and harmonisation."""
        return self.field_kind.output_columns(self)

    @property
    def checked_column(self) -> str:
        """The typed column that pandera checks for this field."""
        return self.field_kind.checked_column(self)

    @property
    def stored_column(self) -> str:
        """The fact-table column that holds the field."""
        return self.field_kind.stored_column(self)


class RowCheck(BaseModel):
    """A rule over several columns of a row (a pandas expression), with what to tell the sender when it fails."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    columns: tuple[str, ...]
    rule: str
    hint: str


class Observation(BaseModel):
    """What makes two rows from different sources the same observation (`key`: fields), and the values two sources
    of one observation should agree on (`values`: numeric fields). Indicators count each observation once, from
    the source believed first; a disagreement is a discrepancy for stewards."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: tuple[str, ...] = Field(min_length=1)
    values: tuple[str, ...] = ()


PROVIDER = "provider"  # the name a registry maps a column to when it names a company or one of its products


class Provider(BaseModel):
    """A column that names who a figure is about, a company or one of its products (a table by service provider):
    a product's name fills `product` and, from the platform vocabulary, `company`; a company's name fills `company`
    and `product` with `company_wide`; a name that could be either waits for a steward (ambiguous_name)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    company: str
    product: str
    company_wide: str = "all"

    @property
    def fields(self) -> tuple[str, str]:
        return (self.company, self.product)


class SourceSchema(BaseModel):
    """A stakeholder group's schema: its fields, natural key, row rules, fact table, and what one observation is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str
    title: str
    fact_table: str = Field(pattern=r"^fact_[a-z_]+$")
    natural_key: tuple[str, ...]
    fields: dict[str, FieldSpec]
    row_checks: tuple[RowCheck, ...] = ()
    observation: Observation | None = None
    provider: Provider | None = None

    @model_validator(mode="before")
    @classmethod
    def _fields_are_named_by_their_keys(cls, doc: Any) -> Any:
        if isinstance(doc, dict) and isinstance(doc.get("fields"), dict):
            named = {name: {**(raw or {}), "name": name} for name, raw in doc["fields"].items()}
            return {**doc, "fields": named}
        return doc

    @model_validator(mode="after")
    def _names_are_fields(self) -> SourceSchema:
        if self.group not in GROUPS:
            raise ValueError(f"unknown group {self.group!r}; known: {', '.join(GROUPS)}")
        if unknown := [n for n in self.natural_key if n not in self.fields]:
            raise ValueError(f"natural_key names {', '.join(unknown)}, not fields of the schema")
        if self.observation:
            named = [*self.observation.key, *self.observation.values]
            if unknown := [n for n in named if n not in self.fields]:
                raise ValueError(f"observation names {', '.join(unknown)}, not fields of the schema")
            if not_numbers := [n for n in self.observation.values if self.fields[n].kind not in ("int", "number")]:
                raise ValueError(f"observation values must be numbers (int or number): {', '.join(not_numbers)}")
        if self.provider:
            kinds = {name: self.fields[name].kind if name in self.fields else None for name in self.provider.fields}
            if kinds != {self.provider.company: "company", self.provider.product: "platform"}:
                raise ValueError("provider names a company field (kind company) and a product field (kind platform)")
        for check in self.row_checks:
            outputs = {c for spec in self.fields.values() for c in spec.output_columns()}
            if unknown := [c for c in check.columns if c not in outputs]:
                raise ValueError(f"row check {check.name!r} names {', '.join(unknown)}, not columns of the schema")
        return self

    @property
    def required_fields(self) -> list[str]:
        return [name for name, spec in self.fields.items() if spec.required and spec.default is None]

    @property
    def multi_fields(self) -> list[FieldSpec]:
        return [spec for spec in self.fields.values() if spec.field_kind.multi]

    @property
    def observation_key_columns(self) -> list[str]:
        """The stored columns that identify an observation across sources (none: every row is its own)."""
        return [self.fields[name].stored_column for name in self.observation.key] if self.observation else []

    @property
    def observation_scope_columns(self) -> list[str]:
        """The first two columns of the observation key: where two sources' rows may be the same observation (the
        one column twice when the key has one)."""
        key = self.observation_key_columns
        return [key[0], key[1] if len(key) > 1 else key[0]] if key else []

    @property
    def observation_value_columns(self) -> list[str]:
        """The stored columns two sources of one observation should agree on."""
        return [self.fields[name].stored_column for name in self.observation.values] if self.observation else []

    @property
    def natural_key_columns(self) -> list[str]:
        """The stored columns that identify a row (country → country_iso3, company → company_code, ...)."""
        return [self.fields[name].stored_column for name in self.natural_key]


@cache
def load_schema(group: str) -> SourceSchema:
    """The schema of one stakeholder group, read from schemas/<group>.yaml."""
    if group not in GROUPS:
        raise KeyError(f"unknown schema {group!r}; known schemas: {', '.join(GROUPS)}")
    path = paths.SCHEMAS / f"{group}.yaml"
    schema = load_config(path, SourceSchema, what="schema", entries={"fields": "field"}, error=SchemaError)
    if schema.group != group:
        raise SchemaError(f"schema file {path} is wrong: its group is {schema.group!r}, not {group!r}")
    return schema


def _column(spec: FieldSpec) -> pa.Column:
    return pa.Column(nullable=not spec.required, checks=spec.field_kind.pandera_checks(spec), required=False)


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
    columns = {spec.checked_column: _column(spec) for spec in schema.fields.values() if not spec.field_kind.multi}
    return pa.DataFrameSchema(
        columns=columns,
        checks=[_row_check(c) for c in schema.row_checks],
        name=schema.group,
        strict=False,
        coerce=False,
    )
