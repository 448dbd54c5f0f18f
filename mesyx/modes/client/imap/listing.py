"""Which names LIST and LSUB show, with which attributes: pure logic over the mailbox tree.

The tree holds every existing mailbox, every subscribed name (a subscription may outlive
its mailbox or name one that never existed: RFC 3501 section 6.3.6, RFC 9051 section
6.3.7), and the names implied above them (``a`` for ``a/b``). Rules:

* base LIST (RFC 9051 section 6.3.9): the existing mailboxes that match; a name that does
  not exist but has an existing inferior the patterns do not reach (``%``) is shown
  ``\\Noselect`` so the client can walk down to it;
* LIST-EXTENDED (RFC 5258 section 3): selection options SUBSCRIBED (subscribed names,
  ``\\NonExistent`` for those without a mailbox) and SPECIAL-USE (RFC 6154 section 3: only
  mailboxes with a special use), combined by intersection; RECURSIVEMATCH (section 3.1)
  also shows a matching name with a descendant that meets the selection but does not
  match the patterns itself, with ``CHILDINFO ("SUBSCRIBED")`` (section 6); REMOTE is a
  no-op (there are no remote mailboxes);
* LSUB (RFC 3501 section 6.3.9): the subscribed names that match, and a matching name that
  is not subscribed but has a subscribed inferior the pattern does not reach, flagged
  ``\\Noselect`` ("A "%" wildcard to LSUB must return foo, not foo/bar").

Child attributes (RFC 3348, RFC 5258 section 4) and special-use attributes (RFC 6154
section 2) are always given for existing mailboxes (both RFCs allow it without the return
option); ``\\HasChildren`` counts existing inferiors only.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from mesyx.modes.client.index import MailboxInfo
from mesyx.modes.client.index.paths import DELIMITER

__all__ = ["ROLE_ATTRIBUTES", "USE_ROLES", "Listed", "MailboxTree", "Selection", "list_pattern", "matcher"]

#: JMAP role -> SPECIAL-USE attribute (RFC 6154 section 2); INBOX has none.
ROLE_ATTRIBUTES: dict[str, str] = {
    "sent": "\\Sent",
    "drafts": "\\Drafts",
    "trash": "\\Trash",
    "junk": "\\Junk",
    "archive": "\\Archive",
}
#: SPECIAL-USE attribute -> the role CREATE's USE gives (RFC 6154 section 3); ``\\All`` and
#: ``\\Flagged`` have no role (no mailbox is either here), so no CREATE can take them.
USE_ROLES: dict[str, str] = {attribute: role for role, attribute in ROLE_ATTRIBUTES.items()}


def list_pattern(reference: str, pattern: str) -> re.Pattern[str]:
    """``*`` matches anything, ``%`` anything but the delimiter (RFC 9051 section 6.3.9).

    The reference is prefixed to the pattern; ``INBOX`` at its head is case-insensitive
    (RFC 9051 section 5.1).
    """
    full = reference + pattern
    out = []
    for ch in full:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            out.append(re.escape(ch))
    regex = "".join(out)
    if full[:5].upper() == "INBOX" and (len(full) == 5 or full[5] == DELIMITER):
        regex = "(?i:INBOX)" + "".join(out[5:])
    return re.compile(regex, re.DOTALL)


def matcher(reference: str, patterns: Iterable[str]) -> Callable[[str], bool]:
    """Does a name match any of the patterns (RFC 5258 section 3: several patterns are a union)?"""
    regexes = [list_pattern(reference, p) for p in patterns]
    return lambda name: any(rx.fullmatch(name) for rx in regexes)


@dataclass(frozen=True)
class Selection:
    """What a LIST or LSUB selects (RFC 5258 section 3.1)."""

    subscribed: bool = False
    special_use: bool = False
    recursive: bool = False
    #: LIST-EXTENDED syntax was used: a missing name is ``\\NonExistent``, not ``\\Noselect``.
    extended: bool = False
    #: Show ``\\Subscribed`` (the SUBSCRIBED return or selection option).
    show_subscribed: bool = False
    lsub: bool = False


@dataclass(frozen=True)
class Listed:
    """One ``* LIST`` / ``* LSUB`` line; ``info`` is None for a name without a mailbox."""

    path: str
    attributes: tuple[str, ...]
    info: MailboxInfo | None
    childinfo: bool = False


@dataclass(frozen=True)
class _Node:
    path: str
    info: MailboxInfo | None
    subscribed: bool


class MailboxTree:
    """Existing mailboxes, subscribed names, and the names implied above them, in path order."""

    def __init__(self, boxes: Iterable[MailboxInfo], subscriptions: Iterable[str]) -> None:
        infos = {b.path: b for b in boxes}
        subscribed = set(subscriptions)
        names = set(infos) | subscribed
        for name in list(names):
            parts = name.split(DELIMITER)
            names.update(DELIMITER.join(parts[:i]) for i in range(1, len(parts)))
        self._paths = sorted(names)
        self._nodes = {p: _Node(p, infos.get(p), p in subscribed) for p in self._paths}

    def _descendants(self, path: str) -> Sequence[str]:
        """Every name below ``path``: the names starting with ``path/``, adjacent once sorted."""
        prefix = path + DELIMITER
        start = bisect.bisect_left(self._paths, prefix)
        end = bisect.bisect_left(self._paths, prefix + "\U0010ffff")
        return self._paths[start:end]

    def _has_existing_children(self, path: str) -> bool:
        return any(self._nodes[d].info is not None for d in self._descendants(path))

    def listing(self, matches: Callable[[str], bool], selection: Selection) -> list[Listed]:
        """The lines of a LIST or LSUB, in path order."""
        out: list[Listed] = []

        def meets(node: _Node) -> bool:
            if selection.subscribed and not node.subscribed:
                return False
            if selection.special_use and (node.info is None or node.info.role not in ROLE_ATTRIBUTES):
                return False
            return selection.subscribed or node.info is not None

        def hidden_below(path: str) -> bool:
            """A descendant meets the selection, but the patterns do not reach it."""
            return any(meets(self._nodes[d]) and not matches(d) for d in self._descendants(path))

        base = not (selection.subscribed or selection.special_use)
        for path in self._paths:
            if not matches(path):
                continue
            node = self._nodes[path]
            if meets(node):
                out.append(self._line(node, selection, childinfo=selection.recursive and hidden_below(path)))
                continue
            # Shown only for what is below: a parent of selected names (RECURSIVEMATCH), an
            # unsubscribed parent in LSUB, a missing parent in a base LIST.
            if (selection.recursive or selection.lsub or (base and node.info is None)) and hidden_below(path):
                if selection.lsub:
                    out.append(Listed(path, ("\\Noselect",), node.info))
                else:
                    out.append(self._line(node, selection, childinfo=selection.recursive))
        return out

    def _line(self, node: _Node, selection: Selection, *, childinfo: bool = False) -> Listed:
        if selection.lsub:
            return Listed(node.path, (), node.info)
        attrs: list[str] = []
        children = self._has_existing_children(node.path)
        if node.info is None:
            attrs.append("\\NonExistent" if selection.extended else "\\Noselect")
            if children:
                attrs.append("\\HasChildren")
        else:
            attrs.append("\\HasChildren" if children else "\\HasNoChildren")
            if node.info.role in ROLE_ATTRIBUTES:
                attrs.append(ROLE_ATTRIBUTES[node.info.role])
        if selection.show_subscribed and node.subscribed:
            attrs.append("\\Subscribed")
        return Listed(node.path, tuple(attrs), node.info, childinfo)
