"""A column that names who a figure is about, a company or one of its products (schemas.spec.Provider), split into
the company and product fields before they are parsed."""

from __future__ import annotations

import pandas as pd

from schemas.kinds import ParseOptions
from schemas.spec import PROVIDER, SourceSchema
from schemas.vocabulary import Vocabulary
from tasks.ingest.distinct import parse_distinct


def provider_parts(name: str, platforms: Vocabulary, companies: Vocabulary, company_wide: str) -> tuple[str, str]:
    """(company, product) as the fields will read them. A product's name (Instagram) gives its company's label and
    the name; a name that could be a company's or one of its products' (Google) stays in the product too, where it
    waits for a steward (ambiguous_name); any other name is taken for a company's (Google LLC, or a name not yet
    known), with the company-wide product code."""
    if (code := platforms.resolve(name)) and (owner := platforms.entries[code].get("company")):
        return str(companies.entries.get(owner, {}).get("label") or owner), name
    if platforms.is_ambiguous(name):
        return name, name
    return name, company_wide


def split_provider(mapped: pd.DataFrame, schema: SourceSchema, options: ParseOptions) -> None:
    """Fill the company and product fields from the column mapped to `provider`, then drop that column."""
    if schema.provider is None or PROVIDER not in mapped.columns:
        return
    provider = schema.provider
    fields = schema.fields
    platforms = options.vocabulary(fields[provider.product].field_kind.vocab(fields[provider.product]))
    companies = options.vocabulary(fields[provider.company].field_kind.vocab(fields[provider.company]))
    names = mapped.pop(PROVIDER)
    columns = {provider.company: "category", provider.product: "category"}
    parts, _, _ = parse_distinct(
        names, lambda name: provider_parts(str(name), platforms, companies, provider.company_wide), columns
    )
    mapped[provider.company], mapped[provider.product] = parts[provider.company], parts[provider.product]
