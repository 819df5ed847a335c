"""Outsized input kept in bounds in what we store and say: a long list of names is summarised, a long cell is cut
with a mark that says how long it was."""

from __future__ import annotations

from collections.abc import Sequence

LISTED = 10  # a list this long or shorter is given whole; a longer one by its first names, its last and its length
NAME_CHARS = 60  # a column or sheet name quoted in a message
SHOWN_CHARS = 200  # a value quoted in a reason, an example or a message
MESSAGE_CHARS = 2_000  # a batch's message, whatever the error it reports quotes
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
    return summarised(items[:LISTED], items[-1] if items else "", len(items))


def summarised(first: Sequence[str], last: str, total: int) -> str:
    """`listing` of a list known only by its first LISTED items, its last and its length (one streamed, never held
    whole)."""
    if total <= LISTED:
        return ", ".join(first[:total])
    return f"{', '.join(first[:3])} … {last} ({total:,} in all)"
