"""THREAD algorithms of RFC 5256: ORDEREDSUBJECT (section 3) and REFERENCES (section 4).

Pure functions over :class:`ThreadMessage` records; the result is a list of
:data:`~mesyx.proto.imap.responses.ThreadNode` ready for ``thread_response``. A node is
``(n, child...)`` where each child is a node: one child continues the chain, several are
siblings (the encoder writes ``(1 2)`` and ``(1 (2)(3))``). Dummy containers of the
REFERENCES algorithm have no number: their node is just their children, ``((2)(3))``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from mesyx.proto.imap.responses import ThreadNode

__all__ = ["ThreadMessage", "ThreadTooDeep", "MAX_BRANCH_DEPTH", "message_ids", "ordered_subject", "references"]

_MSGID: Final = re.compile(r"<([^<>\s]+)>")
#: Only the last this many references of a message are linked (a hostile References field
#: with thousands of IDs would otherwise cost their count times the thread depth).
MAX_REFERENCES: Final = 100
#: Nesting of sub-threads (branch points; a chain of single replies stays flat) a response
#: may have. Deeper needs hundreds of crafted messages, and would exhaust the stack here and in
#: the recursive encoder (``responses.thread_response``, two frames a level).
MAX_BRANCH_DEPTH: Final = 200


class ThreadTooDeep(ValueError):
    """The threads nest deeper than :data:`MAX_BRANCH_DEPTH` (the server answers NO [LIMIT])."""


def message_ids(value: str | None) -> list[str]:
    """The ``<id>`` message IDs in a References/In-Reply-To/Message-ID value, in order."""
    return _MSGID.findall(value) if value else []


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """What threading needs of one message.

    ``number`` is what the response shows (sequence number or UID) and breaks ties, as the
    mailbox order does (RFC 5256 section 3: "the order in which they appear in the
    mailbox"); ``sent`` is the sent date as a UTC timestamp, the internal date when the
    Date field is missing or invalid (section 2.2); ``subject`` is the base subject folded
    for comparison and ``reply`` whether the subject was a reply or forward (section 2.1).
    ``references`` are the parent IDs, oldest first: References, else the first ID of
    In-Reply-To (section 4 step 1.A).
    """

    number: int
    sent: float
    subject: str
    reply: bool = False
    message_id: str | None = None
    references: tuple[str, ...] = ()


def ordered_subject(messages: list[ThreadMessage]) -> list[ThreadNode]:
    """ORDEREDSUBJECT: group by base subject, each group's oldest message the parent of the rest.

    Section 3: sort by (base subject, sent date); within a group the first message is the
    parent and the others its children (siblings of each other); the groups are ordered
    by the sent date of their first message.
    """
    groups: dict[str, list[ThreadMessage]] = {}
    for m in sorted(messages, key=lambda m: (m.subject, m.sent, m.number)):
        groups.setdefault(m.subject, []).append(m)
    firsts = sorted(groups.values(), key=lambda g: (g[0].sent, g[0].number))
    return [(g[0].number, *[(m.number,) for m in g[1:]]) for g in firsts]


@dataclass(eq=False)
class _Container:
    message: ThreadMessage | None = None
    parent: _Container | None = None
    children: list[_Container] = field(default_factory=list)

    def is_ancestor_of(self, other: _Container) -> bool:
        node: _Container | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False

    def unlink(self) -> None:
        if self.parent is not None:
            self.parent.children.remove(self)
            self.parent = None

    def adopt(self, child: _Container) -> None:
        child.unlink()
        child.parent = self
        self.children.append(child)

    def first_message(self) -> ThreadMessage | None:
        """The message of a real container, else of its first child with one (step 5.B)."""
        node: _Container | None = self
        while node is not None and node.message is None:
            node = node.children[0] if node.children else None
        return node.message if node is not None else None


def _link(messages: list[ThreadMessage]) -> list[_Container]:
    """Step 1 (linking by Message-ID and references) and step 2 (the root set)."""
    table: dict[str, _Container] = {}
    containers: list[_Container] = []
    for m in messages:
        own = table.get(m.message_id) if m.message_id else None
        if own is None or own.message is not None:
            own = _Container(m)  # no ID, or a duplicate ID: a container of its own (step 1)
            if m.message_id and m.message_id not in table:
                table[m.message_id] = own
        else:
            own.message = m
        containers.append(own)
        previous: _Container | None = None
        for ref in m.references[-MAX_REFERENCES:]:
            node = table.get(ref)
            if node is None:
                node = table[ref] = _Container()
            # 1.A: link each reference to the one before it unless it has a parent or it loops.
            if previous is not None and node.parent is None and not node.is_ancestor_of(previous):
                previous.adopt(node)
            previous = node
        # 1.B: the last reference is the message's parent; any earlier parent link is broken
        # first, also when the new one cannot be made because it would loop (as Dovecot does).
        if previous is not own.parent:
            own.unlink()
            if previous is not None and not own.is_ancestor_of(previous):
                previous.adopt(own)
    roots = {id(c): c for c in table.values() if c.parent is None}
    roots.update({id(c): c for c in containers if c.parent is None})
    return list(roots.values())


def _postorder(roots: list[_Container]) -> list[_Container]:
    """Every container below ``roots``, children before their parent (no recursion: chains can be long)."""
    order: list[_Container] = []
    stack = list(roots)
    while stack:
        c = stack.pop()
        order.append(c)
        stack.extend(c.children)
    order.reverse()
    return order


def _pruned(siblings: list[_Container], at_root: bool) -> list[_Container]:
    """Step 4 for one sibling list (their own children pruned already): drop empty dummies,
    replace the other dummies by their children, but promote to the root level only a single child.
    """
    out: list[_Container] = []
    for c in siblings:
        if c.message is not None or (at_root and len(c.children) > 1):
            out.append(c)
            continue
        for child in c.children:
            child.parent = c.parent
        out.extend(c.children)
    return out


def _prune(roots: list[_Container]) -> list[_Container]:
    """Step 4 over the whole tree, bottom up."""
    for c in _postorder(roots):
        c.children = _pruned(c.children, False)
        for child in c.children:
            child.parent = c
    return _pruned(roots, True)


def _subject(c: _Container) -> tuple[str, bool]:
    first = c.first_message()
    return (first.subject, first.reply) if first is not None else ("", False)


def _merge_subjects(roots: list[_Container]) -> list[_Container]:
    """Step 5: gather the root-level threads with the same base subject."""
    table: dict[str, _Container] = {}
    for c in roots:  # 5.B: prefer a dummy, then a non-reply, as the subject's thread
        subject, reply = _subject(c)
        if not subject:
            continue
        old = table.get(subject)
        if (
            old is None
            or (c.message is None and old.message is not None)
            or (old.message is not None and c.message is not None and old.message.reply and not reply)
        ):
            table[subject] = c
    out = list(roots)
    for c in roots:  # 5.C
        subject, reply = _subject(c)
        entry = table.get(subject) if subject else None
        if entry is None or entry is c or c.parent is not None:
            continue
        if entry.message is None and c.message is None:
            for child in list(c.children):
                entry.adopt(child)
        elif entry.message is None:
            entry.adopt(c)
        elif c.message is None:
            c.adopt(entry)
            table[subject] = c
        elif not entry.message.reply and reply:
            entry.adopt(c)
        else:
            dummy = _Container()
            out.append(dummy)
            dummy.adopt(entry)
            dummy.adopt(c)
            table[subject] = dummy
    return [c for c in out if c.parent is None and (c.message is not None or c.children)]


def _sort(roots: list[_Container]) -> list[_Container]:
    """Step 6: siblings by sent date (a dummy by its first child's), ties in mailbox order."""

    def key(c: _Container) -> tuple[float, int]:
        m = c.first_message()
        return (m.sent, m.number) if m is not None else (0.0, 0)

    for c in _postorder(roots):
        c.children.sort(key=key)
    return sorted(roots, key=key)


def _node(c: _Container, depth: int = 0) -> ThreadNode:
    """The response node; a chain of single children stays flat, ``(1 2 3)``."""
    if depth > MAX_BRANCH_DEPTH:
        raise ThreadTooDeep(f"threads nest deeper than {MAX_BRANCH_DEPTH} levels")
    numbers: list[int | ThreadNode] = []
    while c.message is not None and len(c.children) == 1:
        numbers.append(c.message.number)
        c = c.children[0]
    if c.message is not None:
        numbers.append(c.message.number)
    return (*numbers, *[_node(child, depth + 1) for child in c.children])


def references(messages: list[ThreadMessage]) -> list[ThreadNode]:
    """REFERENCES threading (RFC 5256 section 4), steps 1 to 6; :class:`ThreadTooDeep` past the depth bound."""
    roots = _prune(_link(messages))
    for c in roots:
        c.parent = None
    return [_node(c) for c in _sort(_merge_subjects(roots))]
