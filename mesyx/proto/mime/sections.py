"""Body sections: ``BODY[section]<partial>`` (RFC 3501 / RFC 9051 section 6.4.5) and BINARY (RFC 3516).

Part numbers: a multipart's parts are numbered from 1; a message that is not multipart
has the single part 1, its body; a message/rfc822 part's numbers continue into the
encapsulated message (``2.1`` is that message's body or its first part). Everything is a
slice of the original bytes except ``HEADER.FIELDS[.NOT]`` (a selection of whole fields
plus the blank line) and BINARY (transfer encodings undone). A section that does not exist
gives None here; Dovecot answers it with an empty string.

``HEADER``, ``HEADER.FIELDS[.NOT]`` and ``TEXT`` after a part number need a message/rfc822
part (RFC 3501 section 6.4.5); ``MIME`` of a message/rfc822 part is its MIME header.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

from mesyx.proto.mime.convert import with_transfer_encoding
from mesyx.proto.mime.structure import MimePart, PartKind
from mesyx.proto.mime.transfer import UnknownTransferEncoding, decode_transfer, is_known_encoding

__all__ = ["SectionText", "resolve_part", "section_bytes", "binary_bytes", "partial"]

SectionText = Literal["HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"]
_CONVERTED: Final = frozenset({b"base64", b"quoted-printable"})


def resolve_part(root: MimePart, path: Sequence[int]) -> MimePart | None:
    """The part that ``path`` (``(1, 2)`` for ``1.2``) names, or None if there is none.

    ``()`` is the message itself. A part that is not multipart answers only to ``1``, and
    only as the body of a message (the top-level one or an encapsulated one).
    """
    part = root
    message_root = True
    for i, number in enumerate(path):
        if part.kind is PartKind.MULTIPART:
            if not 1 <= number <= len(part.children):
                return None
            part = part.children[number - 1]
        elif not (message_root and number == 1):
            return None
        message_root = False
        if part.kind is PartKind.MESSAGE and i + 1 < len(path):
            part = part.children[0]
            message_root = True
    return part


def _message_of(part: MimePart, path: Sequence[int]) -> MimePart | None:
    """The message whose header/text a section names: the top-level one, or the one in a message/rfc822 part."""
    if not path:
        return part
    if part.kind is PartKind.MESSAGE:
        return part.children[0]
    return None


def section_bytes(
    root: MimePart,
    path: Sequence[int],
    text: SectionText | None = None,
    fields: Sequence[str | bytes] = (),
) -> bytes | None:
    """The octets of ``BODY[path.text (fields)]``, or None when the section does not exist."""
    part = resolve_part(root, path)
    if part is None:
        return None
    if text is None:
        return part.data if not path else part.body
    if text == "MIME":
        return part.mime_header if path else None
    message = _message_of(part, path)
    if message is None:
        return None
    if text == "HEADER":
        return message.mime_header
    if text == "TEXT":
        return message.body
    return message.header.select(fields, exclude=(text == "HEADER.FIELDS.NOT"))


def _binary(part: MimePart, include_header: bool, out: list[bytes]) -> None:
    encoding = part.encoding
    if not is_known_encoding(encoding):
        raise UnknownTransferEncoding(encoding or b"")
    converted = encoding is not None and encoding.lower() in _CONVERTED
    if include_header:
        out.append(with_transfer_encoding(part.header, b"binary") if converted else part.mime_header)
    if part.children:
        raw = part.raw
        pos = part.body_start
        for child in part.children:
            out.append(raw[pos : child.start])
            _binary(child, True, out)
            pos = child.end
        out.append(raw[pos : part.end])
    else:
        out.append(decode_transfer(part.body, encoding))


def binary_bytes(root: MimePart, path: Sequence[int]) -> bytes | None:
    """The octets of ``BINARY[path]``: the part's body with its transfer encoding undone.

    ``BINARY[]`` is the whole message. A multipart or message/rfc822 part is returned with
    each part inside decoded and its header saying ``Content-Transfer-Encoding: binary``
    (as Dovecot does). None when the part does not exist; raises
    :class:`~mesyx.proto.mime.transfer.UnknownTransferEncoding` for an encoding it cannot undo.
    """
    part = resolve_part(root, path)
    if part is None:
        return None
    out: list[bytes] = []
    _binary(part, not path, out)
    return out[0] if len(out) == 1 else b"".join(out)


def partial(data: bytes, offset: int, count: int | None = None) -> bytes:
    """``<offset.count>`` of ``data``: empty when ``offset`` is past the end (RFC 3501 section 6.4.5)."""
    if count is None:
        return data[offset:]
    return data[offset : offset + count]
