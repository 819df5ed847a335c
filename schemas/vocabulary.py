"""Vocabularies (schemas/vocab/*.yaml): codes, labels and the synonyms senders use for them. A vocabulary that grows
(companies, platforms) also takes the names stewards add in the warehouse (`pop vocab`): `Additions` holds them, and
its vocabularies are the committed ones with those names in."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any

import yaml

from pop import paths

TABLE_VOCABS = ("channels", "harm_types", "age_bands", "audiences", "companies", "platforms", "organisations")
NAME_CHARS = 120  # the longest name a vocabulary takes (dim_alias.alias, dim_company.label)
NEW_CODE_CHARS = 40  # the longest code a new entry gets (dim_company.code, dim_platform.code)


def normalise_text(value: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces and underscores: how spellings are compared."""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[.,()'\"]", "", text.lower())
    return re.sub(r"[\s_]+", " ", text).strip()


def code_form(name: str) -> str:
    """A name as a code: its normalised words joined by '_', at most NEW_CODE_CHARS long (a longer one ends with a
    digest of the whole, so that two long names stay apart)."""
    code = re.sub(r"[^a-z0-9]+", "_", normalise_text(name)).strip("_")
    if len(code) <= NEW_CODE_CHARS:
        return code
    return code[: NEW_CODE_CHARS - 9].rstrip("_") + "_" + hashlib.sha256(code.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Vocabulary:
    """A closed list of codes; `lookup` maps every normalised code, label and synonym to its code, `ambiguous` the
    spellings that could stand for more than one thing (each with what it could be), which resolve to nothing."""

    name: str
    codes: tuple[str, ...]
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    lookup: dict[str, str] = field(default_factory=dict)
    ambiguous: dict[str, tuple[str, ...]] = field(default_factory=dict)
    grows: bool = False  # stewards may add names to it in the warehouse (pop vocab)

    def resolve(self, value: Any) -> str | None:
        """The code a sender's value stands for, or None when it is not in the vocabulary (or is ambiguous)."""
        if value is None:
            return None
        return self.lookup.get(normalise_text(value))

    def is_ambiguous(self, value: Any) -> bool:
        """Whether the value could stand for more than one thing, so that a steward must say which."""
        return value is not None and normalise_text(value) in self.ambiguous

    def new_code(self, name: str) -> str | None:
        """The code a new entry for `name` gets: its code form, numbered when another entry has it; None when the
        name cannot be one (blank, or longer than NAME_CHARS)."""
        base = code_form(name)
        if not base or len(str(name)) > NAME_CHARS:
            return None
        code, number = base, 1
        while code in self.entries:
            number += 1
            code = f"{base[: NEW_CODE_CHARS - len(str(number)) - 1]}_{number}"
        return code


def _spellings(code: str, entry: dict[str, Any]) -> list[str]:
    return [s for s in [code, entry.get("label") or "", *entry.get("synonyms", [])] if s != "" and s is not None]


def _lookup(entries: dict[str, dict[str, Any]]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for code, entry in entries.items():
        for spelling in _spellings(code, entry):
            lookup.setdefault(normalise_text(spelling), code)
    return lookup


def _build(name: str, entries: dict[str, dict[str, Any]], grows: bool = False) -> Vocabulary:
    return Vocabulary(name=name, codes=tuple(entries), entries=entries, lookup=_lookup(entries), grows=grows)


def _shared(vocab: Vocabulary, rival: Vocabulary) -> Vocabulary:
    """`vocab` with the spellings it shares with `rival` made ambiguous: a product named like a company (Google) may
    carry the whole company's figure. A shared name stays the product's only where the product's entry says
    `product_first` and the company it names is the product's own (Snapchat, of Snap Inc.)."""
    lookup, ambiguous = dict(vocab.lookup), {}
    for spelling, code in vocab.lookup.items():
        other = rival.lookup.get(spelling)
        entry = vocab.entries[code]
        if other is not None and not (entry.get("product_first") and entry.get("company") == other):
            del lookup[spelling]
            ambiguous[spelling] = (f"{vocab.name} {code}", f"{rival.name} {other}")
    return replace(vocab, lookup=lookup, ambiguous=ambiguous)


@lru_cache(maxsize=1)
def vocabularies() -> dict[str, Vocabulary]:
    """Every vocabulary by name: the table vocabularies (one file each) and the small ones in codes.yaml."""
    result: dict[str, Vocabulary] = {}
    rivals: dict[str, str] = {}
    for stem in TABLE_VOCABS:
        doc = yaml.safe_load((paths.VOCAB / f"{stem}.yaml").read_text(encoding="utf-8"))
        entries = {str(v["code"]): {k: v2 for k, v2 in v.items() if k != "code"} for v in doc["values"]}
        result[doc["name"]] = _build(doc["name"], entries, grows=bool(doc.get("grows")))
        if doc.get("shares_names_with"):
            rivals[doc["name"]] = doc["shares_names_with"]
    small = yaml.safe_load((paths.VOCAB / "codes.yaml").read_text(encoding="utf-8"))
    for name, codes in small.items():
        entries = {str(code): {"synonyms": [str(s) for s in (syn or [])]} for code, syn in codes.items()}
        result[name] = _build(name, entries)
    for name, rival in rivals.items():
        result[name] = _shared(result[name], result[rival])
    return result


def vocabulary(name: str) -> Vocabulary:
    try:
        return vocabularies()[name]
    except KeyError:
        raise KeyError(f"unknown vocabulary {name!r}; known: {', '.join(sorted(vocabularies()))}") from None


# --- names added in the warehouse ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddedEntry:
    """A new entry of a vocabulary that grows: its code, label and (for a platform) the company that runs it."""

    vocabulary: str
    code: str
    label: str
    company: str | None = None


@dataclass(frozen=True)
class AddedName:
    """A name that stands for a code of a vocabulary that grows: mapped by a steward to an entry, or the name of a
    new one. It wins over an ambiguity: that is how a steward settles one."""

    vocabulary: str
    name: str
    code: str


@dataclass(frozen=True)
class Additions:
    """The entries and names added in the warehouse (read once per file or action); `vocabulary` gives the
    committed vocabulary with them in."""

    entries: tuple[AddedEntry, ...] = ()
    names: tuple[AddedName, ...] = ()

    def vocabulary(self, name: str) -> Vocabulary:
        """The vocabulary `name` with the entries and names added to it."""
        return self._extended.get(name) or vocabulary(name)

    @cached_property
    def _extended(self) -> dict[str, Vocabulary]:
        return {name: _with(vocabulary(name), self) for name in {a.vocabulary for a in (*self.entries, *self.names)}}


def _with(vocab: Vocabulary, additions: Additions) -> Vocabulary:
    """`vocab` with its added entries (spelled by code and label) and names."""
    added = {e.code: {"label": e.label, "company": e.company} for e in additions.entries if e.vocabulary == vocab.name}
    entries = {**vocab.entries, **{code: entry for code, entry in added.items() if code not in vocab.entries}}
    names = {
        normalise_text(n.name): n.code for n in additions.names if n.vocabulary == vocab.name and n.code in entries
    }
    lookup = {**_lookup(added), **vocab.lookup, **names}
    ambiguous = {spelling: what for spelling, what in vocab.ambiguous.items() if spelling not in lookup}
    return replace(vocab, codes=tuple(entries), entries=entries, lookup=lookup, ambiguous=ambiguous)
