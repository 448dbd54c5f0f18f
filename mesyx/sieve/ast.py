"""The SIEVE syntax tree: what the parser produces and the printer writes back.

RFC 5228 section 8 gives SIEVE one generic grammar: every command and test is an
identifier followed by arguments (string lists, numbers, tags), an optional test or
parenthesised test list, and, for commands, a block or a semicolon. The tree keeps that
shape, typed, with the line and column of every node (1-based, columns in characters),
so that validation errors and ManageSieve answers can point at the place. Meaning (which
tag takes which value, which extension a name needs) is the validator's job
(:mod:`mesyx.sieve.validate`), which turns this tree into :class:`Call` nodes.

Names (identifiers and tags) are stored lower-case: RFC 5228 section 2.9 makes them
case-insensitive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Position",
    "StringList",
    "Number",
    "Tag",
    "Argument",
    "Test",
    "Command",
    "Script",
    "Call",
    "TagValue",
]


@dataclass(frozen=True, order=True)
class Position:
    """Where a node starts in the script: 1-based line and column."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}"


@dataclass(frozen=True)
class StringList:
    """A string or a string list (RFC 5228 section 2.4.2).

    ``bracketed`` tells ``"a"`` from ``["a"]``: both mean the same list, but some
    arguments take a single string only (e.g. ``fileinto``'s mailbox), and the printer
    writes back what was written. ``values`` are the strings after quoted-string and
    multi-line unescaping; encoded-character and variables are expanded at run time.
    """

    values: tuple[str, ...]
    bracketed: bool = False
    pos: Position = field(default=Position(0, 0), compare=False)


@dataclass(frozen=True)
class Number:
    """A number with its quantifier applied (RFC 5228 section 2.4.1: K, M, G)."""

    value: int
    pos: Position = field(default=Position(0, 0), compare=False)


@dataclass(frozen=True)
class Tag:
    """A tagged argument such as ``:contains``, without the colon, lower-case."""

    name: str
    pos: Position = field(default=Position(0, 0), compare=False)


Argument = StringList | Number | Tag


@dataclass(frozen=True)
class Test:
    """A test: ``name args* [test | (test, ...)]`` (RFC 5228 section 8.2)."""

    name: str
    arguments: tuple[Argument, ...] = ()
    tests: tuple[Test, ...] = ()
    pos: Position = field(default=Position(0, 0), compare=False)


@dataclass(frozen=True)
class Command:
    """A command: ``name args* [test | (tests)] (block | ;)``.

    ``tests`` holds the test of ``if``/``elsif`` (one) or a test list; ``block`` is None
    for a command ended by a semicolon, a tuple (maybe empty) for ``{ ... }``.
    """

    name: str
    arguments: tuple[Argument, ...] = ()
    tests: tuple[Test, ...] = ()
    block: tuple[Command, ...] | None = None
    pos: Position = field(default=Position(0, 0), compare=False)


@dataclass(frozen=True)
class Script:
    """A whole script: its top-level commands."""

    commands: tuple[Command, ...]


#: The value a validated tag carries: True for a flag (``:copy``), else its argument.
TagValue = bool | str | int | tuple[str, ...]


@dataclass(frozen=True)
class Call:
    """A validated command or test, its arguments sorted out by its signature.

    ``tags`` maps a tag's name (lower-case, no colon) to its value: ``True`` for tags
    without an argument, the string, number or string list that follows otherwise. The
    validator fills in defaults only where an RFC names one without choice:
    ``comparator`` ("i;ascii-casemap", RFC 5228 section 2.7.3), ``match`` ("is",
    section 2.7.1), ``address-part`` ("all", section 2.7.4). ``match`` holds the match
    type's tag name (``is``, ``contains``, ``matches``, ``regex``, ``value``,
    ``count``); for ``value`` and ``count`` the relational operator is in ``tags["relation"]``
    (RFC 5231), lower-cased. ``address-part`` holds ``all``, ``localpart``, ``domain``,
    ``user`` or ``detail`` (RFC 5233). ``size`` holds ``over`` or ``under``; ``transform``
    (body, default ``text``) holds ``raw``, ``content`` or ``text``, with the content
    types in ``tags["content"]``. Every other tag is under its own name: ``zone`` (the
    offset string), ``originalzone``, ``index``, ``last``, ``days``, ``seconds``,
    ``flags``, ``copy``, ``create``, set's modifiers, and so on.

    ``positional`` holds the remaining arguments in order: a ``tuple[str, ...]`` for a
    string list, an ``int`` for a number. ``tests`` are the nested tests (``if``,
    ``allof``, ``anyof``, ``not``); ``block`` the nested commands of a control command,
    and ``orelse`` the ``elsif``/``else`` that follow an ``if`` (an ``elsif`` is a Call
    named ``elsif`` with its own ``orelse``).
    """

    name: str
    pos: Position = field(compare=False)
    tags: dict[str, TagValue] = field(default_factory=dict)
    positional: tuple[tuple[str, ...] | int, ...] = ()
    tests: tuple[Call, ...] = ()
    block: tuple[Call, ...] = ()
    orelse: Call | None = None
