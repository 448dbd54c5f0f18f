"""The message as SIEVE tests see it (RFC 5228 sections 2.7.2 and 2.7.4, RFC 5173 section 5)."""

from __future__ import annotations

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from mesyx.proto.mime import parse_address_list
from mesyx.sieve.environment import DAY, Environment, SieveEnvelope
from mesyx.sieve.message import MailAddress, SieveMessage, html_text, split_address

RAW = (
    b'From: "Coyote, W." <coyote@desert.example.org>\r\n'
    b"To: friends: roadrunner@acme.example.com, bugs@warner.example;, root\r\n"
    b"Cc: undisclosed-recipients:;\r\n"
    b"Subject: =?UTF-8?B?w6l0w6k=?= =?UTF-8?Q?_is_here?=\r\n"
    b" and folded\r\n"
    b"X-Caffeine: C8H10N4O2\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/alternative; boundary=b1\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=E9 au lait\r\n"
    b"--b1\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<p>Hello &amp; <b>welcome</b></p><script>evil()</script>\r\n"
    b"--b1\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"aGVsbG8gYmluYXJ5\r\n"
    b"--b1--\r\n"
)


def test_headers_unfolded_and_decoded() -> None:
    msg = SieveMessage.parse(RAW)
    assert msg.header("subject") == ("été is here and folded",)
    assert msg.header("X-CAFFEINE") == ("C8H10N4O2",)
    assert msg.header("missing") == ()
    assert SieveMessage.parse(b"Subject: caf\xe9\r\n\r\n").header("subject") == ("caf\ufffd",)
    assert msg.has("x-caffeine") and not msg.has("missing")
    assert msg.size == len(RAW)


def test_addresses_groups_and_missing_domain() -> None:
    msg = SieveMessage.parse(RAW)
    assert msg.addresses("from") == (MailAddress("coyote", "desert.example.org"),)
    # The invalid "root" is dropped beside valid addresses, and alone is one invalid address.
    assert msg.addresses("to") == (
        MailAddress("roadrunner", "acme.example.com"),
        MailAddress("bugs", "warner.example"),
    )
    assert msg.addresses("cc") == ()
    lone = SieveMessage.parse(b"To: root\r\nCc: <unclosed@example.org\r\nBcc:\r\n\r\n")
    assert lone.addresses("to") == (MailAddress("root", None),)
    assert lone.addresses("cc") == (MailAddress("<unclosed@example.org", None),)
    assert lone.addresses("bcc") == (MailAddress("", None),)
    assert MailAddress("root", None).all == "root" and not MailAddress("root", None).valid


def test_body_transforms() -> None:
    msg = SieveMessage.parse(RAW)
    assert msg.body_raw(1 << 20).startswith("preamble\r\n--b1\r\n")
    assert msg.body_raw(8) == "preamble"
    text = msg.body_parts(None, 1 << 20)
    assert text[0] == "café au lait"
    assert "Hello & " in text[1] and "welcome" in text[1] and "evil" not in text[1]
    assert len(text) == 2
    assert msg.body_parts(["application"], 1 << 20) == ("hello binary",)
    assert msg.body_parts(["text/html"], 1 << 20)[0].startswith("<p>")
    # "" is every part, and a multipart's text outside its parts (RFC 5173 section 5.2).
    assert msg.body_parts([""], 1 << 20)[0] == "preamble"
    assert len(msg.body_parts([""], 1 << 20)) == 4


def test_body_of_a_plain_message() -> None:
    msg = SieveMessage.parse(b"Subject: x\n\nJust text\n")
    assert msg.body_parts(None, 100) == ("Just text\n",)
    assert msg.body_parts(["text/plain"], 100) == ("Just text\n",)


def test_html_text_entities() -> None:
    assert html_text("a&lt;b &#233;&#x41;") == "a<b éA"


def test_split_address() -> None:
    assert split_address("a@b@c.example") == MailAddress("a@b", "c.example")
    assert split_address("") == MailAddress("", None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_garbage_never_raises(raw: bytes) -> None:
    msg = SieveMessage.parse(raw)
    for name in ("from", "to", "subject", ""):
        msg.header(name)
        msg.addresses(name)
    msg.body_raw(100)
    msg.body_parts(None, 500)
    msg.body_parts(["", "text"], 500)


def test_environment_defaults_and_checks() -> None:
    env = Environment(hostname="mx.example", addresses=("Ken@Example.org",), mailboxes=frozenset({"Lists"}))
    assert env.now.tzinfo is not None
    assert env.mailbox_exists("inbox") and env.mailbox_exists("Lists") and not env.mailbox_exists("lists")
    assert not Environment(mailboxes=None).mailbox_exists("Lists")
    assert env.vacation_period(None) == 7 * DAY
    assert env.vacation_period(60) == DAY
    assert env.vacation_period(365 * DAY) == 90 * DAY
    assert SieveEnvelope("a@b", "c@d").auth is None
    assert isinstance(Environment().now, datetime.datetime)


_MAILBOX_BYTES = st.lists(st.sampled_from(list(b"aZ09 .-_<>@+\t!#\"(),:;")), max_size=40).map(bytes)


@settings(max_examples=500, deadline=None)
@given(_MAILBOX_BYTES)
def test_the_simple_mailbox_fast_path_agrees_with_the_parser(value: bytes) -> None:
    """``local@domain`` and ``Name <local@domain>`` skip the RFC 5322 parser: same answer."""
    from mesyx.sieve import message

    fast = message._SIMPLE_MAILBOX.fullmatch(value) or message._SIMPLE_NAME_ADDR.fullmatch(value)
    if fast is None:
        return
    parsed = [a for a in parse_address_list(value) if a.host is not None and a.mailbox is not None]
    assert message._addresses(value) == tuple(
        message.MailAddress(a.mailbox.decode(), a.host.decode()) for a in parsed)
