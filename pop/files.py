"""Writing what the pipeline publishes: whole files only (a reader never sees half of one), JSON that is the same
for the same input, and spreadsheet cells that cannot run as formulas."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

# how a cell starts that a spreadsheet reads as a formula (OWASP CSV injection): =, +, -, @, a tab, a carriage return
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
Cell = TypeVar("Cell")


def _formula_like(text: str) -> bool:
    return text.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(text)


def safe_cell(value: Cell) -> Cell | str:
    """A cell of a CSV or xlsx file we write, made inert: text a spreadsheet would run as a formula gets a leading
    single quote; a number (-5, -0.25) and any other value are written as they are."""
    return "'" + value if isinstance(value, str) and _formula_like(value) else value


def restore_cell(value: Cell) -> Cell | str:
    """A cell as the sender wrote it, from a file we wrote with safe_cell (a corrected export comes back)."""
    return value[1:] if isinstance(value, str) and value.startswith("'") and _formula_like(value[1:]) else value


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


def _left_by_dead_process(folder: Path) -> bool:
    """A hidden working folder (.<name>.partial-<pid> or .old-<pid>) whose process is gone."""
    pid = folder.name.rsplit("-", 1)[-1]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextmanager
def whole_folder(path: Path) -> Iterator[Path]:
    """A folder written whole: its files go into a hidden sibling that takes the folder's place only once all are
    written, so a reader, or a process killed half-way, never leaves half of it under its name. What killed
    writers left is removed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for left in [*path.parent.glob(f".{path.name}.partial-*"), *path.parent.glob(f".{path.name}.old-*")]:
        if _left_by_dead_process(left):
            shutil.rmtree(left, ignore_errors=True)
    partial = path.parent / f".{path.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    old = path.parent / f".{path.name}.old-{os.getpid()}"
    if path.exists():
        path.rename(old)
    partial.rename(path)
    shutil.rmtree(old, ignore_errors=True)
