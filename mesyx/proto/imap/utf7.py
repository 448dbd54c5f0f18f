"""Modified UTF-7 for IMAP mailbox names (RFC 3501 section 5.1.3; RFC 9051 section 5.1).

Printable US-ASCII (0x20-0x7E) stands for itself except ``&``, which is written ``&-``.
Every other character is written in a *shifted* sequence: ``&``, the UTF-16BE encoding of
the run in modified BASE64 (RFC 2045 base64 with ``,`` instead of ``/`` and no ``=``
padding), then ``-``.

Decoding is strict: a name has exactly one encoding, and anything else (printable ASCII
inside a shifted sequence, two adjacent shifted sequences, non-zero padding bits, an empty
sequence ``&-`` used for anything but ``&``, a lone surrogate, 8-bit or control bytes) is
refused with :class:`~mesyx.proto.imap.errors.MailboxNameError`, so two different wire names
never map to one mailbox.

:func:`decode_mailbox_name_or_literal` is the lenient variant for names that only *look
up* mailboxes (SELECT, STATUS, LIST patterns...): a name that is not valid modified UTF-7
is taken literally, as Dovecot takes LIST patterns (``cmd-list.c``), so that such a name is
one that does not exist (``NO``) rather than a syntax error (``BAD``). Names that create
something (CREATE, RENAME's target, SUBSCRIBE) stay strict, so no mailbox is ever made
under a name that has no canonical encoding.
"""

from __future__ import annotations

import base64
import binascii

from mesyx.proto.imap.errors import MailboxNameError

__all__ = ["encode_mailbox_name", "decode_mailbox_name", "decode_mailbox_name_or_literal"]


def _is_direct(ch: str) -> bool:
    return "\x20" <= ch <= "\x7e"


def _b64(run: str) -> str:
    try:
        raw = run.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise MailboxNameError("mailbox name holds a lone surrogate, which UTF-16 cannot carry") from exc
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")


def encode_mailbox_name(name: str) -> str:
    """Encode ``name`` as modified UTF-7 (RFC 3501 section 5.1.3); the result is printable ASCII.

    Raises MailboxNameError only for a string holding a lone surrogate.
    """
    if name.isascii() and "&" not in name and name.isprintable():
        return name
    out: list[str] = []
    run: list[str] = []
    for ch in name:
        if _is_direct(ch):
            if run:
                out.append("&" + _b64("".join(run)) + "-")
                run.clear()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    if run:
        out.append("&" + _b64("".join(run)) + "-")
    return "".join(out)


def _decode_run(encoded: str) -> str:
    if not encoded:
        raise MailboxNameError("empty shifted sequence in modified UTF-7 mailbox name")
    if len(encoded) % 4 == 1:
        raise MailboxNameError("truncated base64 in modified UTF-7 mailbox name")
    padded = encoded.replace(",", "/") + "=" * (-len(encoded) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MailboxNameError("bad base64 in modified UTF-7 mailbox name") from exc
    if len(raw) % 2:
        raise MailboxNameError("odd number of UTF-16 bytes in modified UTF-7 mailbox name")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise MailboxNameError("unpaired surrogate in modified UTF-7 mailbox name") from exc
    # Canonical form only: no directly representable character may be shifted, and the
    # padding bits must be zero (re-encoding gives back exactly what was sent).
    if any(_is_direct(ch) for ch in text) or _b64(text) != encoded:
        raise MailboxNameError("non-canonical modified UTF-7 in mailbox name")
    return text


def decode_mailbox_name(wire: str | bytes) -> str:
    """Decode a modified UTF-7 mailbox name strictly (RFC 3501 section 5.1.3).

    Raises MailboxNameError for anything that is not the one canonical encoding of a name.
    """
    if isinstance(wire, bytes):
        if not wire.isascii():
            raise MailboxNameError("8-bit byte in a modified UTF-7 mailbox name")
        wire = wire.decode("ascii")
    if "&" not in wire:
        if not all(_is_direct(ch) for ch in wire):
            raise MailboxNameError("control or 8-bit character in a modified UTF-7 mailbox name")
        return wire
    out: list[str] = []
    i = 0
    n = len(wire)
    previous_shifted = False
    while i < n:
        ch = wire[i]
        if not _is_direct(ch):
            raise MailboxNameError("control or 8-bit character in a modified UTF-7 mailbox name")
        if ch != "&":
            out.append(ch)
            previous_shifted = False
            i += 1
            continue
        end = wire.find("-", i + 1)
        if end < 0:
            raise MailboxNameError("unterminated shifted sequence in modified UTF-7 mailbox name")
        if end == i + 1:
            out.append("&")
            previous_shifted = False
        else:
            if previous_shifted:
                raise MailboxNameError("adjacent shifted sequences in modified UTF-7 mailbox name")
            out.append(_decode_run(wire[i + 1 : end]))
            previous_shifted = True
        i = end + 1
    return "".join(out)


def decode_mailbox_name_or_literal(wire: str) -> str:
    """Decode ``wire`` (printable ASCII) as modified UTF-7, or take it literally if it is not valid.

    The literal reading can only differ from a valid one for a name holding ``&`` (the only
    character that starts an encoding), so ``R&D`` finds the mailbox ``R&D`` (canonically
    ``R&-D``), and ``&foo`` finds nothing unless such a mailbox exists.
    """
    try:
        return decode_mailbox_name(wire)
    except MailboxNameError:
        return wire
