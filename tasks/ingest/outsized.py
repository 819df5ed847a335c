"""Outsized input kept in bounds in what we store and say: a long list of names is summarised, a long cell is cut
with a mark that says how long it was."""

from __future__ import annotations

from collections.abc import Sequence

LISTED = 10  # a list this long or shorter is given whole; a longer one by its first names, its last and its length
NAME_CHARS = 60  # a column or sheet name quoted in a message
SHOWN_CHARS = 200  # a value quoted in a reason, an example or a message
KEPT_CHARS = 1_000  # a stored original cell too long to be loaded
CUT_MARK = "… [cut by POP: "  # how a cut cell ends, followed by its length: found again if it comes back


def cut(text: str, keep: int = SHOWN_CHARS) -> str:
    """The text, or its first `keep` characters and a mark giving its full length."""
    return text if len(text) <= keep else f"{text[:keep]}{CUT_MARK}{len(text):,} characters]"


def quoted(name: object) -> str:
    """A name as a message quotes it, cut when long."""
    return repr(cut(str(name), NAME_CHARS))


def listing(items: Sequence[str]) -> str:
    """Items for a message: all of a short list; of a long one the first three, the last and how many in all."""
    if len(items) <= LISTED:
        return ", ".join(items)
    return f"{', '.join(items[:3])} … {items[-1]} ({len(items):,} in all)"
