"""A message as a reader sees it: headers decoded, the text and HTML to show, attachments.

What the REST API returns for ``GET /v1/messages/{id}`` (and what a web page or a phone app
renders): a client should not need a MIME parser to show a mail. Pure, sans-IO, over the
MIME tree of :mod:`.structure`:

* headers are unfolded and RFC 2047-decoded (:func:`~.text.decode_words`), in order;
* the body to show follows RFC 2046: in a ``multipart/alternative`` the *last* part a
  reader can show is the preferred one (section 5.1.4), so its ``text/html`` becomes
  ``html`` and its ``text/plain`` ``text``; in ``multipart/mixed`` (and any other
  multipart) the first inline text parts are the body and the rest are attachments;
* a part is an attachment when its Content-Disposition says ``attachment`` (RFC 2183
  section 2.2), or it has a file name, or it is not text; each is named by its IMAP part
  number (``"2"``, ``"1.3"``: RFC 9051 section 6.4.5), which :func:`part_content` takes
  back to give its decoded bytes;
* a file name comes from ``Content-Disposition: filename`` or, failing that, the
  ``Content-Type: name`` parameter, RFC 2231-decoded (``filename*=utf-8''...``) or
  RFC 2047-decoded (what mail clients write in practice);
* text is decoded by transfer encoding and charset, leniently (an unknown charset reads
  as UTF-8 with replacement characters): a malformed message still shows something.

Nothing here raises on any input except :func:`part_content` for a part that does not
exist (:class:`~mesyx.errors.NotFound`).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Final

from mesyx.errors import NotFound
from mesyx.proto.mime.params import param, parse_disposition
from mesyx.proto.mime.sections import resolve_part
from mesyx.proto.mime.structure import MimePart, PartKind, parse_structure
from mesyx.proto.mime.text import decode_8bit, decode_charset, decode_words, part_bytes, part_text

__all__ = ["Attachment", "MessageView", "view", "part_content", "MAX_PARTS_SHOWN"]

#: Attachments listed at most (a message of 10,000 parts lists the first ones).
MAX_PARTS_SHOWN: Final = 1000


@dataclass(frozen=True)
class Attachment:
    """A part a reader downloads rather than reads."""

    part: str
    content_type: str
    filename: str | None
    size: int  # octets of the body as stored (before the transfer encoding is undone)
    disposition: str | None


@dataclass(frozen=True)
class MessageView:
    headers: tuple[tuple[str, str], ...]
    subject: str | None
    from_: str | None
    to: str | None
    cc: str | None
    date: str | None
    message_id: str | None
    text: str | None
    html: str | None
    attachments: tuple[Attachment, ...]


def view(raw: bytes) -> MessageView:
    """The reader's view of ``raw`` (any bytes: a message without structure is one text part)."""
    root = parse_structure(raw)
    header = root.header
    headers = tuple((name.decode("ascii", "replace"), decode_words(value)) for name, value in header.items())

    def first(name: bytes) -> str | None:
        value = header.get(name)
        return None if value is None else decode_words(value)

    shown: dict[str, str] = {}
    attachments: list[Attachment] = []
    _collect(root, (), shown, attachments)
    return MessageView(
        headers=headers,
        subject=first(b"subject"),
        from_=first(b"from"),
        to=first(b"to"),
        cc=first(b"cc"),
        date=first(b"date"),
        message_id=first(b"message-id"),
        text=shown.get("plain"),
        html=shown.get("html"),
        attachments=tuple(attachments[:MAX_PARTS_SHOWN]),
    )


def part_content(raw: bytes, part: str) -> tuple[str, bytes]:
    """``(content type, decoded bytes)`` of the part numbered ``part`` (``"2"``, ``"1.3"``).

    Raises :class:`~mesyx.errors.NotFound` for a malformed number or a part that does not
    exist; an encoding that cannot be undone gives the bytes as stored.
    """
    try:
        path = tuple(int(n) for n in part.split("."))
    except ValueError:
        raise NotFound(f"no part {part!r}: part numbers are like 2 or 1.3") from None
    if not path or any(n < 1 for n in path):
        raise NotFound(f"no part {part!r}: part numbers are like 2 or 1.3")
    found = resolve_part(parse_structure(raw), path)
    if found is None or found.kind is PartKind.MULTIPART:
        raise NotFound(f"the message has no part {part}")
    return _content_type(found), part_bytes(found)


def _collect(part: MimePart, path: tuple[int, ...], shown: dict[str, str], attachments: list[Attachment]) -> None:
    """Walk the tree: fill ``shown`` (``plain``/``html``, the first of each) and the attachments."""
    if part.kind is PartKind.MULTIPART:
        children = list(enumerate(part.children, 1))
        if part.media_type[1].lower() == b"alternative":
            # RFC 2046 section 5.1.4: the last alternative is the richest; show the last of
            # each kind, and the others are not attachments.
            for number, child in reversed(children):
                if child.kind is PartKind.LEAF and child.is_text and not _is_attachment(child):
                    kind = child.media_type[1].lower().decode("ascii", "replace")
                    if kind in ("plain", "html") and kind not in shown:
                        shown[kind] = part_text(child)
                else:
                    _collect(child, (*path, number), shown, attachments)
            return
        for number, child in children:
            _collect(child, (*path, number), shown, attachments)
        return
    label = ".".join(str(n) for n in path) or "1"
    if part.kind is PartKind.LEAF and part.is_text and not _is_attachment(part):
        kind = part.media_type[1].lower().decode("ascii", "replace")
        if kind in ("plain", "html") and kind not in shown:
            shown[kind] = part_text(part)
            return
    attachments.append(Attachment(
        part=label,
        content_type=_content_type(part),
        filename=_filename(part),
        size=part.size,
        disposition=_disposition(part),
    ))


def _content_type(part: MimePart) -> str:
    kind, sub = part.media_type
    return f"{kind.decode('ascii', 'replace')}/{sub.decode('ascii', 'replace')}".lower()


def _disposition(part: MimePart) -> str | None:
    parsed = parse_disposition(part.header.get(b"content-disposition"))
    return None if parsed is None else parsed[0].decode("ascii", "replace").lower()


def _is_attachment(part: MimePart) -> bool:
    return _disposition(part) == "attachment" or _filename(part) is not None


def _filename(part: MimePart) -> str | None:
    """Content-Disposition's ``filename``, else Content-Type's ``name`` (older clients)."""
    parsed = parse_disposition(part.header.get(b"content-disposition"))
    sources = [(parsed[1], b"filename")] if parsed is not None else []
    sources.append((part.params, b"name"))
    for params, name in sources:
        extended = param(params, name + b"*")
        if extended is not None:
            return _rfc2231(extended)
        plain = param(params, name)
        if plain is not None:
            return decode_words(plain)
    return None


def _rfc2231(value: bytes) -> str:
    """``charset'language'percent-encoded`` (RFC 2231 section 4); lenient."""
    pieces = value.split(b"'", 2)
    if len(pieces) != 3:
        return decode_8bit(value)
    charset, _language, text = pieces
    data = urllib.parse.unquote_to_bytes(text)
    return decode_charset(data, charset or None)



