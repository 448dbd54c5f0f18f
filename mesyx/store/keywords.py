"""One representation of flags and keywords: JMAP's (RFC 8621 section 4.1.1), everywhere.

DESIGN.md makes JMAP the data model and IMAP a view of it, so the operation log, the fold
and the index all hold *JMAP keywords*; only the IMAP server translates, at its edge:

=============  ================
IMAP flag      keyword (stored)
=============  ================
``\\Seen``      ``$seen``
``\\Answered``  ``$answered``
``\\Flagged``   ``$flagged``
``\\Draft``     ``$draft``
``\\Deleted``   ``$deleted``
``\\Recent``    never stored: it is per IMAP session (RFC 3501 section 2.3.2), and gone
               from IMAP4rev2 (RFC 9051)
other          the keyword itself, e.g. ``$Forwarded``, ``$Label1``
=============  ================

Why ``$deleted``: JMAP has no ``\\Deleted`` (a JMAP client destroys instead), but an IMAP
``\\Deleted`` must survive across sessions and devices until EXPUNGE, so it is a keyword
like the others (Stalwart does the same).

Case: keywords are case-insensitive (RFC 8621; RFC 9051 section 2.3.2). The four system
keywords and ``$deleted`` are always lowercase. Other keywords keep the spelling a client
gave, so Thunderbird sees ``$Label1`` back, but compare by their lowercase *key*: a log
holding ``$Label1`` and ``$label1`` shows one keyword (the smaller spelling), and clearing
a keyword clears every spelling the message has (:func:`spellings_of`). Older operations
that stored ``\\Seen`` itself (a SIEVE ``addflag``, early tests) read as ``$seen``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from mesyx.errors import UsageError

__all__ = [
    "SEEN",
    "DELETED",
    "SYSTEM_FLAGS",
    "keyword_key",
    "canonical",
    "canonical_set",
    "from_imap",
    "to_imap",
    "spellings_of",
    "encode_keywords",
    "decode_keywords",
]

SEEN: Final = "$seen"
ANSWERED: Final = "$answered"
FLAGGED: Final = "$flagged"
DRAFT: Final = "$draft"
DELETED: Final = "$deleted"

#: IMAP system flag -> stored keyword (``\\Recent`` is deliberately absent).
SYSTEM_FLAGS: Final[dict[str, str]] = {
    "\\Seen": SEEN,
    "\\Answered": ANSWERED,
    "\\Flagged": FLAGGED,
    "\\Draft": DRAFT,
    "\\Deleted": DELETED,
}
_TO_IMAP: Final = {keyword: flag for flag, keyword in SYSTEM_FLAGS.items()}
#: Lowercase spellings of a system flag, IMAP's or JMAP's, -> the stored keyword.
_SYSTEM_KEYS: Final = {flag.lower(): kw for flag, kw in SYSTEM_FLAGS.items()} | {kw: kw for kw in SYSTEM_FLAGS.values()}
#: Characters a keyword must not hold (RFC 8621 section 4.1.1; RFC 3501 atom-specials).
_FORBIDDEN: Final = frozenset('(){]%*"\\')
MAX_KEYWORD: Final = 255


def keyword_key(keyword: str) -> str:
    """What two spellings of one keyword share (ASCII only, so lower() is enough)."""
    return _SYSTEM_KEYS.get(keyword.lower(), keyword.lower())


def canonical(keyword: str) -> str:
    """The stored form of a keyword as found in the log: system flags in JMAP form."""
    return _SYSTEM_KEYS.get(keyword.lower(), keyword)


def canonical_set(keywords: Iterable[str]) -> tuple[str, ...]:
    """A message's keywords as the index shows them: one spelling per key, sorted by key.

    Several spellings of one keyword (set from devices that spelled it differently) show
    as the smallest spelling, so every node picks the same one.
    """
    chosen: dict[str, str] = {}
    for keyword in keywords:
        key = keyword_key(keyword)
        spelling = canonical(keyword)
        if key not in chosen or spelling < chosen[key]:
            chosen[key] = spelling
    return tuple(chosen[key] for key in sorted(chosen))


def from_imap(flag: str) -> str:
    """An IMAP flag or keyword from a client -> the keyword to record.

    Raises UsageError for ``\\Recent`` (not settable, RFC 3501 section 2.3.2), for other
    ``\\`` names (no such system flag) and for a keyword JMAP could not hold.
    """
    if flag.startswith("\\"):
        for name, keyword in SYSTEM_FLAGS.items():
            if flag.lower() == name.lower():
                return keyword
        raise UsageError(f"{flag} cannot be stored (it is not a settable system flag)")
    return check_keyword(flag)


def check_keyword(keyword: str) -> str:
    """Refuse what is not a keyword in both IMAP and JMAP; returns its stored form."""
    if not 1 <= len(keyword) <= MAX_KEYWORD:
        raise UsageError("a keyword has 1 to 255 characters")
    if any(not 0x21 <= ord(c) <= 0x7E or c in _FORBIDDEN for c in keyword):
        raise UsageError(f"{keyword!r} is not a valid keyword (printable ASCII, none of ( ) {{ ] % * \" \\)")
    return canonical(keyword)


def to_imap(keyword: str) -> str:
    """A stored keyword -> how IMAP FETCH FLAGS shows it."""
    return _TO_IMAP.get(keyword, keyword)


def spellings_of(keys: Iterable[str], present: Iterable[str]) -> frozenset[str]:
    """Every spelling in ``present`` (a message's raw keywords from the fold) of the
    keywords ``keys``, plus their canonical form: what a clear must clear."""
    wanted = {keyword_key(k) for k in keys}
    found = {k for k in present if keyword_key(k) in wanted}
    return frozenset(found | {canonical(k) for k in keys})


def encode_keywords(keywords: Iterable[str]) -> str:
    """The ``keywords`` column: canonical keywords, space-separated (none holds a space)."""
    return " ".join(canonical_set(keywords))


def decode_keywords(column: str) -> tuple[str, ...]:
    return tuple(column.split()) if column else ()
