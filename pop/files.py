"""Writing what the pipeline publishes: whole files only (a reader never sees half of one), JSON that is the same
for the same input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel


def _plain(value: Any) -> Any:
    """What JSON lacks: a contract (pop.contracts) as its fields, anything else as text."""
    return value.model_dump() if isinstance(value, BaseModel) else str(value)


def to_json(data: Any) -> str:
    """Deterministic JSON: keys sorted, two-space indent, a final newline; contracts as their fields, other values
    JSON lacks written as text."""
    return json.dumps(data, indent=2, default=_plain, sort_keys=True) + "\n"


def write_text(path: Path, text: str) -> Path:
    """Write a file whole, through a temporary file beside it, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path
