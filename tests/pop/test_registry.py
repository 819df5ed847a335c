"""A registry that is itself wrong is refused with a message naming the entry and what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pop.registry import RegistryError, UnknownSourceError, load_registry
from tests.helpers import HELPLINE_COLUMNS

GOOD = {
    "id": "hl",
    "group": "helplines_services",
    "schema": "helplines_services",
    "organisation": "Org",
    "format": "csv",
    "files": "hl/*.csv",
    "columns": HELPLINE_COLUMNS,
    "licence": "CC-BY-4.0",
    "contact": "a@example.org",
    "update_frequency": "quarterly",
}


def write(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": list(entries)}), encoding="utf-8")
    return path


def test_a_good_registry_loads(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, GOOD))
    assert [s.id for s in registry.sources] == ["hl"]
    assert registry.get("hl").schema.fact_table == "fact_helpline_contacts"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema": "helplines"}, "source 'hl', field schema: unknown schema 'helplines'"),
        ({"files": "hl/[abc.csv"}, "not a valid glob: unbalanced"),
        ({"files": "../elsewhere/*.csv"}, "must be a glob inside the inbox folder"),
        ({"files": "/etc/*.csv"}, "must be a glob inside the inbox folder"),
        ({"group": "journalists"}, "source 'hl', field group"),
        ({"format": "pdf"}, "source 'hl', field format"),
        (
            {"columns": {**HELPLINE_COLUMNS, "Region": "region"}},
            "column 'Region' maps to 'region', which is not a field",
        ),
        ({"format": ["csv", "pdf"]}, "source 'hl', field other_formats.0: Input should be 'csv', 'xlsx' or 'json'"),
        ({"encoding": "latin-9x"}, "encoding 'latin-9x' is unknown"),
        ({"update_frequency": "sometimes"}, "field update_frequency"),
        ({"colums": {}}, "field colums: Extra inputs are not permitted"),
    ],
)
def test_a_wrong_entry_is_refused(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(RegistryError) as error:
        load_registry(write(tmp_path, {**GOOD, **change}))
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"defaults": {"channel": "phon"}},
            "defaults: channel: 'phon' is not a code of vocabulary channel; did you mean 'phone'?",
        ),
        ({"defaults": {"country": "Narnia"}}, "defaults: country: 'Narnia' is not a country"),
        ({"values": {"channel": {"TEL": "telephone line"}}}, "values: channel: 'TEL': 'telephone line' is not a code"),
        ({"values": {"contact_type": {"C": "xyz"}}}, "its codes: counselling, non_counselling, all"),
    ],
)
def test_defaults_and_value_mappings_must_be_codes(tmp_path: Path, change: dict, message: str) -> None:
    """A default or a mapped value outside the field's vocabulary would hold back every row that takes it: the
    registry is refused at load (so `pop sources` and `pop run` refuse it alike), naming the nearest code or all."""
    with pytest.raises(RegistryError) as error:
        load_registry(write(tmp_path, {**GOOD, **change}))
    assert "source 'hl'" in str(error.value) and message in str(error.value)


def test_defaults_and_value_mappings_may_use_names_and_synonyms(tmp_path: Path) -> None:
    """What a sender's cell may hold, a mapping may give: a label or synonym reads as its code, a country its name."""
    entry = {**GOOD, "defaults": {"country": "Kenya", "channel": "telephone"}, "values": {"gender": {"F": "girl"}}}
    assert load_registry(write(tmp_path, entry)).sources[0].defaults["country"] == "Kenya"


def test_a_source_may_take_several_formats(tmp_path: Path) -> None:
    """`format: [csv, xlsx]`: files of either format; `format` stays the first (the main one), and a source that
    names one format takes that one. Encoding and delimiter left out are detected per file."""
    several, one = load_registry(
        write(tmp_path, {**GOOD, "format": ["csv", "xlsx"]}, {**GOOD, "id": "one", "files": "one/*.csv"})
    ).sources
    assert (several.format, several.formats) == ("csv", ["csv", "xlsx"])
    assert several.model_copy(update={"format": "json"}).formats == ["json", "xlsx"]
    assert (one.format, one.formats, one.encoding, one.delimiter) == ("csv", ["csv"], None, None)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="duplicate source id 'hl'"):
        load_registry(write(tmp_path, GOOD, {**GOOD, "files": "other/*.csv"}))


def test_unknown_source_is_named_with_the_nearest(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, GOOD, {**GOOD, "id": "helpline_ke", "files": "ke/*.csv"}))
    with pytest.raises(UnknownSourceError, match="no source 'helpline_kn'; did you mean 'helpline_ke'\\?"):
        registry.get("helpline_kn")
    with pytest.raises(RegistryError, match="no source 'nope' \\(`pop sources` lists them\\)"):
        registry.get("nope")


def test_not_yaml_or_no_sources(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [unclosed", encoding="utf-8")
    with pytest.raises(RegistryError, match="not valid YAML"):
        load_registry(bad)
    bad.write_text("hello: 1", encoding="utf-8")
    with pytest.raises(RegistryError, match="must hold a 'sources:' list"):
        load_registry(bad)


def test_a_source_declares_its_decimal_mark(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, {**GOOD, "delimiter": ";", "decimal": ","}))
    assert registry.get("hl").decimal == "," and load_registry(write(tmp_path, GOOD)).get("hl").decimal == "."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"decimal": "comma"}, "source 'hl', field decimal: decimal 'comma' is not a decimal mark: use"),
        ({"format": "xlsx", "sheet": "Data", "decimal": ","}, "decimal ',' applies to CSV files only"),
    ],
)
def test_a_wrong_decimal_mark_is_refused(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(RegistryError) as error:
        load_registry(write(tmp_path, {**GOOD, **change}))
    assert message in str(error.value)
