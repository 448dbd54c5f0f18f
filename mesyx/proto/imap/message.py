"""FETCH data items of one message: the bridge from parsed fetch attributes to response values.

:func:`fetch_value` answers the attributes that come from the message's bytes (ENVELOPE,
BODY, BODYSTRUCTURE, RFC822*, BODY[...], BINARY[...], BINARY.SIZE[...]) with a value for
:func:`mesyx.proto.imap.responses.fetch_response`; FLAGS, UID, INTERNALDATE and MODSEQ
belong to the mailbox index, not to the message, and are the caller's. Use
:func:`mesyx.proto.imap.fetch.response_name` for the item names.

As Dovecot does, a section that does not exist is an empty string, not an error. BINARY of
a part with an unknown transfer encoding raises
:class:`~mesyx.proto.mime.transfer.UnknownTransferEncoding`: answer ``NO [UNKNOWN-CTE]``
(RFC 3516 section 4.3). BINARY data with a NUL goes as ``literal8`` (``~{n}``); everything
else as a plain literal. :func:`needs_message` tells whether an attribute needs the bytes at
all (FLAGS and UID need none), :func:`sets_seen` whether fetching it sets ``\\Seen``.
"""

from __future__ import annotations

from typing import Final

from mesyx.proto.imap.fetch import (
    FetchAttribute,
    FetchBinary,
    FetchBinarySize,
    FetchBody,
    FetchItem,
    Partial,
)
from mesyx.proto.imap.values import Literal, Raw, Value
from mesyx.proto.mime.message import ParsedMessage
from mesyx.proto.mime.sections import SectionText, partial
from mesyx.proto.mime.transfer import UnknownTransferEncoding

__all__ = ["fetch_value", "needs_message", "sets_seen", "UnknownTransferEncoding", "MESSAGE_ITEMS"]

#: Items without arguments that :func:`fetch_value` answers.
MESSAGE_ITEMS: Final = frozenset(
    {
        FetchItem.ENVELOPE,
        FetchItem.RFC822,
        FetchItem.RFC822_HEADER,
        FetchItem.RFC822_SIZE,
        FetchItem.RFC822_TEXT,
        FetchItem.BODY,
        FetchItem.BODYSTRUCTURE,
    }
)
_SEEN_ITEMS: Final = frozenset({FetchItem.RFC822, FetchItem.RFC822_TEXT})


def needs_message(attribute: FetchAttribute) -> bool:
    """Does answering ``attribute`` need the message's bytes (or its cached structure)?"""
    return not isinstance(attribute, FetchItem) or attribute in MESSAGE_ITEMS


def sets_seen(attribute: FetchAttribute) -> bool:
    """Does fetching ``attribute`` set ``\\Seen`` (BODY[...], BINARY[...], RFC822, RFC822.TEXT; RFC 3501 6.4.5)?"""
    if isinstance(attribute, FetchItem):
        return attribute in _SEEN_ITEMS
    if isinstance(attribute, FetchBody | FetchBinary):
        return not attribute.peek
    return False


def _cut(data: bytes, span: Partial | None) -> bytes:
    return data if span is None else partial(data, span.offset, span.count)


def fetch_value(message: ParsedMessage, attribute: FetchAttribute, *, utf8: bool = False) -> Value:
    """The response value of ``attribute`` for ``message``.

    ``utf8``: UTF8=ACCEPT is enabled (RFC 6855), so ENVELOPE/BODYSTRUCTURE strings may be UTF-8.
    Raises ValueError for FLAGS, UID, INTERNALDATE and MODSEQ (the index answers them) and
    :class:`UnknownTransferEncoding` as described in the module.
    """
    if isinstance(attribute, FetchBody):
        section = attribute.section
        text: SectionText | None = None if section.text is None else section.text.value
        data = message.section(section.part, text, section.fields)
        return Literal(_cut(data or b"", attribute.partial))
    if isinstance(attribute, FetchBinary):
        data = _cut(message.binary(attribute.part) or b"", attribute.partial)
        return Literal(data, binary=b"\0" in data)
    if isinstance(attribute, FetchBinarySize):
        return message.binary_size(attribute.part) or 0
    if attribute is FetchItem.ENVELOPE:
        return Raw(message.envelope_wire(utf8=utf8))
    if attribute is FetchItem.BODYSTRUCTURE:
        return Raw(message.body_structure(extended=True, utf8=utf8))
    if attribute is FetchItem.BODY:
        return Raw(message.body_structure(extended=False, utf8=utf8))
    if attribute is FetchItem.RFC822_SIZE:
        return message.size
    if attribute is FetchItem.RFC822:
        return Literal(message.raw)
    if attribute is FetchItem.RFC822_HEADER:
        return Literal(message.header_bytes)
    if attribute is FetchItem.RFC822_TEXT:
        return Literal(message.text_bytes)
    raise ValueError(f"{attribute} is answered by the mailbox index, not by the message")
