"""ENVELOPE and BODY/BODYSTRUCTURE: RFC 3501 section 7.4.2's examples and the extension data."""

from __future__ import annotations

import pytest

from mesyx.proto.mime import ParsedMessage, parse_address_list
from mesyx.proto.mime.addresses import Address
from tests.proto_mime.corpus import (
    EIGHT_BIT_HEADERS,
    FORWARD,
    RFC3501_BODY,
    RFC3501_ENVELOPE,
    RFC3501_MULTIPART_BODY,
    crlf,
    rfc3501_multipart,
    rfc3501_plain,
)
from tests.proto_mime.sexp import parse_sexp


def test_rfc3501_fetch_example() -> None:
    msg = ParsedMessage(rfc3501_plain())
    assert msg.envelope_wire() == RFC3501_ENVELOPE
    assert msg.body_structure(extended=False) == RFC3501_BODY
    assert msg.body_structure() == RFC3501_BODY[:-1] + b" NIL NIL NIL NIL)"


def test_rfc3501_multipart_example() -> None:
    msg = ParsedMessage(rfc3501_multipart())
    assert msg.body_structure(extended=False) == RFC3501_MULTIPART_BODY


def test_forward_bodystructure() -> None:
    msg = ParsedMessage(FORWARD)
    tree = parse_sexp(msg.body_structure())
    alternative, pdf, forwarded, subtype, params, disposition, language, location = tree
    assert subtype == b"mixed" and params == [b"boundary", b"==outer=="]
    assert disposition is None and language == [b"en", b"de"] and location is None
    assert alternative[-5:] == [b"alternative", [b"boundary", b"==alt=="], None, None, None]
    plain = alternative[0]
    assert plain[:6] == [b"text", b"plain", [b"charset", b"utf-8"], None, None, b"quoted-printable"]
    assert plain[6] == len(b"Gr=C3=BC=C3=9Fe aus K=C3=B6ln, see attached.=\r\n More text.")
    assert plain[7] == 1
    # application/pdf: RFC 2231 continuations joined, the extended filename kept encoded.
    assert pdf[:7] == [b"application", b"pdf", [b"name", b"report.pdf"], None, None, b"base64", 28]
    assert pdf[7:] == [
        b"Q2hlY2sgSW50ZWdyaXR5IQ==",
        [b"attachment", [b"filename*", b"utf-8''r%C3%A9sum%C3%A9.pdf"]],
        None,
        b"http://example.org/report.pdf",
    ]
    # message/rfc822: type, params, id, description, encoding, size, envelope, body, lines, then extensions.
    assert forwarded[:5] == [b"message", b"rfc822", None, None, None]
    assert forwarded[5] == b"7bit"
    envelope, body, lines = forwarded[7], forwarded[8], forwarded[9]
    assert envelope[1] == b"inner" and envelope[2] == [[b"Dave", None, b"dave", b"example.com"]]
    assert body[:6] == [b"text", b"plain", [b"charset", b"iso-8859-1"], None, None, b"quoted-printable"]
    assert lines == 6
    assert forwarded[10:] == [None, [b"inline", None], None, None]


def test_body_is_bodystructure_without_extensions() -> None:
    msg = ParsedMessage(FORWARD)
    body = parse_sexp(msg.body_structure(extended=False))
    assert body[-1] == b"mixed"
    assert len(body[1]) == 7  # basic part: no extension data
    assert len(body[2]) == 10  # message/rfc822 without extensions


def test_envelope_keeps_encoded_words_and_quotes() -> None:
    env = parse_sexp(ParsedMessage(FORWARD).envelope_wire())
    assert env[1] == b"=?UTF-8?B?R3LDvMOfZQ==?= and =?ISO-8859-1?Q?caf=E9?= continued"
    assert env[2] == [[b"=?UTF-8?Q?Al=C3=AFce?=", None, b"alice", b"example.org"]]
    assert env[5] == [[b"Bob, the builder", None, b"bob", b"example.net"], [None, None, b"carol", b"example.com"]]
    assert env[9] == b"<fwd-1@example.org>"


def test_envelope_8bit_goes_as_literal_or_utf8_quoted() -> None:
    msg = ParsedMessage(EIGHT_BIT_HEADERS)
    wire = msg.envelope_wire()
    assert b"{7}\r\nGr\xc3\xbc\xc3\x9fe" in wire
    assert parse_sexp(wire)[1] == "Grüße".encode()
    assert b'"Gr\xc3\xbc\xc3\x9fe"' in msg.envelope_wire(utf8=True)


def test_envelope_nul_and_whitespace() -> None:
    raw = b"Subject:   a\x00b \t c  \r\n\t  d  \r\nFrom: x@y\r\n\r\n"
    env = parse_sexp(ParsedMessage(raw).envelope_wire())
    assert env[1] == b"a\x80b c d"


def test_envelope_merges_repeated_address_fields() -> None:
    raw = b"From: a@x\r\nFrom: b@y\r\nSubject: one\r\nSubject: two\r\n\r\n"
    env = parse_sexp(ParsedMessage(raw).envelope_wire())
    assert env[1] == b"one"
    assert env[2] == [[None, None, b"a", b"x"], [None, None, b"b", b"y"]]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"a@b", [Address(None, None, b"a", b"b")]),
        (b'"Doe, John" <j@d>', [Address(b"Doe, John", None, b"j", b"d")]),
        (b"John Q. Public <jqp@x.y>", [Address(b"John Q. Public", None, b"jqp", b"x.y")]),
        (b"<@r1,@r2:u@d>", [Address(None, b"@r1,@r2", b"u", b"d")]),
        (b"u@d (Real (nested) Name)", [Address(b"Real (nested) Name", None, b"u", b"d")]),
        (b'"quoted local"@d', [Address(None, None, b"quoted local", b"d")]),
        (b"just a name", [Address(b"just a name", None, b"MISSING_MAILBOX", b"MISSING_DOMAIN")]),
        (b"localonly", [Address(None, None, b"localonly", b"MISSING_DOMAIN")]),
        (b"<>", [Address(None, None, b"MISSING_MAILBOX", b"MISSING_DOMAIN")]),
        (b"a@b,,  , c@d,", [Address(None, None, b"a", b"b"), Address(None, None, b"c", b"d")]),
        (
            b"undisclosed-recipients:;",
            [Address(None, None, b"undisclosed-recipients", None), Address(None, None, None, None)],
        ),
        (
            b"g: a@b",  # group never closed
            [Address(None, None, b"g", None), Address(None, None, b"a", b"b"), Address(None, None, None, None)],
        ),
        (b"Name <u@d", [Address(b"Name", None, b"u", b"d")]),
        (b'"unclosed <u@d>', [Address(None, None, b"unclosed <u@d>", b"MISSING_DOMAIN")]),
        (b"u@[127.0.0.1]", [Address(None, None, b"u", b"[127.0.0.1]")]),
        (b"", []),
    ],
)
def test_address_lists(value: bytes, expected: list[Address]) -> None:
    assert parse_address_list(value) == expected


def test_address_list_limit() -> None:
    value = b", ".join(b"u%d@d" % i for i in range(20_000))
    assert len(parse_address_list(value)) <= 10_001


def test_group_markers_are_never_forged_by_broken_addresses() -> None:
    for value in (b"@", b"a@", b"@b", b"<@>", b"()", b"a b c", b"<a>", b":;", b";", b"x:"):
        for addr in parse_address_list(value):
            if addr.host is None:
                # Only real group syntax yields a NIL host.
                assert b":" in value


def test_extension_fields() -> None:
    raw = crlf(
        "Content-Type: text/plain; format=flowed\n"
        "Content-ID: <id@x>\nContent-Description: a\n description\n"
        "Content-Transfer-Encoding: 8BIT\nContent-MD5: abc\n"
        "Content-Disposition: INLINE\nContent-Language: (comment) fr\nContent-Location: loc\n\nx\n"
    )
    tree = parse_sexp(ParsedMessage(raw).body_structure())
    assert tree == [
        b"text",
        b"plain",
        [b"format", b"flowed", b"charset", b"us-ascii"],
        b"<id@x>",
        b"a description",
        b"8BIT",
        3,
        1,
        b"abc",
        [b"INLINE", None],
        [b"fr"],
        b"loc",
    ]
