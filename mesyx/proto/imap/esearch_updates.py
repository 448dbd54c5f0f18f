"""``* ESEARCH (TAG "t") [UID] REMOVEFROM (0 set) ADDTO (0 set)`` (RFC 5267 section 4.3).

The update of a ``SEARCH RETURN (UPDATE)`` result. The context position is 0: a SEARCH
result is a set, not a sorted list, so the client inserts by number (Dovecot sends 0 for
SEARCH too). Removals come first, as Dovecot writes them.
"""

from __future__ import annotations

from collections.abc import Iterable

from mesyx.proto.imap.responses import CRLF, format_ordered_set
from mesyx.proto.imap.values import encode_string

__all__ = ["esearch_update"]


def esearch_update(tag: str, *, uid: bool, removed: Iterable[int] = (), added: Iterable[int] = ()) -> bytes | None:
    """The update line, or None when nothing changed."""
    gone, new = sorted(set(removed)), sorted(set(added))
    if not gone and not new:
        return None
    out = [b"* ESEARCH (TAG ", encode_string(tag), b")"]
    if uid:
        out.append(b" UID")
    if gone:
        out.append(b" REMOVEFROM (0 " + format_ordered_set(gone).encode("ascii") + b")")
    if new:
        out.append(b" ADDTO (0 " + format_ordered_set(new).encode("ascii") + b")")
    out.append(CRLF)
    return b"".join(out)
