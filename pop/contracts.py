"""What the stages hand each other: statuses as StrEnums and outcomes as frozen models, serialised once where they
leave the program (JSON reports, Prefect results, stored summaries)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class IncomingFile:
    """A file found in a source's inbox folder: where it is, its checksum and its size."""

    path: Path
    sha256: str
    size_bytes: int
