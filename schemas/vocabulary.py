"""Vocabularies (schemas/vocab/*.yaml): codes, labels and the synonyms senders use for them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

from pop import paths

TABLE_VOCABS = ("channels", "harm_types", "age_bands", "audiences", "companies", "platforms")


def normalise_text(value: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces and underscores: how spellings are compared."""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[.,()'\"]", "", text.lower())
    return re.sub(r"[\s_]+", " ", text).strip()


@dataclass(frozen=True)
class Vocabulary:
    """A closed list of codes; `lookup` maps every normalised code, label and synonym to its code."""

    name: str
    codes: tuple[str, ...]
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    lookup: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> str | None:
        """The code a sender's value stands for, or None when it is not in the vocabulary."""
        if value is None:
            return None
        return self.lookup.get(normalise_text(value))


def _build(name: str, entries: dict[str, dict[str, Any]]) -> Vocabulary:
    lookup: dict[str, str] = {}
    for code, entry in entries.items():
        for spelling in [code, entry.get("label") or "", *entry.get("synonyms", [])]:
            if spelling != "" and spelling is not None:
                lookup.setdefault(normalise_text(spelling), code)
    return Vocabulary(name=name, codes=tuple(entries), entries=entries, lookup=lookup)


@lru_cache(maxsize=1)
def vocabularies() -> dict[str, Vocabulary]:
    """Every vocabulary by name: the table vocabularies (one file each) and the small ones in codes.yaml."""
    result: dict[str, Vocabulary] = {}
    for stem in TABLE_VOCABS:
        doc = yaml.safe_load((paths.VOCAB / f"{stem}.yaml").read_text(encoding="utf-8"))
        entries = {str(v["code"]): {k: v2 for k, v2 in v.items() if k != "code"} for v in doc["values"]}
        result[doc["name"]] = _build(doc["name"], entries)
    small = yaml.safe_load((paths.VOCAB / "codes.yaml").read_text(encoding="utf-8"))
    for name, codes in small.items():
        entries = {str(code): {"synonyms": [str(s) for s in (syn or [])]} for code, syn in codes.items()}
        result[name] = _build(name, entries)
    return result


def vocabulary(name: str) -> Vocabulary:
    try:
        return vocabularies()[name]
    except KeyError:
        raise KeyError(f"unknown vocabulary {name!r}; known: {', '.join(sorted(vocabularies()))}") from None
