"""Mesyx's own IMAP protocol layer, sans-IO: parse client commands, encode responses.

No sockets, no asyncio, no database: the server in client mode sits thinly around it
(DESIGN.md, "Sans-IO protocol code"; "IMAP is Mesyx's own").

* :mod:`.parser`: :class:`CommandReader`, the incremental command reader (feed bytes, get events);
* :mod:`.commands`, :mod:`.search`, :mod:`.fetch`, :mod:`.sequence`: the typed commands;
* :mod:`.responses` and :mod:`.values`: the response encoder;
* :mod:`.utf7`: modified UTF-7 mailbox names (RFC 3501 section 5.1.3);
* :mod:`.errors`: typed failures inside :mod:`mesyx.errors`.
"""

from __future__ import annotations

from mesyx.proto.imap.commands import Command
from mesyx.proto.imap.errors import ImapSyntaxError, ImapTooBig, MailboxNameError, UnknownCharset
from mesyx.proto.imap.parser import (
    BadCommand,
    CommandReader,
    ContinuationLine,
    Event,
    NeedContinuation,
    ReaderLimits,
)
from mesyx.proto.imap.sequence import SAVED, MessageSet, SavedResult, SeqRange, SequenceSet, compress_uids
from mesyx.proto.imap.utf7 import decode_mailbox_name, encode_mailbox_name

__all__ = [
    "Command",
    "CommandReader",
    "ReaderLimits",
    "Event",
    "NeedContinuation",
    "BadCommand",
    "ContinuationLine",
    "ImapSyntaxError",
    "ImapTooBig",
    "MailboxNameError",
    "UnknownCharset",
    "SequenceSet",
    "SeqRange",
    "SavedResult",
    "SAVED",
    "MessageSet",
    "compress_uids",
    "encode_mailbox_name",
    "decode_mailbox_name",
]
