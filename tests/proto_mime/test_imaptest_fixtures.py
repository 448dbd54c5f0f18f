"""The FETCH expectations of Dovecot's imaptest scripts (fetch-body*, fetch-binary*, fetch-envelope, ...).

Each message is imaptest's fixture with CRLF line ends; each expected value is what the
script demands of a compliant server (and what Dovecot 2.3 answers).
"""

from __future__ import annotations

import pytest

from mesyx.proto.mime import ParsedMessage
from tests.proto_mime.corpus import (
    BASE64_PARTS,
    DIGEST,
    ENVELOPES,
    ENVELOPES_EXPECTED,
    NESTED,
    QP_PART,
    RFC822_X2,
    crlf,
)


def test_fetch_bodystructure_folded_boundary() -> None:
    raw = crlf(
        "From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="foo\n bar"\n\n'
        "--foo bar\nContent-Type: text/x-myown; charset=us-ascii\n\nhello\n\n--foo bar--\n"
    )
    msg = ParsedMessage(raw)
    assert (
        msg.body_structure(extended=False) == b'(("text" "x-myown" ("charset" "us-ascii") NIL NIL "7bit" 7 1) "mixed")'
    )


@pytest.mark.parametrize("index", range(len(ENVELOPES)))
def test_fetch_envelope(index: int) -> None:
    assert ParsedMessage(ENVELOPES[index]).envelope_wire() == ENVELOPES_EXPECTED[index]


SUB = crlf(
    """From: sub@domain.org
Date: Sun, 12 Aug 2012 12:34:56 +0300
Subject: submsg
Content-Type: multipart/alternative; boundary="sub1"

Sub MIME prologue
--sub1
Content-Type: text/html

<p>Hello world</p>

--sub1
Content-Type: text/plain

Hello another world

--sub1--
Sub MIME epilogue
"""
)


@pytest.mark.parametrize(
    ("path", "text", "fields", "expected"),
    [
        ((), None, (), NESTED),
        ((), "TEXT", (), NESTED[NESTED.index(b"Root MIME prologue") :]),
        ((1,), None, (), b"hello\r\n"),
        ((1,), "MIME", (), b"Content-Type: text/x-myown; charset=us-ascii\r\n\r\n"),
        ((2,), None, (), SUB),
        ((2,), "MIME", (), b"Content-Type: message/rfc822\r\n\r\n"),
        ((2,), "HEADER", (), SUB[: SUB.index(b"Sub MIME")]),
        ((2,), "HEADER.FIELDS", ("from", "subject", "X-foo"), b"From: sub@domain.org\r\nSubject: submsg\r\n\r\n"),
        (
            (2,),
            "HEADER.FIELDS.NOT",
            ("from", "subject", "X-foo"),
            b'Date: Sun, 12 Aug 2012 12:34:56 +0300\r\nContent-Type: multipart/alternative; boundary="sub1"\r\n\r\n',
        ),
        ((2,), "TEXT", (), SUB[SUB.index(b"Sub MIME") :]),
        ((2, 1), "MIME", (), b"Content-Type: text/html\r\n\r\n"),
        ((2, 1), None, (), b"<p>Hello world</p>\r\n"),
        ((2, 2), "MIME", (), b"Content-Type: text/plain\r\n\r\n"),
        ((2, 2), None, (), b"Hello another world\r\n"),
    ],
)
def test_fetch_body_mime(path: tuple[int, ...], text: str | None, fields: tuple[str, ...], expected: bytes) -> None:
    assert ParsedMessage(NESTED).section(path, text, fields) == expected  # type: ignore[arg-type]


INNER = crlf("From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\nHello world\n")


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ((), "TEXT", INNER),
        ((1,), None, INNER),
        ((1, 1), None, b"Hello world\r\n"),
        ((1,), "HEADER", INNER[: INNER.index(b"Hello")]),
        ((1,), "TEXT", b"Hello world\r\n"),
    ],
)
def test_fetch_body_message_rfc822(path: tuple[int, ...], text: str | None, expected: bytes) -> None:
    raw = (
        crlf(
            "From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\n"
            "Content-Type: message/rfc822\n\n"
        )
        + INNER
    )
    assert ParsedMessage(raw).section(path, text) == expected  # type: ignore[arg-type]
    fields = ParsedMessage(raw).section((1,), "HEADER.FIELDS.NOT", ("from", "subject", "X-foo"))
    assert fields == b"Date: Sun, 12 Aug 2012 12:34:56 +0300\r\n\r\n"


def test_fetch_body_message_rfc822_x2() -> None:
    msg = ParsedMessage(RFC822_X2)
    middle = RFC822_X2[RFC822_X2.index(b"From: user2") :]
    inner = RFC822_X2[RFC822_X2.index(b"From: sub") :]
    assert msg.section((), "TEXT") == middle
    assert msg.section((1,)) == middle
    assert msg.section((1, 1)) == inner
    assert msg.section((1,), "HEADER") == middle[: middle.index(b"From: sub")]
    assert msg.section((1,), "TEXT") == inner
    assert msg.section((1, 1, 1)) == b"Hello world\r\n"
    assert msg.section((1, 1), "HEADER") == inner[: inner.index(b"Hello")]
    assert msg.section((1, 1), "TEXT") == b"Hello world\r\n"


def test_fetch_body_message_rfc822_digest() -> None:
    msg = ParsedMessage(DIGEST)
    m1 = crlf("From: m1@example.com\nSubject: m1\n\nm1 body\n")
    m2 = crlf("From: m2@example.com\nSubject: m2\n\nm2 body\n")
    assert msg.section((1, 1)) == m1
    assert msg.section((1, 1), "MIME") == b"\r\n"
    assert msg.section((1, 1), "HEADER") == m1[: m1.index(b"m1 body")]
    assert msg.section((1, 1), "TEXT") == b"m1 body\r\n"
    assert msg.section((1, 2)) == m2
    assert msg.section((1, 2), "MIME") == b"X-Mime: m2 header\r\n\r\n"
    assert msg.section((1, 2), "HEADER") == m2[: m2.index(b"m2 body")]
    assert msg.section((1, 2), "TEXT") == b"m2 body\r\n"
    # Parts of a digest without Content-Type are message/rfc822 (RFC 2046 section 5.1.5).
    assert msg.body_structure(extended=False).count(b'"message" "rfc822"') == 3


def test_fetch_binary_mime_unconverted() -> None:
    msg = ParsedMessage(NESTED)
    assert msg.binary(()) == NESTED
    assert msg.binary_size(()) == len(NESTED)
    assert msg.binary((1,)) == b"hello\r\n"
    assert msg.binary_size((1,)) == 7
    assert msg.binary((2,)) == SUB
    assert msg.binary_size((2,)) == 298
    assert msg.binary((2, 1)) == b"<p>Hello world</p>\r\n"
    assert msg.binary_size((2, 1)) == 20
    assert msg.binary_size((2, 2)) == 21


def test_fetch_binary_mime_base64() -> None:
    msg = ParsedMessage(BASE64_PARTS)
    assert msg.binary((1,)) == b"hello world"
    assert msg.binary((2,)) == b"hello world"
    assert msg.binary((3,)) == b"hello to you too"
    assert msg.binary((4,)) == b"hello to everyone!"
    assert msg.binary((5,)) == b"abcdefg\rhijkl\r\nmno\npqrstuvqxyz"
    assert [msg.binary_size((i,)) for i in range(1, 6)] == [11, 11, 16, 18, 30]


def test_fetch_binary_mime_qp() -> None:
    msg = ParsedMessage(QP_PART)
    expected = b"hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\nfoo b\r\nfoo\r\nbar\r\nfoo_bar\r\n"
    assert msg.binary((1,)) == expected
    assert msg.binary_size((1,)) == 65
