"""What a file would make us hold in memory, judged before a parser holds it: the longest line of a text file (a
scan of its bytes in blocks) and what an xlsx workbook unpacks to (its zip directory). Past a limit the file is
refused with a message naming the limit and the setting that raises it."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

from tasks.ingest.convert import BadFileError
from tasks.ingest.outsized import quoted

SCAN_BLOCK = 1 << 20  # the bytes a scan reads at a time
RATIO_FLOOR = 1 << 20  # a part smaller than this unpacked is never a bomb, however tightly packed
WIDE = {"utf-16": 2, "utf-32": 4}  # encodings whose line end is more than the byte 0x0a


def _wide(encoding: str | None) -> int:
    name = codecs.lookup(encoding or "utf-8").name
    return next((width for family, width in WIDE.items() if name.startswith(family)), 1)


def _blocks(path: Path, size: int, encoding: str | None):
    """The file in blocks: bytes, or text for a wide encoding (its line end is not one byte)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace") if _wide(encoding) > 1 else None
    with Path(path).open("rb") as handle:
        while block := handle.read(size):
            yield decoder.decode(block) if decoder else block


def first_long_line(path: Path, max_bytes: int, encoding: str | None = None) -> int | None:
    """The number of the first line longer than `max_bytes` (its line end not counted), or None. Reads the file
    once in blocks no longer than the limit, so that only a block's first and last line can be too long: a few
    memchr-speed searches per block, never a line held whole."""
    width = _wide(encoding)
    limit = max(1, max_bytes // width)  # in characters for a wide encoding, in bytes otherwise
    newline: bytes | str = "\n" if width > 1 else b"\n"
    line, since = 1, 0  # the current line's number and how long it is so far
    for block in _blocks(path, min(SCAN_BLOCK, limit) * width, encoding):
        first = block.find(newline)
        if first < 0:
            since += len(block)
            if since > limit:
                return line
            continue
        if since + first > limit:
            return line
        line += block.count(newline)
        since = len(block) - block.rfind(newline) - 1
    return line if since > limit else None


def long_line_error(name: str, line: int, max_bytes: int) -> BadFileError:
    return BadFileError(
        f"{name}: line {line:,} is longer than {max_bytes / 1024:,.0f} KB, the most one line may hold "
        f"(POP_MAX_LINE_KB); the file was not read. A line this long is most often an export whose line ends were "
        f"lost: check the file and send it again. If lines this long are right, ask the steward to raise "
        f"POP_MAX_LINE_KB."
    )


def check_workbook(path: Path, name: str, max_expanded: int, max_strings: int, max_ratio: int) -> None:
    """Refuse a workbook whose parts would unpack to more than allowed, judged from its zip directory (the sizes it
    declares are the most Python's zipfile will unpack: a part that inflates beyond its size fails its checksum)."""
    with zipfile.ZipFile(path) as archive:
        parts = archive.infolist()
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > RATIO_FLOOR and ratio > max_ratio:
            raise BadFileError(
                f"{name}: part {quoted(part.filename)} of the workbook is packed {ratio:,.0f} to 1 "
                f"({part.file_size / 2**20:,.0f} MB unpacked), more than the {max_ratio:,} to 1 a workbook may be "
                f"(POP_MAX_ZIP_RATIO): it looks like a zip bomb and was not opened. Save the workbook again from "
                f"Excel and send it; if it is genuine, ask the steward to raise POP_MAX_ZIP_RATIO."
            )
    strings = sum(p.file_size for p in parts if p.filename.lower().endswith("sharedstrings.xml"))
    if strings > max_strings:
        raise BadFileError(
            f"{name}: the workbook's text (its shared strings) unpacks to {strings / 2**20:,.0f} MB, more than the "
            f"{max_strings / 2**20:,.0f} MB a workbook's text may be (POP_MAX_XLSX_STRINGS_MB); it was not opened. "
            f"Split it into smaller workbooks or send the data as CSV; if it is genuine, ask the steward to raise "
            f"POP_MAX_XLSX_STRINGS_MB."
        )
    expanded = sum(p.file_size for p in parts if p.filename.lower().endswith((".xml", ".rels")))
    if expanded > max_expanded:
        raise BadFileError(
            f"{name}: the workbook unpacks to {expanded / 2**20:,.0f} MB of sheets and strings, more than the "
            f"{max_expanded / 2**20:,.0f} MB a workbook may unpack to (POP_MAX_XLSX_EXPANDED_MB); it was not "
            f"opened. Split it into smaller workbooks or send the data as CSV; if it is genuine, ask the steward to "
            f"raise POP_MAX_XLSX_EXPANDED_MB."
        )
