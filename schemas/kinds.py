"""Field kinds: what a field of schemas/<group>.yaml is. Each kind is one small class that says, for any field of
that kind, how a sender's text is parsed and harmonised, which columns it becomes (in the typed frame and in the
fact table, with their SQL types), which pandera checks and Great Expectations expectations hold, and what the
submission template shows and checks. Adding a field to a group is one YAML line: everything here follows from it.

A kind parses one distinct value at a time (`parser`, given how the source writes values: `ParseOptions`): it returns
the value's output columns as a tuple, or `Invalid` (None for short) when the sender must fix it; ingestion spreads
the results over the rows and turns each Invalid into a quarantine reason with its check (by default the kind's
`failure`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd
import pandera.pandas as pa
from sqlalchemy import BigInteger, Boolean, Column, Date, Float, String, Text
from sqlalchemy.types import TypeEngine

from schemas import values
from schemas.countries import resolve_country
from schemas.vocabulary import AddedEntry, Additions, Vocabulary, vocabulary

if TYPE_CHECKING:
    from schemas.spec import FieldSpec

COUNTRY_CODES = "country_codes"  # the GX suite parameter that holds every ISO alpha-3 code the warehouse knows
COMPANY_CODES, PLATFORM_CODES = "company_codes", "platform_codes"  # those of dim_company and dim_platform
ORGANISATION_CODES = "organisation_codes"  # those of dim_organisation
AMBIGUOUS = "ambiguous_name"  # the check of a name that could stand for a company as well as one of its products
SERVICE_AS_COMPANY = "service_as_company"  # a company field holding the name of one of a company's services
CODE_LENGTH = 60  # the longest code a vocabulary may have
PERIOD_FORMS = "2023 (year), 2023-H1 (half), 2023-Q2 (quarter) or 2023-05 (month)"


@dataclass(frozen=True)
class ParseOptions:
    """What reading a sender's value depends on besides the value: the source's multi-select delimiter and decimal
    mark ('.' or ','), the as-of date (a period that has not begun by then is in the future), the names added to the
    vocabularies in the warehouse, and the fields whose unknown names the source adds as new entries (it is
    authoritative for them)."""

    as_of: dt.date = field(default_factory=dt.date.today)
    delimiter: str = ";"
    decimal: str = "."
    additions: Additions = field(default_factory=Additions)
    adds_names: frozenset[str] = frozenset()

    def vocabulary(self, name: str) -> Vocabulary:
        """The vocabulary with the names added in the warehouse."""
        return self.additions.vocabulary(name)


@dataclass(frozen=True)
class Invalid:
    """A value the sender must fix; `shown` is what the reason quotes (default: the value as sent), `outputs` what it
    still gives (a multi-select cell's known codes), though its row is held back; `check` the check it fails when
    that is not the kind's `failure` (it parses, but cannot be true)."""

    shown: str | None = None
    outputs: tuple[Any, ...] | None = None
    check: str | None = None


Parsed = tuple[Any, ...] | Invalid | None
Parser = Callable[[str], Parsed]


@dataclass(frozen=True)
class Expectation:
    """A Great Expectations expectation by class name, with its arguments and metadata."""

    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TemplateRule:
    """The submission template's data validation of a column, in Excel's terms (type None: a prompt only)."""

    type: str | None = None  # list, whole, decimal or date
    operator: str | None = None
    formula1: str | None = None
    formula2: str | None = None
    lists: str | None = None  # with type list and no formula: the Lists column of codes to pick from
    strict: bool = True  # refuse other values, or only warn (names and aliases are accepted too)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _allowed(vocab: str) -> str:
    """Every code of a vocabulary, for a reason the sender reads: a list cut short leaves them guessing."""
    return ", ".join(vocabulary(vocab).codes)


def _coded(vocab: str) -> str:
    """A vocabulary's codes with their labels, one per line."""
    entries = vocabulary(vocab).entries
    return "\n".join(f"{code} = {entry['label']}" if entry.get("label") else code for code, entry in entries.items())


def _split(cell: str, delimiter: str) -> list[str]:
    return [token.strip() for token in re.split(f"[{re.escape(delimiter)}|]", str(cell)) if token.strip()]


class FieldKind:
    """The behaviour every field kind has; subclasses change what differs."""

    name: ClassVar[str]
    phase: ClassVar[str | None] = None  # convert (text → typed values), harmonise (words → our codes), or neither
    failure: ClassVar[str | None] = None  # the check a value that does not parse fails
    multi: ClassVar[bool] = False  # several answers per cell, stored in fact_choices rather than a column
    dates_rows: ClassVar[bool] = False  # a source's freshness can be judged by this field's newest value
    dimension: ClassVar[str | None] = None  # the dimension table whose rows this kind's values refer to
    takes_new_names: ClassVar[bool] = False  # a source authoritative for the field's names adds its unknown ones
    template_format: ClassVar[str] = "text"  # how a value is written, in words, for the template's README
    number_format: ClassVar[str] = "@"  # the template cell's format ('@': text, so Excel keeps 2023-05 and 13-15)

    # --- columns ---------------------------------------------------------------------------------------------

    def output_columns(self, spec: FieldSpec) -> list[str]:
        """The typed frame's columns this field becomes after conversion and harmonisation."""
        return [spec.name]

    def checked_column(self, spec: FieldSpec) -> str:
        """The typed column pandera checks for this field."""
        return spec.name

    def stored_column(self, spec: FieldSpec) -> str:
        """The fact-table column that holds the field (natural keys and expectations use it)."""
        return spec.name

    def sql_type(self) -> TypeEngine[Any]:
        """The SQL type of the stored column."""
        return Text()

    def sql_columns(self, spec: FieldSpec) -> list[Column[Any]]:
        """The fact table's columns for this field: nullable unless every row has a value (required, or a default)."""
        nullable = not spec.required and spec.default is None
        return [Column(self.stored_column(spec), self.sql_type(), nullable=nullable)]

    # --- parsing ---------------------------------------------------------------------------------------------

    def parser(self, spec: FieldSpec, options: ParseOptions) -> Parser | None:
        """A function of one distinct sender value (None: the value passes as it is)."""
        return None

    def outputs(self, spec: FieldSpec) -> dict[str, str]:
        """The parser's output columns and their pandas dtypes."""
        return {}

    def hint_params(self, spec: FieldSpec, options: ParseOptions) -> dict[str, str]:
        """What the plain-language hints of its checks (schemas/checks.yaml) fill in."""
        return {}

    def dimension_rows(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """The rows of `dimension` that the harmonised rows about to load refer to (one per distinct value)."""
        return []

    def new_entries(self, spec: FieldSpec, frame: pd.DataFrame, options: ParseOptions) -> list[AddedEntry]:
        """The entries harmonised rows about to load bring that their vocabulary lacks (a source authoritative for
        the field's names added them while parsing), each labelled with the name as the source wrote it."""
        return []

    # --- checks ----------------------------------------------------------------------------------------------

    def pandera_checks(self, spec: FieldSpec) -> list[pa.Check]:
        """The value checks pandera runs on the checked column: the field's range."""
        checks = []
        if spec.min is not None:
            checks.append(pa.Check.ge(spec.min))
        if spec.min_exclusive is not None:
            checks.append(pa.Check.gt(spec.min_exclusive))
        if spec.max is not None:
            checks.append(pa.Check.le(spec.max))
        return checks

    def expectations(self, spec: FieldSpec) -> list[Expectation]:
        """What Great Expectations checks of the stored column: complete when required, within the range."""
        column = self.stored_column(spec)
        found = []
        if spec.required:
            found.append(Expectation("ExpectColumnValuesToNotBeNull", {"column": column}))
        low = spec.min if spec.min is not None else spec.min_exclusive
        if low is not None or spec.max is not None:
            strict = spec.min is None and low is not None
            found.append(
                Expectation(
                    "ExpectColumnValuesToBeBetween",
                    {"column": column, "min_value": low, "max_value": spec.max, "strict_min": strict},
                )
            )
        return found

    # --- the submission template -----------------------------------------------------------------------------

    def template_list(self, spec: FieldSpec) -> str | None:
        """The Lists column of the template its values come from, if any."""
        return None

    def template_allowed(self, spec: FieldSpec) -> str:
        """The values it takes, in words, for the template's README."""
        return ""

    def template_format_of(self, spec: FieldSpec) -> str:
        """How a value is written, in words (with the field's range where it has one)."""
        return self.template_format

    def template_number_format(self, spec: FieldSpec) -> str:
        """The template cell's number format."""
        return self.number_format

    def template_rule(self, spec: FieldSpec) -> TemplateRule:
        """The template's data validation of the column."""
        return TemplateRule()


class TextKind(FieldKind):
    name = "text"


class _Parsed(FieldKind):
    """A kind whose value parses into one typed column."""

    dtype: ClassVar[str]

    def reader(self, options: ParseOptions) -> Callable[[str], Any]:
        """The parser of schemas/values.py that reads one value (None: not one), as the source writes values."""
        raise NotImplementedError

    def parser(self, spec: FieldSpec, options: ParseOptions) -> Parser:
        read = self.reader(options)
        return lambda value: (parsed,) if (parsed := read(value)) is not None else None

    def outputs(self, spec: FieldSpec) -> dict[str, str]:
        return {spec.name: self.dtype}


def _bounds(spec: FieldSpec) -> str:
    parts = []
    if spec.min is not None:
        parts.append(f"≥ {_number(spec.min)}")
    if spec.min_exclusive is not None:
        parts.append(f"> {_number(spec.min_exclusive)}")
    if spec.max is not None:
        parts.append(f"≤ {_number(spec.max)}")
    return " and ".join(parts)


def _numeric_rule(spec: FieldSpec, excel_type: str) -> TemplateRule:
    low = spec.min if spec.min is not None else spec.min_exclusive
    if low is not None and spec.max is not None:
        return TemplateRule(excel_type, "between", _number(low), _number(spec.max))
    if spec.min_exclusive is not None:
        return TemplateRule(excel_type, "greaterThan", _number(spec.min_exclusive))
    if low is not None:
        return TemplateRule(excel_type, "greaterThanOrEqual", _number(low))
    if spec.max is not None:
        return TemplateRule(excel_type, "lessThanOrEqual", _number(spec.max))
    return TemplateRule(excel_type, "between", "-1E+15", "1E+15")


def _number_examples(options: ParseOptions, whole: bool) -> dict[str, str]:
    """Numbers written the way the source writes them, for the hints of the number kinds."""
    grouped = "1,200" if options.decimal == "." else "1.200"
    return {"examples": f"1200 or {grouped}" if whole else f"1200, {grouped} or 0{options.decimal}75"}


class IntKind(_Parsed):
    name, phase, failure, dtype = "int", "convert", "not_a_whole_number", "Int64"

    def reader(self, options: ParseOptions) -> Callable[[str], Any]:
        return partial(values.parse_whole_number, decimal=options.decimal)

    def hint_params(self, spec: FieldSpec, options: ParseOptions) -> dict[str, str]:
        return _number_examples(options, whole=True)

    def sql_type(self) -> TypeEngine[Any]:
        return BigInteger()

    def template_format_of(self, spec: FieldSpec) -> str:
        return f"whole number {_bounds(spec)}".strip()

    def template_number_format(self, spec: FieldSpec) -> str:
        return "0" if spec.max is not None else "#,##0"

    def template_rule(self, spec: FieldSpec) -> TemplateRule:
        return _numeric_rule(spec, "whole")


class NumberKind(_Parsed):
    name, phase, failure, dtype = "number", "convert", "not_a_number", "Float64"

    def reader(self, options: ParseOptions) -> Callable[[str], Any]:
        return partial(values.parse_number, decimal=options.decimal)

    def hint_params(self, spec: FieldSpec, options: ParseOptions) -> dict[str, str]:
        return _number_examples(options, whole=False)

    def sql_type(self) -> TypeEngine[Any]:
        return Float()

    def template_format_of(self, spec: FieldSpec) -> str:
        return f"number {_bounds(spec)}".strip() + "; thousands separators accepted (1,200)"

    def template_number_format(self, spec: FieldSpec) -> str:
        return "0.00" if spec.max is not None else "#,##0.00"

    def template_rule(self, spec: FieldSpec) -> TemplateRule:
        return _numeric_rule(spec, "decimal")


class BoolKind(_Parsed):
    name, phase, failure, dtype = "bool", "convert", "not_yes_no", "boolean"
    template_format = "yes or no"

    def reader(self, options: ParseOptions) -> Callable[[str], Any]:
        return values.parse_yes_no

    def sql_type(self) -> TypeEngine[Any]:
        return Boolean()

    def template_allowed(self, spec: FieldSpec) -> str:
        return "yes, no (also accepted: true/false, 1/0)"

    def template_rule(self, spec: FieldSpec) -> TemplateRule:
        return TemplateRule("list", formula1='"yes,no"')


class DateKind(_Parsed):
    name, phase, failure, dtype = "date", "convert", "not_a_date", "datetime64[us]"
    dates_rows = True
    template_format = "date, YYYY-MM-DD"
    number_format = "yyyy-mm-dd"

    def reader(self, options: ParseOptions) -> Callable[[str], Any]:
        return values.parse_date

    def sql_type(self) -> TypeEngine[Any]:
        return Date()

    def template_rule(self, spec: FieldSpec) -> TemplateRule:
        return TemplateRule("date", "greaterThanOrEqual", "1")


class PeriodKind(FieldKind):
    """A reporting period: stored as its canonical label (2023, 2023-H1, 2023-Q2, 2023-05); dim_period has its dates."""

    name, phase, failure = "period", "convert", "bad_period"
    dates_rows = True
    dimension = "dim_period"
    template_format = f"period, written as text: {PERIOD_FORMS}"
    OUTPUTS: ClassVar[dict[str, str]] = {
        "period": "category",
        "period_start": "datetime64[us]",
        "period_end": "datetime64[us]",
        "period_granularity": "category",
    }

    def output_columns(self, spec: FieldSpec) -> list[str]:
        return list(self.OUTPUTS)

    def checked_column(self, spec: FieldSpec) -> str:
        return "period_start"

    def stored_column(self, spec: FieldSpec) -> str:
        return "period"

    def sql_type(self) -> TypeEngine[Any]:
        return String(10)

    def parser(self, spec: FieldSpec, options: ParseOptions) -> Parser:
        def parse(value: str) -> Parsed:
            parsed = values.parse_period(value)
            if parsed is None:
                return None
            start, end, granularity = parsed
            # a period still under way is reported so far; one that has not begun cannot be (2031 for 2021?), and
            # would make its source look fresh to the freshness check
            if start.date() > options.as_of:
                return Invalid(check="future_period")
            return values.period_label(start, granularity), start, end, granularity

        return parse

    def hint_params(self, spec: FieldSpec, options: ParseOptions) -> dict[str, str]:
        return {"as_of": options.as_of.isoformat()}

    def outputs(self, spec: FieldSpec) -> dict[str, str]:
        return dict(self.OUTPUTS)

    def dimension_rows(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        periods = frame[list(self.OUTPUTS)].drop_duplicates("period")
        return [
            {
                "period": r.period,
                "period_start": r.period_start.date(),
                "period_end": r.period_end.date(),
                "granularity": r.period_granularity,
            }
            for r in periods.itertuples(index=False)
        ]


class _Coded(FieldKind):
    """A kind harmonised to one code of a closed list (a vocabulary, or the country table)."""

    phase = "harmonise"
    strict: ClassVar[bool] = True  # the template refuses other values (False: names and aliases are accepted too)

    def vocab(self, spec: FieldSpec) -> str:
        """The vocabulary the field's codes come from."""
        raise NotImplementedError

    def resolve(self, spec: FieldSpec, options: ParseOptions) -> Callable[[str], str | None]:
        # the committed codes only: pandera and the GX suites check a vocab field against them
        return vocabulary(self.vocab(spec)).resolve

    def code_column(self, spec: FieldSpec) -> str:
        return spec.name

    def output_columns(self, spec: FieldSpec) -> list[str]:
        return [self.code_column(spec)]

    def checked_column(self, spec: FieldSpec) -> str:
        return self.code_column(spec)

    def stored_column(self, spec: FieldSpec) -> str:
        return self.code_column(spec)

    def sql_type(self) -> TypeEngine[Any]:
        return String(CODE_LENGTH)

    def parser(self, spec: FieldSpec, options: ParseOptions) -> Parser:
        resolve = self.resolve(spec, options)
        return lambda value: (code,) if (code := resolve(value)) else None

    def outputs(self, spec: FieldSpec) -> dict[str, str]:
        return {self.code_column(spec): "category"}

    def expectations(self, spec: FieldSpec) -> list[Expectation]:
        codes = list(vocabulary(self.vocab(spec)).codes)
        return [
            *super().expectations(spec),
            Expectation(
                "ExpectColumnValuesToBeInSet",
                {"column": self.stored_column(spec), "value_set": codes},
                {"vocabulary": self.vocab(spec)},
            ),
        ]

    def template_list(self, spec: FieldSpec) -> str | None:
        return self.vocab(spec)

    def template_allowed(self, spec: FieldSpec) -> str:
        return _coded(self.vocab(spec))

    def template_rule(self, spec: FieldSpec) -> TemplateRule:
        return TemplateRule("list", lists=self.template_list(spec), strict=self.strict)


class VocabKind(_Coded):
    name, failure = "vocab", "unknown_code"
    template_format = "one code from the list"

    def vocab(self, spec: FieldSpec) -> str:
        return str(spec.vocab)

    def hint_params(self, spec: FieldSpec, options: ParseOptions) -> dict[str, str]:
        return {"allowed": _allowed(self.vocab(spec))}

    def pandera_checks(self, spec: FieldSpec) -> list[pa.Check]:
        return [*super().pandera_checks(spec), pa.Check.isin(list(vocabulary(self.vocab(spec)).codes))]


class _Named(_Coded):
    """A company or a platform: the canonical code, and the name as the sender wrote it (aliases are resolved)."""

    strict = False
    takes_new_names = True
    # the GX suite parameter holding the codes of its dimension, which has the names added in the warehouse too
    codes_parameter: ClassVar[str]

    def vocab(self, spec: FieldSpec) -> str:
        return self.name

    def reported_column(self, spec: FieldSpec) -> str:
        return f"{spec.name}_reported"

    def code_column(self, spec: FieldSpec) -> str:
        return f"{spec.name}_code"

    def output_columns(self, spec: FieldSpec) -> list[str]:
        return [self.code_column(spec), self.reported_column(spec)]

    def sql_columns(self, spec: FieldSpec) -> list[Column[Any]]:
        nullable = not spec.required and spec.default is None
        return [*super().sql_columns(spec), Column(self.reported_column(spec), Text(), nullable=nullable)]

    def parser(self, spec: FieldSpec, options: ParseOptions) -> Parser:
        vocab = options.vocabulary(self.vocab(spec))
        adds = spec.name in options.adds_names

        def parse(value: str) -> Parsed:
            if code := vocab.resolve(value):
                return code, value
            if vocab.is_ambiguous(value):  # never settled silently, even by a source that adds names
                return Invalid(check=AMBIGUOUS)
            # a source authoritative for the field's names brings new ones: each becomes an entry, for review
            return (code, value) if adds and (code := vocab.new_code(value)) else None

        return parse

    def outputs(self, spec: FieldSpec) -> dict[str, str]:
        return {self.code_column(spec): "category", self.reported_column(spec): "category"}

    def new_entries(self, spec: FieldSpec, frame: pd.DataFrame, options: ParseOptions) -> list[AddedEntry]:
        vocab = options.vocabulary(self.vocab(spec))
        named = frame[[self.code_column(spec), self.reported_column(spec)]].dropna().drop_duplicates()
        return [
            AddedEntry(self.vocab(spec), str(code), str(name))
            for code, name in named.itertuples(index=False)
            if code not in vocab.entries
        ]

    def expectations(self, spec: FieldSpec) -> list[Expectation]:
        return [
            *FieldKind.expectations(self, spec),
            Expectation(
                "ExpectColumnValuesToBeInSet",
                {"column": self.stored_column(spec), "value_set": {"$PARAMETER": self.codes_parameter}},
                {"vocabulary": f"dim_{self.vocab(spec)}"},
            ),
        ]

    def template_list(self, spec: FieldSpec) -> str | None:
        return self.name


class CompanyKind(_Named):
    name, failure, codes_parameter = "company", "unknown_company", COMPANY_CODES
    template_format = "company name (aliases are recognised)"

    def parser(self, spec: FieldSpec, options: ParseOptions) -> Parser:
        named = super().parser(spec, options)
        companies, platforms = options.vocabulary("company"), options.vocabulary("platform")

        def parse(value: str) -> Parsed:
            # Instagram in a company column is Meta's service, neither a new company nor Meta's whole figure
            service = companies.resolve(value) is None and platforms.resolve(value)
            if service and platforms.entries[service].get("company"):
                return Invalid(check=SERVICE_AS_COMPANY)
            return named(value)

        return parse

    def code_column(self, spec: FieldSpec) -> str:
        return "company_code"

    def reported_column(self, spec: FieldSpec) -> str:
        return "company_reported"


class OrganisationKind(_Named):
    """An organisation that provides services (a helpline, a hotline, a network's member): its code, and its name as
    the source wrote it. Its vocabulary grows in the warehouse only."""

    name, failure, codes_parameter = "organisation", "unknown_organisation", ORGANISATION_CODES
    template_format = "the organisation's name"

    # a sender writes its own name: the template offers no list (the organisations POP lists are other senders')
    def template_list(self, spec: FieldSpec) -> str | None:
        return None

    def template_allowed(self, spec: FieldSpec) -> str:
        return ""

    def template_rule(self, spec: FieldSpec) -> TemplateRule:
        return TemplateRule()


class PlatformKind(_Named):
    name, failure, codes_parameter = "platform", "unknown_platform", PLATFORM_CODES
    template_format = "product or platform name (aliases are recognised)"


class CountryKind(_Coded):
    """A country: ISO 3166-1 alpha-3 (or WLD for global figures), whatever name or code the sender used."""

    name, failure = "country", "unknown_country"
    strict = False
    template_format = "country name or ISO 3166 code (Kenya, KE or KEN); WLD for global figures"

    def resolve(self, spec: FieldSpec, options: ParseOptions) -> Callable[[str], str | None]:
        return resolve_country

    def code_column(self, spec: FieldSpec) -> str:
        return "country_iso3"

    def sql_type(self) -> TypeEngine[Any]:
        return String(3)

    def expectations(self, spec: FieldSpec) -> list[Expectation]:
        # the country table lives in the warehouse (dim_country): its codes are the suite parameter COUNTRY_CODES
        return [
            *FieldKind.expectations(self, spec),
            Expectation(
                "ExpectColumnValuesToBeInSet",
                {"column": self.stored_column(spec), "value_set": {"$PARAMETER": COUNTRY_CODES}},
                {"vocabulary": "dim_country"},
            ),
        ]

    def template_list(self, spec: FieldSpec) -> str | None:
        return "country"

    def template_allowed(self, spec: FieldSpec) -> str:
        return "any country: name or ISO code (the dropdown lists ISO alpha-3 codes); WLD = world / global"


class _MultiCoded(FieldKind):
    """Several codes in one cell (or one 0/1 column per option): a list of codes, stored in fact_choices."""

    phase, multi = "harmonise", True

    def resolve(self, spec: FieldSpec, options: ParseOptions) -> Callable[[str], str | None]:
        raise NotImplementedError

    def sql_columns(self, spec: FieldSpec) -> list[Column[Any]]:
        return []

    def parser(self, spec: FieldSpec, options: ParseOptions) -> Parser:
        resolve = self.resolve(spec, options)

        def parse(cell: str) -> Parsed:
            tokens = _split(cell, options.delimiter)
            codes = [resolve(token) for token in tokens]
            unknown = [token for token, code in zip(tokens, codes, strict=True) if not code]
            known = (list(dict.fromkeys(code for code in codes if code)),)
            return Invalid("; ".join(unknown), known) if unknown else known  # the reason names the unknown options

        return parse

    def outputs(self, spec: FieldSpec) -> dict[str, str]:
        return {spec.name: "object"}

    def pandera_checks(self, spec: FieldSpec) -> list[pa.Check]:
        return []

    def expectations(self, spec: FieldSpec) -> list[Expectation]:
        return []


class MultiKind(_MultiCoded):
    name, failure = "multi", "unknown_code"
    template_format = "one or more codes from the list, separated by ';'"

    def resolve(self, spec: FieldSpec, options: ParseOptions) -> Callable[[str], str | None]:
        return options.vocabulary(str(spec.vocab)).resolve

    def hint_params(self, spec: FieldSpec, options: ParseOptions) -> dict[str, str]:
        return {"allowed": _allowed(str(spec.vocab))}

    def template_list(self, spec: FieldSpec) -> str | None:
        return spec.vocab

    def template_allowed(self, spec: FieldSpec) -> str:
        return "one or more, separated by ';':\n" + _coded(str(spec.vocab))


class CountriesKind(_MultiCoded):
    name, failure = "countries", "unknown_country"
    template_format = "countries (names or ISO codes) separated by ';'"

    def resolve(self, spec: FieldSpec, options: ParseOptions) -> Callable[[str], str | None]:
        return resolve_country

    def template_list(self, spec: FieldSpec) -> str | None:
        return "country"

    def template_allowed(self, spec: FieldSpec) -> str:
        return "one or more, separated by ';': country names or ISO codes; WLD = world / global"


class AgeBandKind(FieldKind):
    """An age band as the source reports it (13-15, 25+, under 10, 14, unknown): stored as canonical text;
    dim_source_age_band has its ages and the POP band that holds it."""

    name, phase, failure = "age_band", "harmonise", "bad_age_band"
    dimension = "dim_source_age_band"
    template_format = "age band: 13-15, 25+, under 10, a single age, or unknown"
    OUTPUTS: ClassVar[dict[str, str]] = {
        "age_band": "category",
        "age_min": "Int64",
        "age_max": "Int64",
        "pop_age_band": "category",
    }

    def output_columns(self, spec: FieldSpec) -> list[str]:
        return list(self.OUTPUTS)

    def checked_column(self, spec: FieldSpec) -> str:
        return "age_band"

    def stored_column(self, spec: FieldSpec) -> str:
        return "age_band"

    def sql_type(self) -> TypeEngine[Any]:
        return String(20)

    def parser(self, spec: FieldSpec, options: ParseOptions) -> Parser:
        def parse(value: str) -> Parsed:
            ages = values.parse_age_band(value)
            if ages is None:
                return None
            if not values.plausible_age_band(ages[0]):
                return Invalid(check="implausible_age")
            return values.age_band_label(*ages), *ages, values.pop_age_band(*ages)

        return parse

    def hint_params(self, spec: FieldSpec, options: ParseOptions) -> dict[str, str]:
        return {"oldest": str(values.open_band_start())}

    def outputs(self, spec: FieldSpec) -> dict[str, str]:
        return dict(self.OUTPUTS)

    def dimension_rows(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        bands = frame[list(self.OUTPUTS)].drop_duplicates("age_band")
        return [
            {
                "age_band": r.age_band,
                "age_min": None if pd.isna(r.age_min) else int(r.age_min),
                "age_max": None if pd.isna(r.age_max) else int(r.age_max),
                "pop_age_band": r.pop_age_band,
            }
            for r in bands.itertuples(index=False)
        ]


KINDS: dict[str, FieldKind] = {
    kind.name: kind
    for kind in (
        TextKind(),
        IntKind(),
        NumberKind(),
        BoolKind(),
        DateKind(),
        PeriodKind(),
        CountryKind(),
        CountriesKind(),
        VocabKind(),
        MultiKind(),
        AgeBandKind(),
        CompanyKind(),
        PlatformKind(),
        OrganisationKind(),
    )
}
