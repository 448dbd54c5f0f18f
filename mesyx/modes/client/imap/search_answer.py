"""The answer of SEARCH and SORT: ``* SEARCH``/``* SORT`` or ``* ESEARCH``, and SEARCHRES's ``$``.

The answer is ``* SEARCH`` (IMAP4rev1), or ``* ESEARCH`` when the command has
``RETURN (...)`` (RFC 4731 section 3.1) or the session enabled IMAP4rev2 (RFC 9051
section 6.4.4: ESEARCH ALL when no return option is given). ``RETURN (SAVE)`` keeps the
result as ``$`` (RFC 5182). A MODSEQ key adds the highest MODSEQ of the answer (RFC 7162
section 3.1.5). SORT's RETURN is ESORT (RFC 5267 section 3); PARTIAL answers a window of
the result (RFC 5267 section 4.4).
"""

from __future__ import annotations

from typing import Literal

from mesyx.modes.client.imap.backend import ctx
from mesyx.modes.client.imap.session import Completion, Session
from mesyx.modes.client.index import MessageInfo
from mesyx.proto.imap import responses as r
from mesyx.proto.imap import search as s

__all__ = ["answer", "refuse_returns", "forget_saved"]

_O = s.SearchReturnOption
#: Return options that ask for result data (RFC 4731 section 3.1, RFC 5267 section 4.4).
_DATA = frozenset({_O.MIN, _O.MAX, _O.ALL, _O.COUNT, _O.PARTIAL})
#: What RETURN may hold: UPDATE (RFC 5267 section 4.3) only for SEARCH, where results are
#: unordered; SORT's live updates (positions in a sorted list) are not served.
_SUPPORTED: dict[str, frozenset[s.SearchReturnOption]] = {
    "SEARCH": _DATA | {_O.SAVE, _O.CONTEXT, _O.UPDATE},
    "SORT": _DATA | {_O.SAVE, _O.CONTEXT},
}


def refuse_returns(returns: s.SearchReturn | None, kind: Literal["SEARCH", "SORT"]) -> Completion | None:
    """A BAD for return options this server does not implement for ``kind``, else None."""
    if returns is None:
        return None
    unsupported = returns.options - _SUPPORTED[kind]
    if unsupported:
        names = " ".join(sorted(o.value for o in unsupported))
        return Completion("BAD", f"RETURN {names} is not supported with {kind}")
    if {_O.PARTIAL, _O.ALL} <= returns.options:
        return Completion("BAD", "RETURN PARTIAL conflicts with ALL")  # one or the other, as Dovecot
    return None


def _partial(returns: s.SearchReturn) -> tuple[int, int] | None:
    """``PARTIAL low:high`` as an ordered 1-based range (``4:2`` is ``2:4``, RFC 5267 section 4.4)."""
    if returns.partial is None:
        return None
    low, high = returns.partial
    return (min(low, high), max(low, high))


def forget_saved(session: Session, returns: s.SearchReturn | None) -> None:
    """RFC 5182 section 2.1: a SEARCH/SORT with SAVE that fails leaves ``$`` empty, so empty it first."""
    selected = ctx(session).selected
    if selected is not None and returns is not None and _O.SAVE in returns.options:
        selected.saved = []


def _modseq(messages: list[MessageInfo]) -> int | None:
    return max((m.modseq for m in messages), default=None) or None


def answer(
    session: Session,
    tag: str,
    hits: list[MessageInfo],
    *,
    uid: bool,
    returns: s.SearchReturn | None,
    modseq: bool,
    kind: Literal["SEARCH", "SORT"],
) -> None:
    """Send the result of a SEARCH/SORT whose ``hits`` are in answer order.

    For SEARCH the hits are in mailbox order, so MIN/MAX are the lowest/highest numbers;
    for SORT they are the first/last in sort order (RFC 5267 section 3.1). With MODSEQ,
    the highest MODSEQ of what is returned: of the MIN/MAX messages alone when only those
    are asked for (RFC 4731 section 3.2, RFC 7162 section 3.1.5). ``PARTIAL`` answers the
    given window of the result (RFC 5267 section 4.4; for SORT, of the sorted result).
    """
    selected = ctx(session).selected
    assert selected is not None

    def number(m: MessageInfo) -> int:
        return m.uid if uid else selected.seq_of(m.uid)

    rev2 = kind == "SEARCH" and "IMAP4rev2" in session.enabled
    if returns is None and not rev2:
        session.send(r.search_response([number(m) for m in hits], modseq=_modseq(hits) if modseq else None, kind=kind))
        return
    options = returns.options if returns is not None else frozenset()
    asked = options - {_O.CONTEXT}  # CONTEXT is only a hint (RFC 5267 section 4.2)
    data = options & _DATA if asked else frozenset({_O.ALL})  # RETURN () is ALL (RFC 4731 section 3.1)
    first = hits[0] if hits and _O.MIN in data else None
    last = hits[-1] if hits and _O.MAX in data else None
    window = _partial(returns) if returns is not None else None
    page = hits[window[0] - 1 : window[1]] if window is not None else []
    # What the answer is about: every hit, unless only MIN/MAX/PARTIAL are asked for. SAVE keeps
    # just those then (RFC 5182 section 2.4), and MODSEQ is theirs (RFC 7162 section 3.1.5).
    whole = not data or bool(data & {_O.ALL, _O.COUNT})
    returned = hits if whole else page + [m for m in (first, last) if m is not None]
    if _O.SAVE in options:
        selected.saved = sorted({m.uid for m in returned})
        if asked == {_O.SAVE}:
            return
    session.send(
        r.esearch_response(
            tag,
            uid=uid,
            min=number(first) if first is not None else None,
            max=number(last) if last is not None else None,
            count=len(hits) if _O.COUNT in data else None,
            all=[number(m) for m in hits] if _O.ALL in data else None,
            modseq=_modseq(returned) if modseq else None,
            partial=(window, [number(m) for m in page]) if window is not None else None,
        )
    )
