"""What to say when a name asked for does not exist: the nearest known one ("no source 'x'; did you mean 'y'?")."""

from __future__ import annotations

import difflib
from collections.abc import Collection


def nearest(value: str, known: Collection[str]) -> str | None:
    """The known name closest to `value` (a typing slip away), or None when none is close."""
    found = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def no_such(noun: str, value: str, known: Collection[str], listed_by: str | None = None) -> str:
    """'no source 'x'; did you mean 'y'?', else the names there are (or the command that lists them)."""
    close = nearest(value, known)
    if close is not None:
        return f"no {noun} {value!r}; did you mean {close!r}?"
    if listed_by:
        return f"no {noun} {value!r} ({listed_by} lists them)"
    return f"no {noun} {value!r}; known: {', '.join(sorted(known)) or 'none'}"
