"""Typed failures of the IMAP protocol layer, inside Mesyx's closed hierarchy.

Each is a subclass of one of :mod:`mesyx.errors`' kinds, so every edge renders it as it
renders its parent: a malformed command or mailbox name is a usage error (IMAP ``BAD``),
a literal or line over a configured limit is a limit (``NO [TOOBIG]`` for an APPEND
message, RFC 9051 section 7.1 and RFC 7889; ``BAD`` otherwise).
"""

from __future__ import annotations

from mesyx.errors import LimitExceeded, UsageError

__all__ = ["ImapSyntaxError", "MailboxNameError", "ImapTooBig", "UnknownCharset"]


class ImapSyntaxError(UsageError):
    """A client command does not follow the grammar (RFC 3501 section 9, RFC 9051 section 9)."""

    kind = "imap-syntax"


class MailboxNameError(UsageError):
    """A mailbox name is not canonical modified UTF-7 (RFC 3501 section 5.1.3) or not encodable."""

    kind = "imap-mailbox-name"


class ImapTooBig(LimitExceeded):
    """A literal, line or command is larger than this server accepts (RFC 7888 section 4, RFC 7889)."""

    kind = "imap-too-big"


class UnknownCharset(UsageError):
    """SEARCH/SORT/THREAD named a charset this server does not know: ``NO [BADCHARSET (...)]``.

    RFC 9051 section 7.1 (BADCHARSET); ``supported`` lists what the server does know.
    """

    kind = "imap-charset"

    def __init__(self, charset: str, supported: tuple[str, ...]) -> None:
        super().__init__(f"unknown charset {charset[:40]!r}")
        self.charset = charset
        self.supported = supported
