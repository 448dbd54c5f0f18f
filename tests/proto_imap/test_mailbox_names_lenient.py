"""Looked-up mailbox names that are not modified UTF-7 are taken literally (RFC 3501
section 5.1.3 defines the encoding; Dovecot reads LIST patterns this way)."""

from __future__ import annotations

import pytest

from mesyx.proto.imap.errors import MailboxNameError
from mesyx.proto.imap.utf7 import decode_mailbox_name, decode_mailbox_name_or_literal


@pytest.mark.parametrize(
    ("wire", "name"),
    [
        ("Entw&APw-rfe", "Entwürfe"),  # valid: decoded
        ("R&-D", "R&D"),
        ("R&D", "R&D"),  # unterminated shift: literal
        ("!#$&'+,-.0123456789:;<=>?@^_`|[}", "!#$&'+,-.0123456789:;<=>?@^_`|[}"),  # imaptest atoms
        ("Entw&AGE-rfe", "Entw&AGE-rfe"),  # non-canonical: literal
    ],
)
def test_literal_when_not_valid(wire: str, name: str) -> None:
    assert decode_mailbox_name_or_literal(wire) == name


def test_strict_decoding_is_unchanged() -> None:
    with pytest.raises(MailboxNameError):
        decode_mailbox_name("R&D")
