"""A JSON document read record by record with ijson, never whole: where its records lie (the top-level list, or the
list under the source's records_path), each record as it is parsed, and the document's faults in the words a
whole-document parse would give (not valid JSON first, then the wrong shape). What one record may hold is bounded:
the bytes read while no record completes are counted, past the limit the read stops."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from tasks.ingest.convert import BadFileError
from tasks.ingest.outsized import LISTED, cut, quoted, summarised

BLOCK = 1 << 20  # the bytes read from the file at a time
PARSE_BUFFER = 1 << 16  # the bytes ijson asks for at a time
# Python and pandas write NaN for a missing number and Infinity for an infinite one, which JSON has no words for and
# ijson refuses: outside strings they are read as null (missing) and as the text "Infinity" (a value no number field
# takes: a row issue), as Python's json module read them
CONSTANTS = {b"NaN": b"null", b"Infinity": b'"Infinity"', b"-Infinity": b'"-Infinity"'}
CONSTANT = re.compile(rb"(?<![\w.])(?:NaN|-?Infinity)(?![\w.])")
ESCAPE = re.compile(rb"\\.", re.DOTALL)
UTF8 = {"utf-8", "utf-8-sig"}
NEVER = "\x00"  # a prefix no document has: parsing for it checks the whole document and builds nothing
TYPE_NAMES = {
    "start_map": "dict",
    "start_array": "list",
    "string": "str",
    "boolean": "bool",
    "null": "NoneType",
}


class OverBudgetError(Exception):
    """More bytes were read than one record may hold, and no record completed."""


class JsonText:
    """The file's text as UTF-8 bytes for ijson: checked (UTF-8) or decoded and encoded again (another encoding)
    with the file's encoding, a UnicodeDecodeError raised where it is met; the constants Python writes read as JSON;
    and at most `budget` bytes given out between two marks (a record may hold no more). UTF-8 is worked on as bytes:
    the bytes of quotes, backslashes and the constants' letters are never inside another character's."""

    def __init__(self, handle: BinaryIO, encoding: str, budget: int) -> None:
        self._handle = handle
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self._utf8 = codecs.lookup(encoding).name in UTF8
        self._budget = budget
        self._block = min(BLOCK, max(budget, 1))
        self._pending = b""
        self._offset = 0
        self._carry = b""
        self._eof = False
        self._first = True
        self._in_string = False
        self._escaped = False
        self.given = 0  # bytes given to the parser
        self.marked = 0
        self.blank = True  # no character but white space so far

    def mark(self) -> None:
        """A record (or a parse event) completed: the budget starts again."""
        self.marked = self.given

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for nothing first, to learn whether the stream gives bytes or text
            return b""
        if self.given - self.marked > self._budget + PARSE_BUFFER:
            raise OverBudgetError
        while self._offset >= len(self._pending) and not self._eof:
            self._fill()
        size = len(self._pending) - self._offset if size < 0 else size
        out = self._pending[self._offset : self._offset + size]
        self._offset += len(out)
        self.given += len(out)
        return out

    def _utf8_bytes(self, raw: bytes) -> bytes:
        if not self._utf8:
            return self._decoder.decode(raw, final=self._eof).encode("utf-8")
        if not raw.isascii() or self._decoder.getstate()[0] or self._eof:
            self._decoder.decode(raw, final=self._eof)  # checked only: ASCII needs no check
        if self._first and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        return raw

    def _fill(self) -> None:
        raw = self._handle.read(self._block)
        self._eof = not raw
        data = self._carry + self._utf8_bytes(raw)
        self._first = False
        self._carry = b"" if self._eof else _unfinished(data)
        if self._carry:
            data = data[: -len(self._carry)]
        if self.blank and data.strip():
            self.blank = False
        self._pending, self._offset = self._rewrite(data), 0

    def _rewrite(self, data: bytes) -> bytes:
        """The text with each constant outside a string written as JSON; strings are followed by counting the
        quotes that no backslash escapes."""
        if b"NaN" not in data and b"Infinity" not in data:
            self._advance(data)
            return data
        parts, start = [], 0
        for match in CONSTANT.finditer(data):
            self._advance(data[start : match.start()])
            parts += [data[start : match.start()], match[0] if self._in_string else CONSTANTS[match[0]]]
            self._escaped, start = False, match.end()
        self._advance(data[start:])
        parts.append(data[start:])
        return b"".join(parts)

    def _advance(self, data: bytes) -> None:
        if self._escaped and data:
            data, self._escaped = data[1:], False
        if b"\\" in data:
            data = ESCAPE.sub(b"", data)
            if data.endswith(b"\\"):
                data, self._escaped = data[:-1], True
        self._in_string ^= bool(data.count(b'"') & 1)


def _unfinished(data: bytes) -> bytes:
    """The end of a block that may be the start of a constant, kept for the next block."""
    for length in range(min(len(b"-Infinity"), len(data)), 0, -1):
        tail = data[-length:]
        if any(word.startswith(tail) for word in CONSTANTS):
            return tail
    return b""


def number(value: object) -> object:
    """A number as Python's json module reads it: a decimal as a float (ijson gives Decimal, so that 1e400 is
    read as json reads it, inf, not refused)."""
    return float(value) if isinstance(value, Decimal) else value


def _invalid(name: str, exc: Exception) -> BadFileError:
    lines = str(exc).strip().splitlines() or [exc.__class__.__name__]
    where = f", at {cut(lines[1].strip(), 60)!r}" if len(lines) > 2 and lines[1].strip() else ""
    return BadFileError(f"{name}: not valid JSON ({cut(lines[0].rstrip('.'), 100)}{where}).")


class JsonDocument:
    """One JSON document of records (`records_path`: the list under that key of the top-level object)."""

    def __init__(self, path: Path, encoding: str, name: str, records_path: str | None, max_record: int) -> None:
        self.path, self.encoding, self.name = Path(path), encoding, name
        self.records_path, self.max_record = records_path, max_record

    def _stream(self, handle: BinaryIO) -> JsonText:
        return JsonText(handle, self.encoding, self.max_record)

    def _buffer(self) -> int:
        return min(PARSE_BUFFER, max(self.max_record, 1))

    def _too_big(self, what: str) -> BadFileError:
        return BadFileError(
            f"{self.name}: {what} holds more than {self.max_record / 1024:,.0f} KB of JSON, the most one record may "
            f"hold (POP_MAX_LINE_KB); the file was not read. Check that the file is a list of records as exported; "
            f"if records this large are right, ask the steward to raise POP_MAX_LINE_KB."
        )

    def _check_valid(self) -> None:
        """Parse the whole document for nothing: raise what makes it invalid, if anything does."""
        with self.path.open("rb") as handle:
            stream = self._stream(handle)
            try:
                for _ in ijson.items(stream, NEVER, buf_size=self._buffer()):
                    pass  # pragma: no cover - no item has the prefix
            except OverBudgetError:
                pass  # a shape error is the better news than a size limit past it
            except ijson.JSONError as exc:
                raise self._error(stream, exc) from None

    def _error(self, stream: JsonText, exc: Exception) -> BadFileError:
        if stream.blank:
            return BadFileError(f"{self.name}: the file is empty. Send the file again with its records.")
        return _invalid(self.name, exc)

    def _no_records_path(self, found: str, keys: KeySample | None = None) -> BadFileError:
        """The document is not an object holding the records_path (said once it is known to be valid JSON)."""
        self._check_valid()
        listed = f" with keys {keys.listing()}" if keys is not None else ""
        return BadFileError(
            f"{self.name}: JSON of the wrong shape: expected an object with a {self.records_path!r} list of records, "
            f"found {found}{listed}."
        )

    def _not_records(self) -> BadFileError:
        """Where the records should be is not a list of objects (said once the document is known to be valid)."""
        self._check_valid()
        where = f"under {self.records_path!r}" if self.records_path else "at the top level"
        return BadFileError(f"{self.name}: JSON of the wrong shape: expected a list of records (objects) {where}.")

    def _prefix(self) -> str:
        """Where the records lie, as an ijson prefix; the wrong shape is refused here, before any record is read."""
        with self.path.open("rb") as handle:
            stream = self._stream(handle)
            events = ijson.parse(stream, buf_size=self._buffer())
            try:
                prefix = self._locate(events, stream)
            except OverBudgetError:
                raise self._too_big("the start of the document, before its records,") from None
            except ijson.JSONError as exc:
                raise self._error(stream, exc) from None
        if prefix is None:
            raise self._not_records()
        return prefix

    def _locate(self, events: Iterator[tuple[str, str, Any]], stream: JsonText) -> str | None:
        _, event, value = next(events)
        stream.mark()
        if not self.records_path:
            return "item" if event == "start_array" else None
        if event != "start_map":
            raise self._no_records_path(_type_name(event, value))
        keys = KeySample()
        for prefix, event, value in events:
            stream.mark()
            if prefix == "" and event == "map_key":
                keys.add(value)
                if value == self.records_path:
                    _, first, _ = next(events)
                    return f"{value}.item" if first == "start_array" else None
            elif prefix == "" and event == "end_map":
                raise self._no_records_path("dict", keys)
        return None  # pragma: no cover - a document ends with its top-level object

    def records(self) -> Iterator[dict[str, Any]]:
        """The records in order; a record that is not an object is the wrong shape, a record larger than allowed
        stops the read."""
        prefix = self._prefix()
        with self.path.open("rb") as handle:
            stream = self._stream(handle)
            count = 0
            try:
                for record in ijson.items(stream, prefix, buf_size=self._buffer()):
                    if not isinstance(record, dict):
                        raise self._not_records()
                    count += 1
                    yield record
                    stream.mark()
            except OverBudgetError:
                raise self._too_big(f"record {count + 1:,}") from None
            except ijson.JSONError as exc:
                raise self._error(stream, exc) from None


def _type_name(event: str, value: object) -> str:
    if event == "number":
        return "int" if isinstance(value, int) else "float"
    return TYPE_NAMES.get(event, event)


class KeySample:
    """The keys of an object as a message lists them (outsized.listing), kept without holding them all: the first
    ones, the last and how many."""

    def __init__(self) -> None:
        self.first: list[str] = []
        self.last = ""
        self.count = 0

    def add(self, key: str) -> None:
        key = quoted(key)
        if len(self.first) < LISTED:
            self.first.append(key)
        self.last, self.count = key, self.count + 1

    def listing(self) -> str:
        return summarised(self.first, self.last, self.count)
