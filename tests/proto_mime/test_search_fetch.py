"""Decoded text for SEARCH, the FETCH item bridge, sizes and dates."""

from __future__ import annotations

import datetime

import pytest

from mesyx.proto.imap.fetch import (
    FetchBinary,
    FetchBinarySize,
    FetchBody,
    FetchItem,
    Partial,
    Section,
    SectionText,
    response_name,
)
from mesyx.proto.imap.message import fetch_value, needs_message, sets_seen
from mesyx.proto.imap.responses import fetch_response
from mesyx.proto.imap.values import Literal, Raw
from mesyx.proto.mime import ParsedMessage, UnknownTransferEncoding, decode_words, format_internal_date, search_text
from tests.proto_mime.corpus import EIGHT_BIT_HEADERS, FORWARD, LATIN1_HEADERS, NESTED, crlf


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"plain", "plain"),
        (b"=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße"),
        (b"=?iso-8859-1?q?caf=E9_au_lait?=", "café au lait"),
        (b"=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab"),
        (b"=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?= c", "ab c"),
        (b"x =?UTF-8?Q?a?= y", "x a y"),
        (b"=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=", "éé"),
        (b"=?UTF-8?B?4oK=?==?UTF-8?B?rA==?=", "€"),  # a character split across two words
        (b"=?x-unknown?Q?abc?=", "abc"),
        (b"=?rot13?Q?abc?=", "abc"),
        (b"=?utf-8*en?Q?lang?=", "lang"),
        (b"=?UTF-8?Q?broken", "=?UTF-8?Q?broken"),
        ("naïve".encode(), "naïve"),
        (b"na\xefve", "naïve"),
    ],
)
def test_decode_words(value: bytes, expected: str) -> None:
    assert decode_words(value) == expected


def test_search_text_headers_and_body() -> None:
    msg = ParsedMessage(FORWARD)
    assert msg.search_text("subject") == "Grüße and café continued"
    assert msg.search_text("FROM") == "Alïce <alice@example.org>"
    assert msg.search_text("x-nothing") is None
    body = msg.search_text("body")
    assert body is not None
    assert "Grüße aus Köln, see attached. More text." in body
    assert "<b>world</b>" in body
    assert "Olé, secret word: zanzibar" in body  # the forwarded message, QP and Latin-1
    assert "Subject: inner" in body  # its header is part of the outer body
    assert "JVBERi0" not in body  # not text
    text = msg.search_text("text")
    assert text is not None and "Message-ID: <fwd-1@example.org>" in text and "zanzibar" in text
    assert msg.matches("body", "GRÜSSE AUS")  # casefold: ß is ss
    assert msg.matches("body", "grüße   AUS köln")
    assert msg.matches("subject", "CAFÉ")
    assert not msg.matches("x-nothing", "")
    assert msg.matches("subject", "")


def test_search_text_8bit_headers() -> None:
    assert search_text(EIGHT_BIT_HEADERS, "subject") == "Grüße"
    assert search_text(LATIN1_HEADERS, "subject") == "Grüße"
    assert search_text(LATIN1_HEADERS, "from") == "Jörg <j@example.de>"


def test_search_body_of_broken_parts() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=nonsense\n"
        "Content-Transfer-Encoding: x-weird\n\nstill searchable\n--b\nContent-Type: text/plain; charset=utf-16\n"
        "Content-Transfer-Encoding: base64\n\n//5oAGkA\n--b--\n"
    )
    body = search_text(raw, "body")
    assert body is not None and "still searchable" in body and "hi" in body


def test_imaptest_search_header_semantics() -> None:
    first = ParsedMessage(crlf("Subject: hello beautiful world\n\nbody\n"))
    second = ParsedMessage(crlf("X-Extra: hello beautiful header\nX-Extra: another one\n\nbody\n"))
    assert first.matches("subject", "eautiful worl")
    assert first.matches("subject", "") and not second.matches("subject", "")
    assert second.matches("x-extra", "another") and second.matches("x-extra", "eautiful head")
    assert not first.matches("x-extra", "")


def test_sent_date() -> None:
    msg = ParsedMessage(crlf("Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n\n"))
    assert msg.sent_date == datetime.datetime(
        1996, 7, 17, 2, 23, 25, tzinfo=datetime.timezone(datetime.timedelta(hours=-7))
    )
    assert ParsedMessage(b"Date: yesterday\r\n\r\n").sent_date is None
    assert ParsedMessage(b"\r\n").sent_date is None


def test_internal_date_and_size() -> None:
    tz = datetime.timezone(datetime.timedelta(hours=-7))
    assert format_internal_date(datetime.datetime(1996, 7, 17, 2, 44, 25, tzinfo=tz)) == "17-Jul-1996 02:44:25 -0700"
    assert format_internal_date(datetime.datetime(2026, 1, 2, 3, 4, 5)) == "02-Jan-2026 03:04:05 +0000"
    assert ParsedMessage(NESTED).size == len(NESTED)


def test_fetch_body_peek_needs_no_parse() -> None:
    msg = ParsedMessage(NESTED)
    value = fetch_value(msg, FetchBody(peek=True))
    assert value == Literal(NESTED)
    assert "structure" not in msg.__dict__ and "header" not in msg.__dict__
    assert fetch_value(msg, FetchItem.RFC822_SIZE) == len(NESTED)
    assert "header" not in msg.__dict__
    fetch_value(msg, FetchBody(Section(text=SectionText.HEADER)))
    assert "structure" not in msg.__dict__


def test_fetch_values() -> None:
    msg = ParsedMessage(NESTED)
    body = FetchBody(Section(part=(2,), text=SectionText.HEADER_FIELDS, fields=("From", "Subject")), Partial(0, 6))
    assert fetch_value(msg, body) == Literal(b"From: ")
    assert response_name(body) == "BODY[2.HEADER.FIELDS (From Subject)]<0>"
    assert fetch_value(msg, FetchBody(Section(part=(9,)))) == Literal(b"")
    assert fetch_value(msg, FetchBody(Section(part=(1,), text=SectionText.MIME))) == Literal(
        b"Content-Type: text/x-myown; charset=us-ascii\r\n\r\n"
    )
    assert fetch_value(msg, FetchBody(Section(part=(1,)), Partial(100, 5))) == Literal(b"")
    envelope = fetch_value(msg, FetchItem.ENVELOPE)
    assert isinstance(envelope, Raw) and envelope.data.startswith(b'("Sat, 24 Mar 2007')
    structure = fetch_value(msg, FetchItem.BODYSTRUCTURE)
    assert isinstance(structure, Raw) and structure.data.endswith(b'"mixed" ("boundary" "foo bar") NIL NIL NIL)')
    assert fetch_value(msg, FetchItem.RFC822_TEXT) == Literal(NESTED[NESTED.index(b"Root MIME") :])
    assert fetch_value(msg, FetchItem.RFC822_HEADER) == Literal(NESTED[: NESTED.index(b"Root MIME")])
    assert fetch_value(msg, FetchBinarySize((2, 1))) == 20
    assert fetch_value(msg, FetchBinarySize((7,))) == 0
    line = fetch_response(3, [("BODY", fetch_value(msg, FetchItem.BODY)), ("RFC822.SIZE", msg.size)])
    assert line.startswith(b'* 3 FETCH (BODY (("text" "x-myown"') and line.endswith(b" RFC822.SIZE 602)\r\n")
    with pytest.raises(ValueError):
        fetch_value(msg, FetchItem.FLAGS)


def test_fetch_binary_literal8_for_nul() -> None:
    raw = crlf("Content-Transfer-Encoding: base64\n\nAGE=\n")
    msg = ParsedMessage(raw)
    assert fetch_value(msg, FetchBinary((1,))) == Literal(b"\x00a", binary=True)
    assert fetch_value(msg, FetchBinary((1,), Partial(1, 1))) == Literal(b"a", binary=False)
    bad = ParsedMessage(crlf("Content-Transfer-Encoding: x-foo\n\nzz\n"))
    with pytest.raises(UnknownTransferEncoding):
        fetch_value(bad, FetchBinary((1,)))


def test_needs_message_and_seen() -> None:
    assert not needs_message(FetchItem.FLAGS) and not needs_message(FetchItem.UID)
    assert needs_message(FetchItem.ENVELOPE) and needs_message(FetchBody())
    assert sets_seen(FetchBody()) and not sets_seen(FetchBody(peek=True))
    assert sets_seen(FetchItem.RFC822) and not sets_seen(FetchItem.RFC822_HEADER)
    assert sets_seen(FetchBinary()) and not sets_seen(FetchBinarySize())
