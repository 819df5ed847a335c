"""A column that names a company or one of its services (schemas.spec.Provider): split into the company and the
product before they are parsed, the registry's word and a steward's decision settling a name that could be either."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pop.registry import RegistryError, load_registry
from schemas.vocabulary import AddedName, Additions, vocabulary
from tasks.ingest.providers import provider_parts

PLATFORMS, COMPANIES = vocabulary("platform"), vocabulary("company")


def parts(name: str, additions: Additions | None = None) -> tuple[str, str]:
    additions = additions or Additions()
    return provider_parts(name, additions.vocabulary("platform"), additions.vocabulary("company"), "all")


@pytest.mark.parametrize(
    ("name", "company", "product"),
    [
        ("Instagram", "Meta Platforms", "Instagram"),  # a service: its company from the platform vocabulary
        ("WhatsApp", "Meta Platforms", "WhatsApp"),
        ("Snapchat", "Snap Inc.", "Snapchat"),  # also a name of Snap Inc.: the product comes first, its own company
        ("Twitter", "X Corp. (Twitter)", "Twitter"),
        ("Google LLC", "Google LLC", "all"),  # a company: company-wide
        ("Meta Platforms, Inc.", "Meta Platforms, Inc.", "all"),
        ("Omegle.com LLC", "Omegle.com LLC", "all"),  # not yet known: taken for a company's name
        ("Google", "Google", "Google"),  # a company or its product Google Search: stays in the product, for a steward
    ],
)
def test_a_provider_is_a_company_or_one_of_its_services(name: str, company: str, product: str) -> None:
    assert parts(name) == (company, product)


def test_a_steward_settles_a_name_that_could_be_either() -> None:
    assert PLATFORMS.is_ambiguous("Google") and PLATFORMS.resolve("Google") is None
    settled = Additions(names=(AddedName("platform", "Google", "all"),))
    assert parts("Google", settled) == ("Google", "all")  # `pop vocab map Google --to all --kind platform`
    assert COMPANIES.resolve("Google") == "alphabet"


@given(st.text(max_size=30))
def test_every_name_gives_a_company_and_a_product_the_fields_can_read(name: str) -> None:
    company, product = parts(name)
    if PLATFORMS.resolve(name) and PLATFORMS.entries[PLATFORMS.resolve(name)].get("company"):
        assert product == name and COMPANIES.resolve(company) == PLATFORMS.entries[PLATFORMS.resolve(name)]["company"]
    elif PLATFORMS.is_ambiguous(name):
        assert (company, product) == (name, name)
    else:
        assert (company, product) == (name, "all")


ENTRY = {
    "id": "esp",
    "group": "tech_companies",
    "schema": "tech_companies",
    "organisation": "NCMEC",
    "format": "csv",
    "files": "esp/*.csv",
    "columns": {"Electronic Service Provider": "provider", "Year": "period", "Reports": "value"},
    "defaults": {"reporter": "ncmec", "metric": "cybertipline_reports", "unit": "count"},
    "licence": "published",
    "contact": "none",
    "update_frequency": "yearly",
}


def load(tmp_path: Path, **change: object) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [{**ENTRY, **change}]}), encoding="utf-8")
    load_registry(path)


def test_a_registry_maps_a_column_to_provider(tmp_path: Path) -> None:
    load(tmp_path)
    load(tmp_path, values={"provider": {"Google": "Google LLC"}})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"defaults": {**ENTRY["defaults"], "product": "all"}}, "leave product out of columns and defaults"),
        (
            {"columns": {**ENTRY["columns"], "Company": "company"}},
            "a column mapped to provider gives company and product: leave company out",
        ),
        (
            {"group": "helplines_services", "schema": "helplines_services"},
            "column 'Electronic Service Provider' maps to 'provider', which is not a field of schema",
        ),
    ],
)
def test_provider_is_refused_where_it_cannot_be(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(RegistryError) as error:
        load(tmp_path, **change)
    assert message in str(error.value)


def test_the_submission_template_has_the_provider_column_once(tmp_path: Path) -> None:
    from tasks.steward.submission_template import template_columns

    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [ENTRY]}), encoding="utf-8")
    columns = [c for c in template_columns(load_registry(path).sources[0]) if c.in_sheet]
    assert [c.header for c in columns] == ["Electronic Service Provider", "Reports", "Year"]  # schema order
    assert columns[0].spec.name == "company"
