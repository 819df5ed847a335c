"""Countries: the names senders really use → ISO 3166-1 alpha-3, with UN M49 region and sub-region."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd
import pycountry
import yaml

from pop import paths
from schemas.vocabulary import normalise_text

WORLD = "WLD"
# country_converter's table carries UN M49 codes, sub-regions and name patterns; its continent names map to M49 regions
M49_REGION = {
    "America": "Americas",
    "Africa": "Africa",
    "Asia": "Asia",
    "Europe": "Europe",
    "Oceania": "Oceania",
    "Antarctica": "Antarctica",
}


@dataclass(frozen=True)
class Country:
    iso3: str
    name: str
    m49_code: str | None
    region: str | None
    sub_region: str | None


def _region_table() -> pd.DataFrame:
    path = Path(str(resources.files("country_converter").joinpath("country_data.tsv")))
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return table[table["ISO3"].str.len() == 3]


@lru_cache(maxsize=1)
def countries() -> dict[str, Country]:
    """Every country by alpha-3 code, plus WLD for global figures."""
    result: dict[str, Country] = {}
    for row in _region_table().itertuples(index=False):
        record = pycountry.countries.get(alpha_3=row.ISO3)
        name = getattr(record, "common_name", None) or (record.name if record else row.name_short)
        result[row.ISO3] = Country(
            row.ISO3,
            name,
            (row.UNcode or "").zfill(3) or None,
            M49_REGION.get(row.continent, row.continent or None),
            row.UNregion or None,
        )
    result[WORLD] = Country(WORLD, "World", "001", "World", None)
    return result


@lru_cache(maxsize=1)
def _exact_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for record in pycountry.countries:
        for attr in ("alpha_3", "alpha_2", "name", "official_name", "common_name"):
            value = getattr(record, attr, None)
            if value:
                names.setdefault(normalise_text(value), record.alpha_3)
    for row in _region_table().itertuples(index=False):
        for value in (row.ISO3, row.name_short, row.name_official):
            if value:
                names.setdefault(normalise_text(value), row.ISO3)
    aliases = yaml.safe_load(paths.COUNTRY_ALIASES_FILE.read_text(encoding="utf-8"))
    for iso3, spellings in aliases.items():
        for spelling in spellings:
            names[normalise_text(spelling)] = iso3
    return names


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    return [
        (re.compile(row.regex, re.IGNORECASE), row.ISO3) for row in _region_table().itertuples(index=False) if row.regex
    ]


@lru_cache(maxsize=4096)
def resolve_country(value: str) -> str | None:
    """ISO alpha-3 for a sender's country name or code, or None when it names no country we know."""
    key = normalise_text(value)
    if not key:
        return None
    if key in _exact_names():
        return _exact_names()[key]
    matches = {iso3 for pattern, iso3 in _patterns() if pattern.search(str(value))}
    return matches.pop() if len(matches) == 1 else None
