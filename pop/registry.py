"""The source registry (config/sources.yaml): every stakeholder source, how its files arrive and how to read them.
A registry that is itself wrong is refused with a message that says which entry and what to fix."""

from __future__ import annotations

import codecs
import fnmatch
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pop.config import ConfigError, load_config
from pop.globs import glob_problem, overlap
from pop.suggest import nearest, no_such
from schemas.kinds import ParseOptions
from schemas.spec import GROUPS, PROVIDER, FieldSpec, load_schema
from schemas.vocabulary import vocabulary

FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "half-yearly", "yearly", "ad-hoc")


# the kinds whose values come from a closed list: a default or mapped value is checked against it at load; the
# names of companies and platforms are not, as a steward may accept new ones in the warehouse (`pop vocab accept`)
LISTED_VALUE_CHECKS = ("unknown_code", "unknown_country")


class RegistryError(ConfigError):
    """The registry file cannot be used; the message says what to fix."""


class UnknownSourceError(RegistryError):
    """A source id asked for is not in the registry; the message names the nearest one."""


def _not_listed(spec: FieldSpec, value: str) -> str:
    """Why a value is not one of a field's codes, with the code nearest to it or every code."""
    if spec.vocab is None:
        return f"{value!r} is not a country: use its ISO 3166 code (e.g. KEN), or WLD for global figures"
    codes = vocabulary(spec.vocab).codes
    close = nearest(value, codes)
    hint = f"did you mean {close!r}?" if close else f"its codes: {', '.join(codes)}"
    return f"{value!r} is not a code of vocabulary {spec.vocab}; {hint}"


class Provenance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = None
    url: str | None = None
    citation: str | None = None
    published: str | None = None


class Source(BaseModel):
    """One stakeholder source: who sends it, where its files arrive and how to map them to our schema."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    group: Literal[GROUPS]  # type: ignore[valid-type]
    schema_name: str = Field(alias="schema")
    organisation: str
    format: Literal["csv", "xlsx", "json"]
    files: str
    encoding: str | None = None  # pinned, or detected per file when left out
    delimiter: str | None = None  # pinned, or sniffed per file when left out
    sheet: str | None = None
    header_row: int = Field(default=1, ge=1)
    records_path: str | None = None
    columns: dict[str, str]
    ignore_columns: list[str] = []
    values: dict[str, dict[str, str]] = {}
    multi_select_delimiter: str = ";"
    multi_select_columns: dict[str, dict[str, str]] = {}
    defaults: dict[str, Any] = {}
    licence: str
    consent: str | None = None
    contact: str
    update_frequency: Literal[FREQUENCIES]  # type: ignore[valid-type]
    provenance: Provenance = Provenance()
    # which source is believed first when two sources report the same observation (the schema's `observation`): the
    # lowest; equal precedences are broken by source id
    precedence: int = Field(default=100, ge=0)
    # rows of one file that share a natural key: held back as duplicates (the default), or added up into the first
    # (the group's observation values are summed; every sender row is kept as provenance)
    same_key: Literal["quarantine", "sum"] = "quarantine"
    # the decimal mark of the source's numbers written as text: '.' (1,234.5) or ',' (1.234,5 and 0,75)
    decimal: str = "."
    # the formats it takes besides `format`: `format: [csv, xlsx]` in the registry is format csv, other_formats [xlsx]
    other_formats: list[Literal["csv", "xlsx", "json"]] = []
    # the fields (company or platform) whose names this source is authoritative for (a registry of service providers):
    # a name not yet known is added as a new entry with the source as provenance, for review, not held back
    authoritative_for: list[str] = []
    # a file is taken once its sender says it is complete: `complete_marker: ".done"` takes x.csv once x.csv.done is
    # there too (without one, once the file has not changed for POP_INBOX_SETTLE_SECONDS)
    complete_marker: str | None = None

    @field_validator("files")
    @classmethod
    def _glob_is_sound(cls, value: str) -> str:
        if problem := glob_problem(value):
            raise ValueError(problem)
        try:
            re.compile(fnmatch.translate(value))
        except re.error as exc:
            raise ValueError(f"files {value!r} is not a valid glob: {exc}") from None
        return value

    @field_validator("complete_marker")
    @classmethod
    def _marker_is_a_suffix(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\.[A-Za-z0-9_-]{1,20}", value):
            raise ValueError(
                f"complete_marker {value!r} is not a file name ending: give one such as '.done' (x.csv is then taken "
                "once x.csv.done is there), a dot and letters, digits, '-' or '_'"
            )
        return value

    @field_validator("schema_name")
    @classmethod
    def _schema_is_known(cls, value: str) -> str:
        try:
            load_schema(value)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        return value

    @model_validator(mode="after")
    def _mapping_fits_schema(self) -> Source:
        schema = load_schema(self.schema_name)
        if schema.group != self.group:
            raise ValueError(f"schema {self.schema_name!r} belongs to group {schema.group!r}, not {self.group!r}")
        onehot = set(self.multi_select_columns)
        targets = [*schema.fields, *([PROVIDER] if schema.provider else [])]
        for sender, ours in self.columns.items():
            if ours not in targets:
                raise ValueError(
                    f"column {sender!r} maps to {ours!r}, which is not a field of schema "
                    f"{schema.group}; fields: {', '.join(targets)}"
                )
        for ours in [*onehot, *self.defaults]:
            if ours not in schema.fields:
                raise ValueError(f"{ours!r} is not a field of schema {schema.group}")
        for ours in self.values:
            if ours not in targets:
                raise ValueError(f"values: {ours!r} is not a field of schema {schema.group}")
        if schema.provider and PROVIDER in self.columns.values():
            filled = [f for f in schema.provider.fields if f in [*self.columns.values(), *self.defaults]]
            if filled:
                raise ValueError(
                    f"a column mapped to provider gives {' and '.join(schema.provider.fields)}: leave "
                    f"{', '.join(filled)} out of columns and defaults"
                )
        for ours in onehot:
            if not schema.fields[ours].field_kind.multi:
                raise ValueError(f"multi_select_columns: {ours!r} is not a multi-select field")
        return self

    @model_validator(mode="after")
    def _given_values_are_codes(self) -> Source:
        # a default or mapped value that is not a code would hold back every row that takes it
        schema = load_schema(self.schema_name)
        options = ParseOptions(delimiter=self.multi_select_delimiter, decimal=self.decimal)
        given = [(f"defaults: {name}", name, value) for name, value in self.defaults.items()]
        given += [
            (f"values: {name}: {sent!r}", name, ours)
            for name, codes in self.values.items()
            for sent, ours in codes.items()
        ]
        given += [
            (f"multi_select_columns: {name}: {column!r}", name, ours)
            for name, options_of in self.multi_select_columns.items()
            for column, ours in options_of.items()
        ]
        for where, name, value in given:
            if name == PROVIDER:  # a company's or a product's name: checked as the file is read
                continue
            spec = schema.fields[name]
            kind = spec.field_kind
            if kind.failure not in LISTED_VALUE_CHECKS or value is None or not str(value).strip():
                continue
            if not isinstance(kind.parser(spec, options)(str(value)), tuple):
                raise ValueError(f"{where}: {_not_listed(spec, str(value))}")
        return self

    @model_validator(mode="after")
    def _authoritative_for_names(self) -> Source:
        fields = load_schema(self.schema_name).fields
        for name in self.authoritative_for:
            if name not in fields or not fields[name].field_kind.takes_new_names:
                named = [f for f, spec in fields.items() if spec.field_kind.takes_new_names]
                raise ValueError(
                    f"authoritative_for: {name!r} is not a company, platform or organisation field of schema "
                    f"{self.schema_name}"
                    f"; such fields: {', '.join(named) or 'none'}"
                )
        return self

    @field_validator("decimal")
    @classmethod
    def _decimal_mark_is_known(cls, value: str) -> str:
        if value not in (".", ","):
            raise ValueError(f"decimal {value!r} is not a decimal mark: use '.' (1,234.5) or ',' (1.234,5)")
        return value

    @model_validator(mode="after")
    def _decimal_comma_in_text_only(self) -> Source:
        # xlsx cells and JSON values hold numbers as numbers, which are read with '.' whatever the sender's locale
        if self.decimal != "." and (others := [f for f in self.formats or [self.format] if f != "csv"]):
            raise ValueError(
                f"decimal {self.decimal!r} applies to CSV files only: {' and '.join(others)} files hold numbers as "
                "numbers, so leave decimal out"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _format_may_be_a_list(cls, entry: Any) -> Any:
        if isinstance(entry, dict) and isinstance(entry.get("format"), list) and entry["format"]:
            main, *others = entry["format"]
            return {**entry, "format": main, "other_formats": others}
        return entry

    @field_validator("encoding")
    @classmethod
    def _encoding_is_known(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(
                    f"encoding {value!r} is unknown: use e.g. utf-8, cp1252 or utf-16, or leave it out so that each "
                    "file's is detected"
                ) from None
        return value

    @model_validator(mode="after")
    def _sum_needs_numbers(self) -> Source:
        if self.same_key == "sum" and not load_schema(self.schema_name).observation_value_columns:
            raise ValueError(
                f"same_key: sum adds up the group's observation values, and {self.group} declares none: "
                "leave same_key out"
            )
        return self

    @property
    def sender_fields(self) -> list[str]:
        """The organisation fields the source fills with its own organisation (schemas: defaults_to_sender), as it
        sends no column and gives no default for them; it is authoritative for that name."""
        given = set(self.field_columns) | set(self.defaults)
        fields = load_schema(self.schema_name).fields
        return [name for name, spec in fields.items() if spec.defaults_to_sender and name not in given]

    @property
    def given_defaults(self) -> dict[str, Any]:
        """What a field is when the file leaves it out: the registry's `defaults`, and the source's own organisation
        for the fields it speaks for itself in (sender_fields)."""
        return {**dict.fromkeys(self.sender_fields, self.organisation), **self.defaults}

    @property
    def adds_names_of(self) -> list[str]:
        """The fields whose unknown names the source adds as new entries: those it is authoritative for, and its own
        organisation where it speaks for itself."""
        return [*self.authoritative_for, *(f for f in self.sender_fields if f not in self.authoritative_for)]

    @property
    def field_columns(self) -> dict[str, str]:
        """Our field → the sender's column that gives it; a column mapped to `provider` gives the schema's company
        and product fields (schemas.spec.Provider)."""
        provider = load_schema(self.schema_name).provider
        given: dict[str, str] = {}
        for sender, ours in self.columns.items():
            for name in provider.fields if provider and ours == PROVIDER else (ours,):
                given.setdefault(name, sender)
        return given

    @property
    def formats(self) -> list[str]:
        """Every format the source takes, its main one (`format`) first."""
        return list(dict.fromkeys([self.format, *self.other_formats]))

    @property
    def schema(self):
        return load_schema(self.schema_name)


class Registry(BaseModel):
    """Every stakeholder source (config/sources.yaml)."""

    model_config = ConfigDict(extra="forbid")
    sources: list[Source]

    @model_validator(mode="before")
    @classmethod
    def _a_list_of_sources(cls, doc: Any) -> Any:
        if not isinstance(doc, dict) or not isinstance(doc.get("sources"), list):
            raise ValueError("the file must hold a 'sources:' list, one entry per source")
        return doc

    @model_validator(mode="after")
    def _ids_unique(self) -> Registry:
        seen: set[str] = set()
        for source in self.sources:
            if source.id in seen:
                raise ValueError(f"duplicate source id {source.id!r}: every source needs its own id")
            seen.add(source.id)
        return self

    @model_validator(mode="after")
    def _each_file_has_one_source(self) -> Registry:
        # a file two sources' globs match would be loaded twice, its figures counted twice
        for i, first in enumerate(self.sources):
            for second in self.sources[i + 1 :]:
                if (example := overlap(first.files, second.files)) is not None:
                    raise ValueError(
                        f"sources {first.id!r} (files {first.files!r}) and {second.id!r} (files {second.files!r}) can "
                        f"both match the same file, e.g. {example!r}, which would be loaded twice: give each source "
                        "its own folder, or globs that no one file can match both"
                    )
        return self

    def get(self, source_id: str) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise UnknownSourceError(no_such("source", source_id, [s.id for s in self.sources], "`pop sources`"))


def load_registry(path: Path) -> Registry:
    """Read and check the registry; raise RegistryError naming each wrong entry and what to fix."""
    return load_config(Path(path), Registry, what="registry", entries={"sources": "source"}, error=RegistryError)
