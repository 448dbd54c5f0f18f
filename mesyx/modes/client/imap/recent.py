"""``\\Recent`` (RFC 3501 section 2.3.2): a message is recent in the first session told of it.

IMAP4rev2 dropped the flag, but IMAP4rev1 clients (and SEARCH RECENT/NEW/OLD) still see
it. The daemon keeps, per mailbox (and UIDVALIDITY), the highest UID some session has been
shown; a session that is shown UIDs above that mark claims them as its recent messages.
The mark lives in memory: after a restart the next session to look sees the mailbox's
messages as recent again, which the RFC allows ("the server MAY").

A session's recent set is kept per :class:`~.backend.Selected` (a new selection starts
afresh, RFC 3501 section 6.3.1: recent is per session, cleared on leaving the mailbox).
SELECT should call :func:`recent_uids` once the sequence map is loaded (its ``* n RECENT``),
STATUS RECENT counts the messages above :meth:`RecentMarks.mark`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from mesyx.modes.client.imap.backend import Selected
from mesyx.modes.client.imap.per_selection import PerSelection
from mesyx.modes.client.imap.session import Session

__all__ = ["RecentMarks", "MARKS", "recent_uids", "shown_recent", "rev1"]


@dataclass
class RecentMarks:
    """Daemon-wide: the highest UID shown to any session, per (mailbox id, UIDVALIDITY)."""

    shown: dict[tuple[str, int], int] = field(default_factory=dict)

    def claim(self, mailbox_id: str, uidvalidity: int, uids: list[int], *, keep: bool = True) -> set[int]:
        """The UIDs in ``uids`` no session was shown before; with ``keep`` they are shown from now on.

        A read-only selection (EXAMINE) sees them recent without taking them (RFC 3501
        section 6.3.2: EXAMINE does not change the state of the mailbox), as Dovecot does;
        STATUS RECENT is the count of such UIDs (section 6.3.10).
        """
        key = (mailbox_id, uidvalidity)
        mark = self.shown.get(key, 0)
        fresh = {u for u in uids if u > mark}
        if fresh and keep:
            self.shown[key] = max(fresh)
        return fresh


    def mark(self, mailbox_id: str, uidvalidity: int) -> int:
        """The highest UID shown to a session (0: none): the UIDs above it are recent."""
        return self.shown.get((mailbox_id, uidvalidity), 0)


MARKS = RecentMarks()


@dataclass
class _SessionRecent:
    uids: frozenset[int] = frozenset()
    #: The highest UID of the selection this session has claimed for.
    considered: int = 0
    #: How many messages the selection held when ``uids`` was last brought up to date:
    #: fewer now means some were expunged, and ``uids`` is pruned.
    counted: int = 0


_by_selection: PerSelection[_SessionRecent] = PerSelection(_SessionRecent)


def recent_uids(selected: Selected, marks: RecentMarks = MARKS) -> frozenset[int]:
    """The selection's recent UIDs, claiming any message it had not considered yet.

    Called by every FETCH of FLAGS (mbsync sends one per message), so it costs O(log n)
    when nothing arrived or left, not a pass over the mailbox.
    """
    state = _by_selection.get(selected)
    new = selected.uids[bisect_right(selected.uids, state.considered) :]
    if new:
        state.uids |= marks.claim(selected.mailbox_id, selected.uidvalidity, new, keep=not selected.readonly)
        state.considered = new[-1]
        state.counted += len(new)
    if state.counted != len(selected.uids):
        state.uids = frozenset(u for u in state.uids if u in selected.messages)
        state.counted = len(selected.uids)
    return state.uids


def shown_recent(session: Session, selected: Selected) -> frozenset[int]:
    """The UIDs whose FLAGS show ``\\Recent`` to this session: none once it enabled
    IMAP4rev2 (RFC 9051 appendix E: the flag is gone), else :func:`recent_uids`."""
    return recent_uids(selected) if rev1(session) else frozenset()


def rev1(session: Session) -> bool:
    """Does the client speak IMAP4rev1 (``\\Recent``, ``* n RECENT``)? Not once it enabled
    IMAP4rev2, which dropped them (RFC 9051 appendix E)."""
    return "IMAP4rev2" not in session.enabled
