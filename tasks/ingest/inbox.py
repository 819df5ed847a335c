"""The inbox: what a source's folder holds, which of it is taken, and landing what is taken.

A file is taken only when it is a regular file inside the inbox (a link, folder, pipe, socket or device is refused,
never followed or opened), its name can be kept and shown (UTF-8, no control characters), it is not hidden or
temporary (a lock, an editor's or a browser's partial file: listed as ignored), and it is complete: unchanged for
POP_INBOX_SETTLE_SECONDS, or its sender's completion marker is there when the registry asks for one. Nothing is
skipped without a word: whatever the source's glob matches and is not taken is listed with why (IgnoredFile). The
landed copy holds exactly the bytes that were hashed: it is hashed again while it is copied, and a file that
changed in between is not landed (it is taken on a later run)."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from pop.contracts import IgnoredFile, IncomingFile, NotTaken
from pop.globs import Glob
from pop.registry import Source
from pop.settings import get_settings
from tasks.ingest.outsized import cut

BLOCK = 1 << 20
# never follow a link, never wait on a pipe put where a file was
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
UNSHOWN = ("Cc", "Cf", "Cs", "Zl", "Zp")  # control, invisible (bidi overrides...), undecodable bytes, line breaks
LONGEST_NAME = 400  # what the warehouse keeps of a file's name (batches.original_name)

# (start, end, why) of names that are never data: a name that starts and ends so is ignored, and listed when the
# source's glob matches it, or the name it decorates (x.csv.part, .~lock.x.csv#, ~$x.xlsx for x.csv, x.xlsx)
TEMPORARY = (
    (".~lock.", "#", "a lock file of LibreOffice: the file is open in an editor"),
    ("~$", "", "an owner file of Microsoft Office: the file is open in Office"),
    ("", ".part", "a partial download or upload, still arriving"),
    ("", ".partial", "a partial download or upload, still arriving"),
    ("", ".crdownload", "a partial download of a browser, still arriving"),
    ("", ".download", "a partial download of a browser, still arriving"),
    ("", ".filepart", "a partial upload (WinSCP), still arriving"),
    ("", ".tmp", "a temporary file"),
    ("", ".temp", "a temporary file"),
    ("", ".swp", "a swap file of an editor: the file is being edited"),
    ("#", "#", "an autosave file of an editor"),
    ("", "~", "a backup copy of an editor"),
    (".", "", "a hidden file"),
)


class NotTakenError(Exception):
    """A file the inbox does not take now: ignored, waiting for a later run, or refused; the reason says why."""

    def __init__(self, verdict: NotTaken, reason: str) -> None:
        super().__init__(reason)
        self.verdict = verdict
        self.reason = reason

    def __reduce__(self) -> tuple[type[NotTakenError], tuple[NotTaken, str]]:
        return type(self), (self.verdict, self.reason)  # picklable, for a task runner in other processes

    def entry(self, name: str) -> IgnoredFile:
        return IgnoredFile(name=name, verdict=self.verdict, reason=self.reason)


class NotARegularFileError(ValueError):
    """A file given by path (a steward's corrected file) is a link, a folder, a device, or cannot be read."""


def shown(name: str | os.PathLike[str]) -> str:
    """A name as messages, reports and the console show it: undecodable bytes as \\xNN, control and invisible
    characters escaped (a newline as \\n), a very long name cut with a mark of its length."""
    out = []
    for char in os.fspath(name):
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode keeps it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in UNSHOWN:
            out.append(repr(char)[1:-1] if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return cut("".join(out))


def name_problem(name: str) -> str | None:
    """Why a file's name cannot be kept in the warehouse and shown as it is; None when it can."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return (
            "its name is not UTF-8 text (the bytes that are not are shown as \\xNN): rename the file with plain "
            "letters and it is taken on the next run"
        )
    if any(unicodedata.category(char) in UNSHOWN for char in name):
        return (
            "its name holds control or invisible characters (shown escaped, e.g. a line break as \\n): rename the "
            "file and it is taken on the next run"
        )
    if len(name) > LONGEST_NAME:
        return f"its name is {len(name):,} characters long, more than the {LONGEST_NAME} kept: rename the file"
    return None


def temporary(name: str) -> tuple[str, list[str]] | None:
    """Why a name is never data, and the names it may decorate; None for a name that may be data."""
    lower = name.lower()
    for start, end, why in TEMPORARY:
        if lower.startswith(start) and lower.endswith(end) and len(name) > len(start) + len(end):
            inner = name[len(start) : len(name) - len(end)]
            return why, [inner, inner.lstrip(".")]
    return None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def _fingerprint(status: os.stat_result) -> tuple[int, int, int, int]:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([os.path.realpath(path), root]) == root


# --- what a source's folder holds ---------------------------------------------------------------------------------


@dataclass
class Survey:
    """What a source's glob matches in the inbox: the regular files to take (path, name relative to the inbox), in
    name order, and the entries not taken, with why."""

    found: list[tuple[Path, str]] = field(default_factory=list)
    ignored: list[IgnoredFile] = field(default_factory=list)

    def skip(self, relative: str, verdict: NotTaken, reason: str) -> None:
        self.ignored.append(IgnoredFile(name=shown(relative), verdict=verdict, reason=reason))


def survey(source: Source, inbox: Path) -> Survey:
    """Walk the inbox down the source's glob (never through a link), sorting what it matches; nothing is read."""
    glob = Glob(source.files)
    out = Survey()
    root = os.path.realpath(inbox)
    _walk(os.fspath(inbox), "", glob.start(), glob, source, root, out)
    return out


def _walk(
    folder: str, relative: str, positions: frozenset[int], glob: Glob, source: Source, root: str, out: Survey
) -> None:
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except FileNotFoundError:
        return
    except OSError as exc:
        out.skip(relative or ".", NotTaken.REFUSED, f"the folder cannot be read ({exc.strerror})")
        return
    for entry in entries:
        name = entry.name
        path = f"{relative}/{name}" if relative else name
        after = glob.step(positions, name)
        whole, deeper = glob.complete(after), glob.goes_deeper(after)
        never = temporary(name)
        if never and not entry.is_dir(follow_symlinks=False):
            why, inner = never
            if whole or any(glob.complete(glob.step(positions, n)) for n in inner if n):
                out.skip(path, NotTaken.IGNORED, f"{why}; not taken")
            continue
        if not whole and not deeper:
            continue
        if entry.is_symlink():
            where = "inside" if _inside(entry.path, root) else "outside"
            out.skip(
                path,
                NotTaken.REFUSED,
                f"a symbolic link (pointing {where} the inbox): links are not followed; put the file itself in the "
                "folder",
            )
            continue
        if entry.is_dir(follow_symlinks=False):
            if whole:
                out.skip(
                    path,
                    NotTaken.REFUSED,
                    f"a folder, not a file, though its name matches {source.files!r}: rename it, or move its files out",
                )
            if deeper:
                if name.startswith(".") and not glob.names_literally(positions, name):
                    if not whole:
                        out.skip(path, NotTaken.IGNORED, "a hidden folder: not looked into")
                else:
                    _walk(entry.path, path, after, glob, source, root, out)
            continue
        if not whole:
            continue
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
        except OSError:
            out.skip(path, NotTaken.WAITING, "gone before it could be looked at (moved or renamed meanwhile)")
            continue
        marker = source.complete_marker
        if not stat.S_ISREG(mode):
            out.skip(path, NotTaken.REFUSED, f"{_kind(mode)}, not a regular file: only regular files are taken")
        elif marker and name.endswith(marker) and len(name) > len(marker):
            out.skip(path, NotTaken.IGNORED, f"the completion marker of {shown(name[: -len(marker)])}; not data")
        elif problem := name_problem(name):
            out.skip(path, NotTaken.REFUSED, problem)
        else:
            out.found.append((Path(entry.path), path))


# --- what is taken ------------------------------------------------------------------------------------------------


@dataclass
class InboxScan:
    """A source's files ready to ingest (hashed, complete), and the entries of its folder not taken, with why."""

    files: list[IncomingFile] = field(default_factory=list)
    ignored: list[IgnoredFile] = field(default_factory=list)


def discover(source: Source, inbox: Path, settle_seconds: float | None = None, now: float | None = None) -> InboxScan:
    """The complete files of the source in the inbox, in name order, each hashed; and what was not taken, with why.
    A file is complete when its sender's completion marker is there (the registry's complete_marker), or else when
    it has not changed for `settle_seconds` (default POP_INBOX_SETTLE_SECONDS); no file is waited for."""
    settle = get_settings().inbox_settle_seconds if settle_seconds is None else settle_seconds
    moment = time.time() if now is None else now
    found = survey(source, inbox)
    scan = InboxScan(ignored=list(found.ignored))
    for path, relative in found.found:
        try:
            scan.files.append(_complete(path, source, settle, moment))
        except NotTakenError as exc:
            scan.ignored.append(exc.entry(shown(relative)))
    return scan


def discover_files(source: Source, inbox: Path) -> list[IncomingFile]:
    """The files of the source that are taken now, in name order (what is not taken is left out: see discover)."""
    return discover(source, inbox).files


def _open(path: Path) -> int:
    """A descriptor of the file at `path` itself (a link is not followed), which must be a regular file."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except FileNotFoundError:
        raise NotTakenError(NotTaken.WAITING, "gone before it could be read (moved or renamed meanwhile)") from None
    except OSError as exc:
        if Path(path).is_symlink():
            raise NotTakenError(NotTaken.REFUSED, "a symbolic link: links are not followed") from None
        raise NotTakenError(NotTaken.REFUSED, f"cannot be read ({exc.strerror})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotTakenError(NotTaken.REFUSED, f"{_kind(mode)}, not a regular file: only regular files are taken")
    return fd


def _replaced(path: Path, incoming: IncomingFile) -> bool:
    """The file at `path` is no longer the one hashed (written to, or another put in its place)."""
    try:
        return _fingerprint(os.lstat(path)) != incoming.fingerprint
    except OSError:
        return True


CHANGED_WHILE_READ = (
    "changed while it was read: it is still being written; it is taken on a later run, once it stops changing"
)


def _complete(path: Path, source: Source, settle: float, now: float) -> IncomingFile:
    if source.complete_marker:
        marker = path.with_name(path.name + source.complete_marker)
        try:
            marked = stat.S_ISREG(os.lstat(marker).st_mode)
        except OSError:
            marked = False
        if not marked:
            raise NotTakenError(
                NotTaken.WAITING,
                f"waits for its completion marker {shown(marker.name)}, which its sender writes once the file is "
                "complete; it is taken on the run after",
            )
    fd = _open(path)
    try:
        before = os.fstat(fd)
        # the modification time says when it was last written; one in the future (a wrong clock) is not believed
        changed_at = before.st_mtime if before.st_mtime <= now else before.st_ctime
        age = now - changed_at
        if not source.complete_marker and settle > 0 and age < settle:
            raise NotTakenError(
                NotTaken.WAITING,
                f"written {max(age, 0):.0f} s ago, less than the {settle:g} s a file must stay unchanged "
                "(POP_INBOX_SETTLE_SECONDS): it may still be being written; it is taken on a later run",
            )
        incoming = _hashed(fd, path)
    finally:
        os.close(fd)
    if incoming.fingerprint != _fingerprint(before) or _replaced(path, incoming):
        raise NotTakenError(NotTaken.WAITING, CHANGED_WHILE_READ)
    return incoming


def take_file(path: Path) -> IncomingFile:
    """A file given by its path (a steward's corrected file), hashed: it must be a regular file itself, not a link
    (wherever it points), a folder, a pipe or a device, and its name must be one the warehouse can keep."""
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        raise NotARegularFileError(f"{shown(path)}: cannot be read ({exc.strerror})") from None
    if stat.S_ISLNK(mode):
        raise NotARegularFileError(f"{shown(path)} is a symbolic link: give the file itself, not a link to it")
    if not stat.S_ISREG(mode):
        raise NotARegularFileError(f"{shown(path)} is {_kind(mode)}, not a regular file: give the file itself")
    if problem := name_problem(path.name):
        raise NotARegularFileError(f"{shown(path)}: {problem}")
    try:
        fd = _open(path)
    except NotTakenError as exc:
        raise NotARegularFileError(f"{shown(path)}: {exc.reason}") from None
    try:
        before = os.fstat(fd)
        incoming = _hashed(fd, path)
    finally:
        os.close(fd)
    if incoming.fingerprint != _fingerprint(before):
        raise NotARegularFileError(f"{shown(path)}: {CHANGED_WHILE_READ}")
    return incoming


def _hashed(fd: int, path: Path) -> IncomingFile:
    """The open file read to its end and hashed, with what it was on disk once read."""
    digest = hashlib.sha256()
    while block := os.read(fd, BLOCK):
        digest.update(block)
    after = os.fstat(fd)
    return IncomingFile(path, digest.hexdigest(), after.st_size, _fingerprint(after))


def sha256_of(path: Path) -> str:
    """The checksum of the file at `path`."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


# --- landing ------------------------------------------------------------------------------------------------------


def landed_suffix(path: Path) -> str:
    """The landed copy's ending: the file's own in lower case when it is a plain one (.csv, .xlsx), else none."""
    suffix = path.suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,10}", suffix) else ""


def land(incoming: IncomingFile, source: Source, landing_dir: Path) -> Path:
    """Copy the file to landing/<source>/<sha256><suffix>, read-only, hashing it as it is copied: the copy is landed
    only if it has the checksum found in the inbox (NotTakenError, waiting, otherwise). An already landed copy is kept
    as it is."""
    target = Path(landing_dir) / source.id / f"{incoming.sha256}{landed_suffix(incoming.path)}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = _open(incoming.path)
    try:
        before = os.fstat(fd)
        if incoming.fingerprint is not None and _fingerprint(before) != incoming.fingerprint:
            raise NotTakenError(NotTaken.WAITING, _changed_since_found(incoming))
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
        try:
            digest = hashlib.sha256()
            with os.fdopen(handle, "wb") as copy:
                while block := os.read(fd, BLOCK):
                    digest.update(block)
                    copy.write(block)
                copy.flush()
                os.fsync(copy.fileno())
            if digest.hexdigest() != incoming.sha256 or _fingerprint(os.fstat(fd)) != _fingerprint(before):
                raise NotTakenError(NotTaken.WAITING, _changed_since_found(incoming))
            Path(partial).chmod(0o444)
            Path(partial).replace(target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    finally:
        os.close(fd)
    return target


def _changed_since_found(incoming: IncomingFile) -> str:
    return (
        f"{shown(incoming.path.name)} changed after it was found in the inbox (its content no longer has the checksum "
        "found then): it may still be being written. Nothing was landed or loaded; it is taken on a later run, once "
        "it stops changing"
    )
