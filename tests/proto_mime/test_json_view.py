"""The reader's view of a message (mesyx.proto.mime.json_view): what REST's message JSON holds."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesyx.errors import NotFound
from mesyx.proto.mime.json_view import part_content, view

PDF = b"%PDF-1.4 not really\n"

MIXED = (
    b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\n"
    b"To: rita@mesyx.test\r\n"
    b"Subject: =?utf-8?b?R3LDvMOfZQ==?= and the report\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"preamble\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="alt"\r\n'
    b"\r\n"
    b"--alt\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=FC=DFe\r\n"
    b"--alt\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Gr\xc3\xbc\xc3\x9fe</p>\r\n"
    b"--alt--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + base64.encodebytes(PDF).replace(b"\n", b"\r\n") +
    b"--outer\r\n"
    b'Content-Type: text/plain; name="=?utf-8?q?notes_=C3=A0_lire.txt?="\r\n'
    b"\r\n"
    b"see attached\r\n"
    b"--outer--\r\n"
)


def test_a_mixed_message_shows_its_alternatives_and_lists_its_attachments() -> None:
    shown = view(MIXED)
    assert shown.subject == "Grüße and the report"
    assert shown.from_ == "Jürgen <j@example.org>"
    assert shown.to == "rita@mesyx.test" and shown.message_id == "<1@example.org>"
    assert shown.text is not None and shown.text.strip() == "Grüße"  # quoted-printable, Latin-1
    assert shown.html is not None and "<p>Grüße</p>" in shown.html
    assert [(a.part, a.content_type, a.filename, a.disposition) for a in shown.attachments] == [
        ("2", "application/pdf", "résumé.pdf", "attachment"),
        ("3", "text/plain", "notes à lire.txt", None),  # a named text part is a file, not the body
    ]
    assert ("subject", "Grüße and the report") in shown.headers


def test_part_content_gives_the_decoded_bytes_back() -> None:
    assert part_content(MIXED, "2") == ("application/pdf", PDF)
    kind, data = part_content(MIXED, "1.1")
    assert kind == "text/plain" and data.strip() == b"Gr\xfc\xdfe"
    for missing in ("9", "1.7", "0", "", "x", "1..2", "1"):  # "1" is a multipart: nothing to download
        with pytest.raises(NotFound):
            part_content(MIXED, missing)


def test_a_plain_message_is_its_text() -> None:
    shown = view(b"Subject: hi\r\n\r\nhello\r\n")
    assert shown.text == "hello\r\n" and shown.html is None and shown.attachments == ()
    assert part_content(b"Subject: hi\r\n\r\nhello\r\n", "1") == ("text/plain", b"hello\r\n")


def test_a_message_that_is_one_file_lists_it() -> None:
    raw = b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"PNG")
    shown = view(raw)
    assert shown.text is None and [(a.part, a.content_type) for a in shown.attachments] == [("1", "image/png")]
    assert part_content(raw, "1") == ("image/png", b"PNG")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_give_a_view(raw: bytes) -> None:
    shown = view(raw)
    for attachment in shown.attachments:
        part_content(raw, attachment.part)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(MIXED)), st.binary(max_size=40))
def test_a_damaged_message_still_gives_a_view(at: int, junk: bytes) -> None:
    raw = MIXED[:at] + junk + MIXED[at + len(junk):]
    shown = view(raw)
    for attachment in shown.attachments:
        part_content(raw, attachment.part)
