"""The metadata header of our SQL files (sql/checks, sql/indicators): leading `-- key: value` comment lines."""

from __future__ import annotations

import re
from pathlib import Path

HEADER_KEY = re.compile(r"^-- (\w+):\s*(.*)$")
HEADER_MORE = re.compile(r"^--\s{2,}(\S.*)$")


def parse_header(sql: str) -> dict[str, str]:
    """The leading `-- key: value` comment lines of a SQL file (lines indented further continue a value)."""
    fields: dict[str, str] = {}
    key = None
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        if match := HEADER_KEY.match(line):
            key = match[1]
            fields[key] = match[2].strip()
        elif (match := HEADER_MORE.match(line)) and key:
            fields[key] = f"{fields[key]} {match[1].strip()}".strip()
    return fields


def header_list(value: str | None) -> tuple[str, ...]:
    """A comma-separated header value as a tuple of its non-empty items."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def read_sql_file(path: Path, required: tuple[str, ...], error: type[ValueError]) -> tuple[str, dict[str, str]]:
    """A SQL file's text and header, with every required field present and the id equal to the file name;
    otherwise `error` saying what to fix."""
    sql = path.read_text(encoding="utf-8")
    fields = parse_header(sql)
    if missing := [key for key in required if not fields.get(key)]:
        raise error(f"{path.name}: the header lacks {', '.join(missing)} (comment lines '-- key: value')")
    if fields["id"] != path.stem:
        raise error(f"{path.name}: id {fields['id']!r} must equal the file name {path.stem!r}")
    return sql, fields
