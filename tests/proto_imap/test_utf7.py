"""Modified UTF-7 mailbox names (RFC 3501 section 5.1.3): examples, strictness, round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesyx.errors import UsageError
from mesyx.proto.imap.errors import MailboxNameError
from mesyx.proto.imap.utf7 import decode_mailbox_name, encode_mailbox_name


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("", ""),
        ("INBOX", "INBOX"),
        ("a&b", "a&-b"),
        ("&", "&-"),
        ("&&", "&-&-"),
        # RFC 3501 section 5.1.3's example.
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("Gelöschte Elemente", "Gel&APY-schte Elemente"),
        ("😀", "&2D3eAA-"),
        ("tab\there", "tab&AAk-here"),
        ("ü&", "&APw-&-"),
    ],
)
def test_examples(text: str, wire: str) -> None:
    assert encode_mailbox_name(text) == wire
    assert decode_mailbox_name(wire) == text
    assert decode_mailbox_name(wire.encode("ascii")) == text


@pytest.mark.parametrize(
    "wire",
    [
        "&",  # unterminated
        "&U,BTFw",  # unterminated
        "&AGE-",  # "a" shifted: printable ASCII must be direct
        "&APw-&APw-",  # two adjacent shifted sequences must be one
        "&APx-",  # non-zero padding bits
        "&A-",  # truncated base64
        "&AP-",  # odd number of UTF-16 octets
        "&2D0-",  # lone high surrogate
        "&3gA-",  # lone low surrogate
        "&AP/w-",  # "/" is not modified base64
        "&APw=-",  # no padding in modified base64
        "a\tb",  # control characters are never direct
        "caf\xe9",  # 8-bit
        "&,,,,-",  # three octets: odd number of UTF-16 octets
    ],
)
def test_refuses_non_canonical(wire: str) -> None:
    with pytest.raises(MailboxNameError) as info:
        decode_mailbox_name(wire)
    assert isinstance(info.value, UsageError)


def test_refuses_8bit_bytes() -> None:
    with pytest.raises(MailboxNameError):
        decode_mailbox_name("Entwürfe".encode())


def test_lone_surrogate_cannot_be_encoded() -> None:
    with pytest.raises(MailboxNameError):
        encode_mailbox_name("a\ud800b")


@given(st.text())
def test_round_trip_any_text(text: str) -> None:
    wire = encode_mailbox_name(text)
    assert wire.isascii() and all(0x20 <= ord(c) <= 0x7E for c in wire)
    assert decode_mailbox_name(wire) == text


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
def test_decode_is_strict_inverse(wire: str) -> None:
    """Any printable ASCII string either fails to decode or is the encoding of what it decodes to."""
    try:
        text = decode_mailbox_name(wire)
    except MailboxNameError:
        return
    assert encode_mailbox_name(text) == wire
