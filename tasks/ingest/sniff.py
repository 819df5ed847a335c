"""What a received file is, judged from its start: an xlsx workbook, a JSON document, JSON Lines or delimited text
(CSV, TSV, semicolons, pipes), and for text its encoding and delimiter. The registry may pin the encoding and the
delimiter; what it leaves out is detected per file. A file the source does not take, or text that is not what the
registry pins, is refused with a message naming the real problem."""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer

from pop.registry import Source
from tasks.ingest.convert import BadFileError

SAMPLE_BYTES = 1 << 20  # the start of a file that detection reads: never the whole file
SNIFF_LINES = 50  # the lines the delimiter is sniffed over: the header and the first rows
DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes ('|')"}
# UTF-32 first: its little-endian mark begins with UTF-16's
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
WITH_BOM = {"utf-8-sig", "utf-16", "utf-32"}
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an Excel 97-2003 workbook (.xls)
JSON_LINES_SUFFIXES = {".jsonl", ".ndjson"}
JSON_SUFFIXES = {".json", *JSON_LINES_SUFFIXES}
WESTERN = "cp1252"  # Excel's 'CSV' in the Americas and Western Europe; it reads Latin-1 text alike
ENCODING_ADVICE = (
    "Save it as UTF-8 (in Excel: 'CSV UTF-8') and send it again; if your files cannot be saved so, tell us the "
    "encoding they use."
)


@dataclass(frozen=True)
class FileKind:
    """How to read one file: its format as the registry names it, and for text its encoding and delimiter."""

    format: str  # csv (delimited text), xlsx or json
    json_lines: bool = False
    encoding: str | None = None
    delimiter: str | None = None


def head(path: Path) -> bytes:
    with Path(path).open("rb") as handle:
        return handle.read(SAMPLE_BYTES)


def family(encoding: str) -> str:
    """An encoding's family: UTF-8 with or without its mark is UTF-8; UTF-16 of either byte order is UTF-16."""
    name = codecs.lookup(encoding).name
    return next((f for f in ("utf-8", "utf-16", "utf-32") if name.startswith(f)), name)


def human(encoding: str) -> str:
    """An encoding as a steward or a sender knows it."""
    name = family(encoding)
    if name in ("cp1252", "iso8859-1"):
        return "Latin-1/Windows-1252"
    return name.upper() if name.startswith("utf") else name


def guess_encoding(data: bytes) -> str | None:
    """The encoding of a piece of text (None when it is not text): a byte-order mark; UTF-8 when it is valid UTF-8;
    else charset-normalizer's finding, Windows-1252 first among those that read it equally well."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return encoding
    if b"\x00" not in data:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(data)  # not final: the sample may end inside a character
            return "utf-8"
        except UnicodeDecodeError:
            pass
    matches = charset_normalizer.from_bytes(data)
    if not matches:
        return None
    # on a short sample several 8-bit code pages read the text without a fault and charset-normalizer's order among
    # them is arbitrary (cp850, cp1125 for 'São Paulo'); senders of such files write Windows-1252
    least = min(match.chaos for match in matches)
    if any(WESTERN in match.could_be_from_charset for match in matches if match.chaos <= least):
        return WESTERN
    return codecs.lookup(matches.best().encoding).name


def _advance(line: int, column: int, text: str) -> tuple[int, int]:
    breaks = text.count("\n")
    return (line + breaks, len(text) - text.rfind("\n")) if breaks else (line, column + len(text))


def first_undecodable(blocks: Iterable[bytes], encoding: str, final: bool = True) -> tuple[int, int, int, bytes] | None:
    """Where the text first fails to decode: (the byte, its line, its column, the bytes around it), or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line, column = 1, 1
    for block in blocks:
        try:
            line, column = _advance(line, column, decoder.decode(block))
        except UnicodeDecodeError as exc:
            data = exc.object
            line, column = _advance(line, column, data[: exc.start].decode(encoding, errors="replace"))
            return data[exc.start], line, column, data[max(0, exc.start - 4096) : exc.start + 4096]
    if final:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return exc.object[exc.start], line, column, exc.object
    return None


def _blocks(path: Path) -> Iterable[bytes]:
    with Path(path).open("rb") as handle:
        yield from iter(lambda: handle.read(SAMPLE_BYTES), b"")


def not_valid(name: str, encoding: str, where: tuple[int, int, int, bytes]) -> BadFileError:
    """The refusal of text that does not decode: the byte, where it is, and what the text looks like instead."""
    byte, line, column, around = where
    looks = guess_encoding(around)
    like = f" (this looks like {human(looks)} text)" if looks and family(looks) != family(encoding) else ""
    return BadFileError(
        f"{name}: the file is not valid {human(encoding)}: byte {byte:#04x} at line {line:,}, column {column:,}"
        f"{like}. {ENCODING_ADVICE}"
    )


def decode_error(path: Path, name: str, encoding: str) -> BadFileError:
    """The refusal of a file whose text failed to decode while it was read (found again by streaming the file)."""
    where = first_undecodable(_blocks(path), encoding)
    if where is None:  # the reader failed where a streaming decoder does not: say so rather than guess a place
        return BadFileError(f"{name}: the file is not valid {human(encoding)} text. {ENCODING_ADVICE}")
    return not_valid(name, encoding, where)


def looks_binary(text: str) -> bool:
    """Whether decoded text holds what no exported table does: a NUL, or control characters beyond a stray few
    (tabs, line ends and form feeds are text)."""
    controls = sum(1 for char in text if char < " " and char not in "\t\n\r\f\v")
    return "\x00" in text or controls > max(2, len(text) // 200)


def text_encoding(sample: bytes, pinned: str | None, name: str) -> str:
    """The encoding to read the text with: the one detected, or the pinned one unless the file's is plainly another."""
    found = guess_encoding(sample)
    if found is None or looks_binary(_start(sample, found)):
        raise BadFileError(
            f"{name}: not a text file (it looks like a binary file). Export the data as CSV text or JSON and send it "
            f"again."
        )
    if pinned is None:
        return found
    if family(found) == family(pinned):
        return found if found in WITH_BOM else pinned  # a byte-order mark is read as one, not as text
    wide = ("utf-16", "utf-32")
    if found not in WITH_BOM and family(found) not in wide and family(pinned) not in wide:
        if where := first_undecodable([sample], pinned, final=False):
            raise not_valid(name, pinned, where)
        if found != "utf-8" or sample.isascii():
            # ASCII is every encoding's, and among 8-bit code pages the registry knows better than a sample tells
            return pinned
    raise BadFileError(
        f"{name}: the file is {human(found)} text, not {human(pinned)} as registered for this source. {ENCODING_ADVICE}"
    )


def _start(sample: bytes, encoding: str) -> str:
    """The sample as text (not final: it may end inside a character)."""
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample).lstrip("\ufeff")


def _json_lines(text: str, suffix: str) -> bool:
    """JSON Lines: so named, or a first line that is a whole JSON object followed by another object."""
    if suffix in JSON_LINES_SUFFIXES:
        return True
    first, _, rest = text.lstrip().partition("\n")
    try:
        record = json.loads(first)
    except ValueError:
        return False
    return isinstance(record, dict) and rest.lstrip().startswith("{")


def sniff_delimiter(text: str) -> str:
    """The delimiter among , ; TAB | of a header and first rows: csv.Sniffer's, unless the header lacks it, then
    the one the header has most of (a comma when it has none)."""
    lines = text.splitlines(keepends=True)[: SNIFF_LINES + 1]
    sample = "".join(lines[:-1] if len(lines) > 1 else lines)  # the last line read may be cut short
    header = lines[0] if lines else ""
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed and sniffed in header:
        return sniffed
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def text_delimiter(text: str, pinned: str | None, name: str) -> str:
    """The delimiter to read with: the one sniffed, or the pinned one unless the header plainly uses another."""
    sniffed = sniff_delimiter(text)
    if pinned is None or pinned == sniffed:
        return sniffed if pinned is None else pinned
    header = text.partition("\n")[0]
    if pinned not in header and sniffed in header:
        said = DELIMITERS.get(pinned, repr(pinned))
        raise BadFileError(
            f"{name}: the columns are separated by {DELIMITERS[sniffed]}, not {said} as registered for this "
            f"source. Save the file with {said} between columns and send it again; if your files always use "
            f"{DELIMITERS[sniffed]}, tell us."
        )
    return pinned


def _accept(format: str, what: str, source: Source, name: str) -> None:
    """Refuse a file of a format the source does not take, saying what it is."""
    if format in source.formats:
        return
    takes = " or ".join(source.formats)
    raise BadFileError(
        f"{name}: {what}, but this source takes {takes} files. Send the data as {takes}; if you can only send "
        f"{format} files, tell us."
    )


def sniff(path: Path, source: Source, name: str) -> FileKind:
    """How to read the file at `path` for `source`; BadFileError when the source cannot take it."""
    path = Path(path)
    sample = head(path)
    if sample.startswith(b"PK\x03\x04"):
        _accept("xlsx", "not a text file (it looks like an xlsx workbook)", source, name)
        return FileKind("xlsx")
    if sample.startswith(OLE2):
        raise BadFileError(
            f"{name}: an Excel 97-2003 workbook (.xls), which cannot be read. Save it from Excel as 'Excel Workbook "
            f"(.xlsx)' or as 'CSV UTF-8', and send it again."
        )
    encoding = text_encoding(sample, source.encoding, name)
    text = _start(sample, encoding)
    suffix = path.suffix.lower()
    # content decides; the name only where content cannot: a broken .json file is reported as broken JSON
    if text.lstrip()[:1] in ("[", "{") or (suffix in JSON_SUFFIXES and "csv" not in source.formats):
        lines = _json_lines(text, suffix)
        _accept("json", "JSON Lines" if lines else "a JSON file", source, name)
        return FileKind("json", json_lines=lines, encoding=encoding)
    _accept("csv", "delimited text (CSV)", source, name)
    return FileKind("csv", encoding=encoding, delimiter=text_delimiter(text, source.delimiter, name))
