"""SORT ordering (RFC 5256 section 3, RFC 5957 DISPLAYFROM/DISPLAYTO), pure.

Each message is a :class:`SortFields` record the server builds from the index (arrival,
size) and the header cache (the rest). Strings compare folded the way Dovecot's
``i;unicode-casemap`` does (decomposed, upper-cased), an absent field as the empty string
(sorting first). Messages equal on every criterion keep mailbox order, also under
``REVERSE`` (section 3: "the order in which they appear in the mailbox" breaks ties, and
REVERSE reverses only its own key).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mesyx.proto.imap.search import SortCriterion, SortKey

__all__ = ["SortFields", "collate", "sort_positions"]


def collate(text: str) -> str:
    """The comparison form of a string, ``i;unicode-casemap``-like (RFC 5051): case-folded to
    upper case (title case in the RFC; Dovecot's ``[`` and ``_`` sort after letters), decomposed.
    """
    folded = text.casefold().upper()
    return folded if folded.isascii() else unicodedata.normalize("NFKD", folded)


@dataclass(frozen=True, slots=True)
class SortFields:
    """The sort keys of one message, already in comparison form (strings through :func:`collate`).

    ``position`` is the mailbox order (and what :func:`sort_positions` returns); ``sent``
    is the Date field as UTC seconds, the internal date when it has none (section 3, DATE).
    """

    position: int
    arrival: float
    sent: float
    size: int
    subject: str = ""
    from_: str = ""
    to: str = ""
    cc: str = ""
    display_from: str = ""
    display_to: str = ""


_KEYS: dict[SortKey, Callable[[SortFields], float | int | str]] = {
    SortKey.ARRIVAL: lambda f: f.arrival,
    SortKey.CC: lambda f: f.cc,
    SortKey.DATE: lambda f: f.sent,
    SortKey.FROM: lambda f: f.from_,
    SortKey.SIZE: lambda f: f.size,
    SortKey.SUBJECT: lambda f: f.subject,
    SortKey.TO: lambda f: f.to,
    SortKey.DISPLAYFROM: lambda f: f.display_from,
    SortKey.DISPLAYTO: lambda f: f.display_to,
}


def sort_positions(messages: Sequence[SortFields], criteria: Sequence[SortCriterion]) -> list[int]:
    """The messages' positions in SORT order: stable sorts from the last criterion to the first."""
    ordered = sorted(messages, key=lambda f: f.position)
    for criterion in reversed(criteria):
        ordered.sort(key=_KEYS[criterion.key], reverse=criterion.reverse)
    return [f.position for f in ordered]
