"""The structure of RFC 5322 / MIME messages for IMAP FETCH and SEARCH, sans-IO and pure.

Works on the raw bytes of one message and never re-serialises it: every section is a slice
of the original (RFC 3501 section 6.4.5 offsets are exact), except HEADER.FIELDS selections
and BINARY decodings.

* :mod:`.message`: :class:`ParsedMessage`, the lazy per-message facade FETCH and SEARCH use;
* :mod:`.structure`: the MIME tree and its boundary scanner (RFC 2046 section 5.1);
* :mod:`.headers`: header blocks and fields with offsets;
* :mod:`.envelope`, :mod:`.addresses`: ENVELOPE (RFC 3501 section 7.4.2);
* :mod:`.bodystructure`: BODY and BODYSTRUCTURE;
* :mod:`.sections`: BODY[section] and BINARY[section] (RFC 3516);
* :mod:`.transfer`: base64 and quoted-printable; :mod:`.params`: MIME header values;
* :mod:`.convert`: binary parts re-encoded as base64 (APPEND of literal8 with NUL);
* :mod:`.text`: RFC 2047 and charset decoding for SEARCH.

Dovecot 2.3 is the reference (imaptest's FETCH scripts pass against these modules in
``tests/proto_mime``). Where this differs from it, on purpose: sizes and line counts are of
the bytes as stored (Dovecot counts bare LFs as CRLF, since it serves them so; Mesyx serves
the original bytes); ``BODY[1.1]`` of a part that is neither multipart nor message/rfc822
does not exist (Dovecot answers with the part itself); the first Subject/Date/Message-ID
field counts for ENVELOPE (Dovecot: the last); NUL in ``BODY[...]`` data is left as it is.
"""

from __future__ import annotations

from mesyx.proto.mime.addresses import Address, parse_address_list
from mesyx.proto.mime.bodystructure import encode_body_structure
from mesyx.proto.mime.convert import encode_binary_parts, with_transfer_encoding
from mesyx.proto.mime.envelope import Envelope, encode_envelope, envelope_from_header
from mesyx.proto.mime.headers import Field, HeaderBlock
from mesyx.proto.mime.message import ParsedMessage, format_internal_date, search_text
from mesyx.proto.mime.sections import binary_bytes, partial, resolve_part, section_bytes
from mesyx.proto.mime.structure import MimePart, PartKind, parse_structure
from mesyx.proto.mime.text import decode_words, fold
from mesyx.proto.mime.transfer import UnknownTransferEncoding, decode_transfer

__all__ = [
    "Address",
    "Envelope",
    "Field",
    "HeaderBlock",
    "MimePart",
    "ParsedMessage",
    "PartKind",
    "UnknownTransferEncoding",
    "binary_bytes",
    "decode_transfer",
    "decode_words",
    "encode_binary_parts",
    "encode_body_structure",
    "encode_envelope",
    "envelope_from_header",
    "fold",
    "format_internal_date",
    "parse_address_list",
    "parse_structure",
    "partial",
    "resolve_part",
    "search_text",
    "section_bytes",
    "with_transfer_encoding",
]
