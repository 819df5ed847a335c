"""One way to read a config file: YAML validated into a pydantic model. What is wrong is said the way a person fixes
it: the file, then each wrong entry (by its id or name) and field, and what to do. Used for the source registry,
errata, disclosure rules, findings rules, discrepancy tolerances and the group schemas alike. Imports nothing of
ours (the schemas use it too)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config file cannot be used; the message names the file, what is wrong in it and what to fix."""


def read_yaml(path: Path, what: str, error: type[ConfigError] = ConfigError) -> Any:
    """The file's YAML document; `error` when the file is missing or unreadable, or is not YAML."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} file {path} not found") from None
    except OSError as exc:
        raise error(f"{what} file {path}: cannot read it ({exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{what} file {path} is not valid YAML: {exc}") from None


def _entry_name(item: Any, fallback: str) -> str:
    """How an entry is named: its id or name, else its position."""
    if isinstance(item, Mapping):
        for key in ("id", "name"):
            if isinstance(item.get(key), str | int):
                return repr(item[key])
    return fallback


def where(loc: tuple[Any, ...], doc: Any, what: str, entries: Mapping[str, str]) -> str:
    """A pydantic error's location in the file's own words: 'source 'hl', field files'. `entries` names the items of
    a container key ('sources' → 'source'); other keys make up the field."""
    place, fields, node, parent = what, [], doc, None
    for key in loc:
        noun = entries.get(str(parent)) if parent is not None else None
        if noun and isinstance(node, Mapping) and isinstance(key, int) and key < len(node):
            key = list(node)[key]  # a mapping of named entries that the model reads as a list: name it by its key
        if noun and isinstance(node, list) and isinstance(key, int):
            item = node[key] if key < len(node) else None
            place, fields = f"{noun} {_entry_name(item, f'#{key + 1}')}", []
        elif noun and isinstance(node, Mapping) and key in node:
            place, fields = f"{noun} {key!r}", []
        else:
            fields.append(str(key))
        node = node[key] if isinstance(node, list | Mapping) and _has(node, key) else None
        parent = key
    return place + (f", field {'.'.join(fields)}" if fields else "")


def _has(node: list[Any] | Mapping[Any, Any], key: Any) -> bool:
    if isinstance(node, list):
        return isinstance(key, int) and key < len(node)
    return key in node


def describe(error: ValidationError, doc: Any, what: str, entries: Mapping[str, str]) -> str:
    """Every problem of a validation error, one line each: where, then what to fix."""
    lines = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        lines.append(f"- {where(tuple(item['loc']), doc, what, entries)}: {message}")
    return "\n".join(dict.fromkeys(lines))


def validate_config(
    doc: Any,
    model: type[M],
    *,
    path: Path | str,
    what: str,
    entries: Mapping[str, str] | None = None,
    context: dict[str, Any] | None = None,
    error: type[ConfigError] = ConfigError,
) -> M:
    """A document validated into `model`; `error` naming each wrong entry and field, and what to fix."""
    try:
        return model.model_validate(doc, context=context)
    except ValidationError as exc:
        raise error(f"{what} file {path} is wrong:\n{describe(exc, doc, what, entries or {})}") from None


def load_config(
    path: Path,
    model: type[M],
    *,
    what: str,
    entries: Mapping[str, str] | None = None,
    context: dict[str, Any] | None = None,
    error: type[ConfigError] = ConfigError,
) -> M:
    """Read a YAML config file and validate it into `model` (see validate_config)."""
    doc = read_yaml(path, what, error)
    return validate_config(doc, model, path=path, what=what, entries=entries, context=context, error=error)
